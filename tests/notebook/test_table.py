"""The live table without a kernel: a dummy comm records what would go over the wire."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest

import backgrounder
from backgrounder import Task, Tasks, TaskState
from backgrounder._errors import ExceptionGroup
from backgrounder.notebook import table as table_module
from backgrounder.notebook.snapshot import GroupSource, LooseSource
from backgrounder.notebook.table import LiveTable

from .conftest import Wire


def _values(table: LiveTable) -> str:
    return table.header.value + "".join(slot.html.value for slot in table._slots)


def test_thousands_of_tasks_send_a_bounded_number_of_messages(wire: Wire) -> None:
    tasks = Tasks(as_group=True, limit=50)
    for i in range(5000):
        tasks.add_task(asyncio.sleep, 0.0005 * (i % 3), i)
    table = LiveTable(GroupSource(tasks))
    opened = wire.opened
    start = time.monotonic()
    results = asyncio.run(tasks())
    assert table.wait_idle(10)
    elapsed = time.monotonic() - start
    assert results[:3] == [0, 1, 2]
    # creation: a fixed set of widgets for the 50-row window, whatever the group's size
    assert opened <= 3 * table_module.WINDOW_SLOTS + 20
    # then the budget while it runs, plus one full redraw of the window at the end
    budget = table_module.RATE * elapsed + table_module.BURST + 3 * len(table._slots) + 5
    assert len(wire.updates) <= budget, (len(wire.updates), elapsed)
    assert "5000/5000" in table.header.value
    assert "5000 done" in table.header.value


def test_final_state_shows_counts_results_and_errors(wire: Wire) -> None:
    def fail() -> None:
        raise ValueError("broken on purpose")

    tasks = Tasks([Task(lambda: 7).options(name="seven"), Task(fail)], as_group=True)
    table = LiveTable(GroupSource(tasks))
    with pytest.raises(ExceptionGroup):
        asyncio.run(tasks())
    assert table.wait_idle(10)
    text = _values(table)
    assert "1 done" in text and "1 failed" in text
    assert "→ 7" in text
    assert "ValueError: broken on purpose" in text
    assert table.cancel_all.disabled
    assert all(slot.cancel.disabled for slot in table._slots)
    failed = table._slots[1]
    assert not failed.details.disabled
    failed.details.value = True  # what a click in the frontend does
    table.flush()
    assert "Traceback (most recent call last)" in failed.html.value


def test_cancel_buttons_cancel_one_task_or_all(wire: Wire) -> None:
    gate = threading.Event()
    running = threading.Event()

    async def wait(i: int) -> int:
        running.set()
        while not gate.is_set():
            await asyncio.sleep(0.01)
        return i

    tasks = Tasks([Task(wait, i) for i in range(4)], as_group=True)
    table = LiveTable(GroupSource(tasks))
    handle = tasks.start()
    try:
        first = tasks.tasks[0]
        first_done = threading.Event()
        tasks.subscribe(
            lambda e: first_done.set() if e.task is first and first.state.finished else None
        )
        assert running.wait(10)
        table.flush()  # rows get their widgets at the first redraw
        slot = next(slot for slot in table._slots if slot.task is first)
        slot.cancel.click()  # an async task is cancelled at its next await, on its loop
        assert first_done.wait(10)
        assert first.state is TaskState.CANCELLED
        table.cancel_all.click()
        with pytest.raises(backgrounder.TaskCancelled):
            handle.result(10)
    finally:
        gate.set()
    assert table.wait_idle(10)
    assert "4 cancelled" in table.header.value


def test_the_table_redraws_while_the_main_thread_blocks(wire: Wire) -> None:
    release = threading.Event()
    seen = threading.Event()

    def work(i: int) -> int:
        release.wait(10)
        return i

    tasks = Tasks([Task(work, i) for i in range(3)], as_group=True)
    table = LiveTable(GroupSource(tasks))
    original = table._send

    def spy(widget: object, name: str, value: object) -> None:
        original(widget, name, value)  # type: ignore[arg-type]
        if widget is table.header and "3 done" in str(value):
            seen.set()

    table._send = spy  # type: ignore[method-assign]

    async def main() -> None:
        running = asyncio.ensure_future(tasks())
        await asyncio.sleep(0)
        release.set()
        # a sync cell blocking the notebook's loop: the table must still reach "3 done"
        assert seen.wait(10)
        await running

    asyncio.run(main())


def test_loose_tasks_table_grows(wire: Wire) -> None:
    source = LooseSource("batch")
    table = LiveTable(source)
    handles = []
    for i in range(3):
        task = Task(lambda i=i: i * 10)
        table.add(task)
        handles.append(task.start())
    assert [h.result(10) for h in handles] == [0, 10, 20]
    assert table.wait_idle(10)
    table.flush()
    assert len(table._slots) == 3
    assert "3 done" in table.header.value
    assert "→ 20" in _values(table)


def test_big_group_shows_a_window_running_and_failed_first(wire: Wire) -> None:
    def maybe_fail(i: int) -> int:
        if i == 3:
            raise RuntimeError("three")
        return i

    tasks = Tasks([Task(maybe_fail, i) for i in range(300)], as_group=True)
    table = LiveTable(GroupSource(tasks))
    with pytest.raises(ExceptionGroup):
        asyncio.run(tasks())
    assert table.wait_idle(10)
    table.flush()
    assert len(table._slots) == table_module.WINDOW_SLOTS
    assert "RuntimeError: three" in table._slots[0].html.value
    assert "showing 50 of 300" in table.header.value


def test_a_redraw_with_nothing_new_sends_nothing(wire: Wire) -> None:
    tasks = Tasks([Task(lambda i=i: i) for i in range(5)], as_group=True)
    table = LiveTable(GroupSource(tasks))
    asyncio.run(tasks())
    assert table.wait_idle(10)
    table.flush()
    before = len(wire.messages)
    table.flush()
    table.flush()
    assert len(wire.messages) == before


def test_output_shows_in_the_expanded_row(wire: Wire) -> None:
    def talk() -> str:
        print("<b>said</b>")
        return "ok"

    tasks = Tasks([Task(talk)])
    table = LiveTable(GroupSource(tasks))
    backgrounder.capture_output()
    try:
        asyncio.run(tasks())
    finally:
        backgrounder.release_output()
    assert table.wait_idle(10)
    slot = table._slots[0]
    assert not slot.details.disabled
    assert "said" not in slot.html.value  # output stays one click away
    slot.details.value = True
    table.flush()
    assert "&lt;b&gt;said&lt;/b&gt;" in slot.html.value
