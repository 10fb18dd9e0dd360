"""What a table keeps alive: a closed table nothing, a finished one only its snapshot."""

from __future__ import annotations

import asyncio
import gc
import threading
import weakref

import pytest

from backgrounder import Task, Tasks
from backgrounder._errors import ExceptionGroup
from backgrounder.notebook import table as table_module
from backgrounder.notebook.snapshot import GroupSource
from backgrounder.notebook.table import LiveTable, table_for

from .conftest import Wire


def _drain(table: LiveTable) -> None:
    """Let the writer's loop run whatever the table queued on it (a timer being stopped)."""
    done = threading.Event()
    table.loop.call_soon_threadsafe(done.set)
    assert done.wait(10)


def _run_group(n: int) -> tuple[Tasks, LiveTable]:
    tasks = Tasks([Task(lambda i=i: i) for i in range(n)], as_group=True)
    table = LiveTable(GroupSource(tasks))
    asyncio.run(tasks())
    assert table.wait_idle(10)
    return tasks, table


def test_a_closed_table_and_its_group_are_collected(wire: Wire) -> None:
    tasks, table = _run_group(200)
    table.close()
    _drain(table)
    refs = [weakref.ref(tasks), weakref.ref(table), weakref.ref(tasks.tasks[0])]
    del tasks, table
    gc.collect()
    assert [ref() for ref in refs] == [None, None, None]


def test_a_finished_table_keeps_its_snapshot_not_its_tasks(wire: Wire) -> None:
    def fail() -> None:
        raise ValueError("kept in the snapshot")

    tasks = Tasks([Task(fail), *(Task(lambda i=i: i) for i in range(99))], as_group=True)
    table = LiveTable(GroupSource(tasks))
    with pytest.raises(ExceptionGroup):
        asyncio.run(tasks())
    assert table.wait_idle(10)
    refs = [weakref.ref(tasks), weakref.ref(tasks.tasks[0])]
    del tasks
    gc.collect()
    assert [ref() for ref in refs] == [None, None]
    # what is shown stays whole: counts, rows, the error and its traceback one click away
    assert "99 done" in table.header.value and "1 failed" in table.header.value
    failed = table._slots[0]
    assert "ValueError: kept in the snapshot" in failed.html.value
    failed.details.value = True
    table.flush()
    assert "Traceback (most recent call last)" in failed.html.value
    bundle = table._repr_mimebundle_()
    assert "99 done" in bundle["text/plain"]


def test_a_shown_group_run_again_shows_the_new_run(wire: Wire) -> None:
    broken = {"now": True}

    def maybe_fail(i: int) -> int:
        if broken["now"] and i == 0:
            raise ValueError("first run only")
        return i

    tasks = Tasks([Task(maybe_fail, i) for i in range(3)], as_group=True)
    table = LiveTable(GroupSource(tasks))
    with pytest.raises(ExceptionGroup):
        asyncio.run(tasks())
    assert table.wait_idle(10)
    assert "1 failed" in table.header.value
    broken["now"] = False
    assert asyncio.run(tasks()) == [0, 1, 2]
    assert table.wait_idle(10)
    table.flush()
    assert "3 done" in table.header.value and "failed" not in table.header.value
    assert "→ 0" in table._slots[0].html.value


def test_table_for_lets_go_of_a_group_nobody_holds(wire: Wire) -> None:
    tasks = Tasks([Task(lambda i=i: i) for i in range(5)], as_group=True)
    table = table_for(tasks)
    assert table_for(tasks) is table
    asyncio.run(tasks())
    assert table.wait_idle(10)
    ref = weakref.ref(tasks)
    del tasks
    gc.collect()
    assert ref() is None
    assert all(entry[1] is not table for entry in table_module._tables.values())
    assert "5 done" in table.header.value  # the table itself lives on while it is shown
    table.close()


def test_a_new_table_builds_its_header_only(wire: Wire) -> None:
    tasks = Tasks([Task(lambda i=i: i) for i in range(1000)], as_group=True)
    opened = wire.opened
    table = LiveTable(GroupSource(tasks))
    assert wire.opened - opened <= 5  # header, Cancel all, two boxes, the grid: no rows yet
    table.flush()  # rows get their widgets from the writer, at its first redraw
    assert len(table._slots) == table_module.WINDOW_SLOTS
    assert wire.opened - opened <= 5 + 3 * table_module.WINDOW_SLOTS
    table.close()
