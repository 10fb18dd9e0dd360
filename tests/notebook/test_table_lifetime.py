"""What a table keeps alive: once its work ended, nothing but its last snapshot."""

from __future__ import annotations

import asyncio
import gc
import threading
import time
import weakref

import pytest

from backgrounder import Task, Tasks
from backgrounder._errors import ExceptionGroup
from backgrounder.notebook import table as table_module
from backgrounder.notebook.sources import GroupSource, LooseSource
from backgrounder.notebook.table import LiveTable, table_for

from .conftest import Frontend


def freed(refs: list[weakref.ref[object]], timeout: float = 10) -> bool:
    """True once nothing holds the objects: the worker thread that ran a task's body drops
    its job (and the context holding the task) just after the body returns, which on a
    loaded machine can come after the group's end has woken the test."""
    deadline = time.monotonic() + timeout
    while True:
        gc.collect()
        if all(ref() is None for ref in refs):
            return True
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)


def test_an_ended_table_lets_go_of_its_group_tasks_and_widgets(frontend: Frontend) -> None:
    def fail() -> None:
        raise ValueError("kept in the snapshot")

    tasks = Tasks([Task(fail), *(Task(lambda i=i: [i] * 1000) for i in range(99))], as_group=True)
    before = frontend.open_models()
    table = LiveTable(GroupSource(tasks))
    with pytest.raises(ExceptionGroup):
        asyncio.run(tasks())
    assert table.wait_idle(10)
    assert frontend.open_models() == before  # every comm closed
    refs = [weakref.ref(tasks), weakref.ref(tasks.tasks[0]), weakref.ref(tasks.tasks[1])]
    del tasks
    assert freed(refs)
    # what is shown stays whole: counts, rows, the error and its traceback one click away
    bundle = table._repr_mimebundle_()
    assert "99 done" in bundle["text/plain"] and "1 failed" in bundle["text/plain"]
    assert "ValueError: kept in the snapshot" in bundle["text/html"]
    assert "Traceback (most recent call last)" in bundle["text/html"]


def test_a_loose_table_lets_go_of_its_tasks_and_results(frontend: Frontend) -> None:
    task = Task(lambda: bytearray(10_000_000))
    table = table_for(task)
    task.start().result(10)
    assert table.wait_idle(10)
    ref = weakref.ref(task)
    del task
    assert freed([ref])
    assert frontend.open_models() == 0


def test_table_for_makes_a_new_table_once_the_last_ended(frontend: Frontend) -> None:
    tasks = Tasks([Task(lambda i=i: i) for i in range(5)], as_group=True)
    table = table_for(tasks)
    assert table_for(tasks) is table
    asyncio.run(tasks())
    assert table.wait_idle(10)
    assert all(entry[1] is not table for entry in table_module._tables.values())
    again = table_for(tasks)
    assert again is not table
    assert again.wait_idle(10)  # the group has ended: the new table ends at once


def test_a_new_table_builds_its_header_only(frontend: Frontend) -> None:
    gate = threading.Event()
    tasks = Tasks([Task(lambda i=i: gate.wait(10) and i) for i in range(1000)], as_group=True)
    opened = frontend.opened
    table = LiveTable(GroupSource(tasks))
    assert frontend.opened - opened <= 9 + 8  # shared layouts, header, boxes: no rows yet
    table.flush()  # rows get their buttons from the writer, at its first redraw
    assert len(frontend.table().buttons()) == 50
    table.close()
    assert frontend.open_models() == 0


def test_a_named_loose_table_ends_when_its_tasks_do(frontend: Frontend) -> None:
    source = LooseSource("named", [Task(lambda: 1)])
    table = LiveTable(source)
    for task in source.tasks:
        task.start().result(10)
    assert table.wait_idle(10)
    assert table.closed and "1 done" in table._repr_mimebundle_()["text/plain"]
