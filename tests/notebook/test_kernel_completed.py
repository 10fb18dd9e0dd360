"""as_completed() and map() in a real kernel: a live table, Interrupt, and `for` refused."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest

from .kernel_client import WIDGET, Kernel, started

pytestmark = pytest.mark.kernel

SETUP = """
%load_ext backgrounder
import asyncio
from backgrounder import Task, Tasks

async def slowish(x):
    await asyncio.sleep(0.02)
    return x * x

def inputs(n):
    yield from range(n)

gate = asyncio.Event()

async def held(x):
    await gate.wait()
    return x
"""


@pytest.fixture(scope="module")
def kernel() -> Iterator[Kernel]:
    with started(SETUP) as kernel:
        yield kernel


def test_a_map_iterated_in_a_cell_shows_a_live_table_with_an_unknown_total(
    kernel: Kernel,
) -> None:
    execution = kernel.execute(
        "m = Tasks.map(slowish, inputs(60), limit=4, name='squares')\n"
        "got = []\n"
        "async for task in m.as_completed():\n"
        "    got.append(task.result)\n"
        "print(sorted(got) == [i * i for i in range(60)], len(m), m.total)"
    )
    assert execution.status == "ok", execution.stderr
    assert execution.stdout == "True 60 60\n"
    assert any(WIDGET in data for data in execution.displays)  # the table, in this cell
    live = " ".join(str(m["content"]) for m in execution.of_type("comm_open", "comm_msg"))
    assert re.search(r">\d+/\?</span>", live), "the live header never said the total is unknown"
    display_id = execution.displays_ids()[0]
    final = [
        m["content"]["data"]["text/html"]
        for m in execution.of_type("update_display_data")
        if m["content"]["transient"]["display_id"] == display_id
    ]
    assert final and ">60/60</span>" in final[-1]  # the static table, before the reply


def test_interrupt_cancels_the_run_the_loop_started(kernel: Kernel) -> None:
    execution = kernel.execute(
        "g = Tasks.map(held, range(6), limit=3, name='held')\n"
        "async for task in g.as_completed():\n"
        "    pass",
        wait=False,
    )
    kernel.read_until(
        lambda m: (
            m["parent_header"].get("msg_id") == execution.msg_id and m["msg_type"] == "display_data"
        )
    )
    kernel.manager.interrupt_kernel()
    kernel.finish(execution, timeout=20)
    assert execution.status == "error"
    errors = execution.of_type("error")
    assert [e["content"]["traceback"] for e in errors] == [["held interrupted: 3 tasks cancelled"]]
    ended = kernel.execute("while g.running:\n    await asyncio.sleep(0.01)\nprint(g.state.value)")
    assert ended.stdout == "cancelled\n"


def test_breaking_out_leaves_the_run_and_its_table_going(kernel: Kernel) -> None:
    execution = kernel.execute(
        "gate.clear()\n"
        "b = Tasks([Task(slowish, 1)] + [Task(held, i) for i in range(3)], as_group=True)\n"
        "async for task in b.as_completed():\n"
        "    break\n"
        "print(task.result, b.running)"
    )
    assert execution.stdout == "1 True\n"
    display_id = execution.displays_ids()[0]
    kernel.execute("gate.set()")
    kernel.read_until(  # the first cell's table ends by itself: static, 4 done
        lambda m: (
            m["msg_type"] == "update_display_data"
            and m["content"]["transient"]["display_id"] == display_id
            and ">4/4</span>" in m["content"]["data"]["text/html"]
        )
    )


def test_plain_for_in_a_cell_is_refused_in_one_line(kernel: Kernel) -> None:
    execution = kernel.execute("for task in Tasks.map(slowish, [1]).as_completed():\n    pass")
    assert execution.status == "error"
    (error,) = execution.of_type("error")
    assert error["content"]["ename"] == "RuntimeError"
    assert "use `async for`" in error["content"]["evalue"]
