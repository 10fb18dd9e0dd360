"""A retried task's row in JupyterLab: "retry 1 of 2 in ..." with the error, shown as text;
its attempts' tracebacks a click away; its Cancel ends the wait."""

from __future__ import annotations

import pytest
from e2e_lab import Table

pytestmark = pytest.mark.e2e

PRELUDE = """\
%load_ext backgrounder
from backgrounder import Task, Tasks

def refused():
    raise ConnectionError("<b>refused</b>")
"""


def test_a_retrying_row_says_when_and_why_and_opens_its_attempts(open_notebook):
    nb = open_notebook(
        "retries.ipynb",
        [
            PRELUDE,
            "tasks = Tasks(as_group=True, name='flaky')\n"
            "tasks.add_task(refused).options(name='fetch', retries=2, retry_delay=3600)\n"
            "await tasks()",
        ],
    )
    nb.run_and_wait(0)
    nb.run(1)
    table = Table(nb.output(1))
    table.expect_state("fetch", "running")
    table.expect_row("fetch", "retry 1 of 2 in ")
    table.expect_row("fetch", "ConnectionError: <b>refused</b>")  # text, not markup
    table.details("fetch").click()
    table.expect_row("fetch", "attempt 1 of 3 failed, and was retried")
    table.expect_row("fetch", 'raise ConnectionError("<b>refused</b>")')
    nb.screenshot("table-retry", table.root)
    table.cancel("fetch").click()
    table.expect_state("fetch", "cancelled")
    nb.wait_done(1)
    table.expect_static()
    table.details("fetch").click()  # the static row keeps the attempts one click away
    table.expect_row("fetch", "attempt 1 of 3 failed, and was retried")
