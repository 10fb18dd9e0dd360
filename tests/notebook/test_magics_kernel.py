"""The magics in a real kernel, as a notebook runs them: ``-o NAME`` and what a cell shows."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from .kernel_client import Kernel, started

pytestmark = pytest.mark.kernel

SETUP = """
%load_ext backgrounder
import asyncio, threading
import backgrounder

def add(x, y=2):
    return x + y

async def later(x):
    await asyncio.sleep(0)
    return x

def boom():
    raise ValueError("boom")

gate = threading.Event()
def gated(x):
    gate.wait(30)
    return x
"""


@pytest.fixture(scope="module")
def kernel() -> Iterator[Kernel]:
    with started(SETUP) as kernel:
        yield kernel


def task_in_full(kernel: Kernel) -> str:
    """What ``%tasks ID`` shows of the task of ``h``, as text."""
    shown = kernel.execute(f"%tasks {kernel.value('h.work.id')}")
    return "".join(data["text/plain"] for data in shown.displays)


def test_o_binds_the_result_when_the_task_succeeds(kernel: Kernel) -> None:
    done = kernel.execute("h = %background -o total add 40\nawait h")
    assert done.status == "ok", done.stderr
    assert kernel.value("total") == "42"


def test_o_binds_while_a_cell_awaits_even_for_a_thread_loop_task(kernel: Kernel) -> None:
    # the task ends on the library's loop thread; the kernel's loop binds the result at
    # its next turn: here, the one this very cell awaits (the task has ended by then)
    code = (
        "h = %background --thread-loop -o answer later 7\nawait h\nawait asyncio.sleep(0)\nanswer"
    )
    assert kernel.value(code) == "7"


def test_o_leaves_the_name_alone_on_failure_and_says_so(kernel: Kernel) -> None:
    kernel.execute("outcome = 'before'")
    kernel.execute("h = %background -o outcome boom")
    kernel.execute("try:\n    await h\nexcept ValueError:\n    pass")
    assert kernel.value("outcome") == "'before'"
    text = task_in_full(kernel)
    assert "ValueError: boom (result not bound to outcome)" in text, text


def test_o_on_a_cancelled_task_leaves_the_name_alone(kernel: Kernel) -> None:
    kernel.execute("kept = 'before'\ngate.clear()")
    kernel.execute("h = %background -o kept gated 1")
    kernel.execute("h.cancel()\ngate.set()")
    text = task_in_full(kernel)
    assert "result not bound to kept: cancelled" in text, text
    assert kernel.value("kept") == "'before'"


def test_a_running_row_says_where_the_result_will_go(kernel: Kernel) -> None:
    kernel.execute("gate.clear()")
    kernel.execute("h = %background -o later_value gated 9")
    text = task_in_full(kernel)
    assert "-> later_value when done" in text, text
    kernel.execute("gate.set()\nawait h")
    text = task_in_full(kernel)
    assert "-> later_value = 9" in text and "when done" not in text, text


def test_a_done_row_says_where_the_result_went(kernel: Kernel) -> None:
    kernel.execute("h = %background -o where add 1\nawait h")
    text = task_in_full(kernel)
    assert "-> where = 3" in text, text


def test_a_cell_o_binds_the_cells_last_value(kernel: Kernel) -> None:
    done = kernel.execute("%%background -o cell_value\n6 * 7")
    assert done.status == "ok", done.stderr
    assert kernel.value("await _\ncell_value") == "42"  # _: the handle the cell returned


@pytest.mark.parametrize("name", ["1x", "for", "a.b", "x-y"])
def test_o_needs_a_python_name_and_starts_nothing(kernel: Kernel, name: str) -> None:
    before = kernel.value("len(backgrounder.running_handles())")
    done = kernel.execute(f"%background -o {name} gated 1")
    assert done.status == "error"
    said = done.stderr + done.reply["content"].get("evalue", "")  # type: ignore[index]
    assert f"-o takes the Python name to bind the result to, got `{name}`" in said, said
    assert kernel.value("len(backgrounder.running_handles())") == before


def test_a_cell_ending_in_background_shows_the_table_and_nothing_stale(kernel: Kernel) -> None:
    kernel.execute("gate.clear()")
    shown = kernel.execute("%background --timeout 30 gated 5")
    assert shown.result is None  # no Out[n]
    texts = [data.get("text/plain", "") for data in shown.displays]
    assert len(texts) == 1 and "gated(5)" in texts[0], texts  # the table, which stays live
    assert not any("<Handle" in text for text in texts), texts
    kernel.execute("gate.set()")
