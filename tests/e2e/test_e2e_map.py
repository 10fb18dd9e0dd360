"""A Tasks.map with a limit, iterated with as_completed, as a person sees it in JupyterLab.

Its tasks wait for a gate file the test creates once it has seen the live table: tasks
join the table as the inputs are read, and the header says the total is not known yet.
"""

from __future__ import annotations

import pytest
from e2e_lab import Table, expect

pytestmark = pytest.mark.e2e

SETUP = """\
%load_ext backgrounder
import asyncio, pathlib
from backgrounder import Tasks
"""

CELL = """\
def inputs():
    yield from range(30)

async def square(i):
    while not pathlib.Path("go").exists():
        await asyncio.sleep(0.05)
    return i * i

squares = Tasks.map(square, inputs(), limit=4, name="squares of a generator")
got = [task.result async for task in squares.as_completed()]
print(len(got), "results as they arrived; in input order:", squares.results[:5])
"""


def test_a_map_with_a_limit_shows_its_tasks_as_they_join(open_notebook):
    nb = open_notebook("map.ipynb", [SETUP, CELL])
    nb.run_and_wait(0)
    nb.run(1)
    table = Table(nb.output(1))
    table.expect_counts("4 running")  # limit=4: four inputs read, no more
    table.expect_live()
    expect(table.header).to_contain_text("0/?")  # the generator's length is not known
    expect(table.root.locator(Table.ROW)).to_have_count(4)
    nb.screenshot("map-limit-running", table.root)

    nb.open_gate("go")
    nb.wait_done(1)
    table.expect_static()
    table.expect_counts("30 done")
    expect(table.header).to_contain_text("30/30")
    expect(nb.output(1)).to_contain_text("30 results as they arrived; in input order: [0, 1, 4")
    nb.screenshot("map-limit-done", table.root)
