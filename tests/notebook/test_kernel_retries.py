"""A retried task in a real kernel: its live row says "retry 1 of 2 in ..." with the error
(escaped), ``%tasks ID`` shows each attempt's traceback, and a cancel ends the wait."""

from __future__ import annotations

import re

import pytest

from .kernel_client import started

pytestmark = pytest.mark.kernel

SETUP = """
%load_ext backgrounder
from backgrounder import Task, Tasks

def refused():
    raise ConnectionError("<b>refused</b>")
"""


def test_a_retrying_row_in_a_real_kernel() -> None:
    with started(SETUP) as kernel:
        kernel.execute(
            "task = Task(refused).options(name='fetch', retries=2, retry_delay=3600)\n"
            "group = Tasks([task], as_group=True, name='flaky')\n"
            "handle = group.start()"
        )
        # the live row, as the frontend receives it, once the first attempt failed
        row = kernel.read_until(
            lambda m: m["msg_type"] == "comm_msg" and "retry 1 of 2 in " in str(m["content"]),
            timeout=30,
        )
        text = str(row["content"])
        assert "ConnectionError: &lt;b&gt;refused&lt;/b&gt;" in text and "<b>refused" not in text
        assert kernel.value("task.state, task.attempt") == "(<TaskState.RUNNING: 'running'>, 1)"

        view = kernel.execute("%tasks {task.id}")
        html = view.displays[0]["text/html"]
        assert "attempt 1 of 3 failed, and was retried" in html
        assert "raise ConnectionError(&quot;&lt;b&gt;refused&lt;/b&gt;&quot;)" in html
        text = view.displays[0]["text/plain"]
        assert "retry 1 of 2 in" in text
        assert "attempt 1 of 3 failed, and was retried:\nTraceback" in text

        # a cancel ends the wait at once: the handle is done within the cell
        ended = kernel.execute(
            "task.cancel()\n"
            "try:\n    handle.result(10)\nexcept Exception as exc:\n    print(type(exc).__name__)\n"
            "print(task.state.value, task.attempt, task.next_attempt_at)"
        )
        assert ended.stdout == "TaskCancelled\ncancelled 1 None\n"
        final = kernel.read_until(
            lambda m: (
                m["msg_type"] == "update_display_data"
                and "bg-static" in m["content"]["data"].get("text/html", "")
            ),
            timeout=30,
        )
        assert re.search(r'data-state="cancelled"', final["content"]["data"]["text/html"])
