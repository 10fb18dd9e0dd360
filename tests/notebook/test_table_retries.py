"""A retried task's row: "retry 1 of 2" (and when, while it waits) with the latest error, its
attempts' tracebacks in the details panel, all escaped; what the frontend receives is the
view of the task's truth."""

from __future__ import annotations

import asyncio
import re
import threading

import pytest

import backgrounder
from backgrounder import Task, TaskCancelled, Tasks, TaskState
from backgrounder.notebook.render import group_html, row_text
from backgrounder.notebook.snapshot import GroupSnapshot, snapshot_task
from backgrounder.notebook.sources import GroupSource
from backgrounder.notebook.table import LiveTable

from .conftest import Frontend
from .truth import assert_shows_truth, wait_until


def test_a_row_waiting_to_retry_shows_when_and_why(frontend: Frontend) -> None:
    def fails() -> None:
        raise ValueError("<b>refused</b>")

    task = Task(fails).options(name="fetch", retries=2, retry_delay=3600)
    tasks = Tasks([task], as_group=True)
    table = LiveTable(GroupSource(tasks))
    handle = tasks.start(thread_loop=True)
    try:
        wait_until(tasks, lambda: task.next_attempt_at is not None)
        assert_shows_truth(table, frontend, tasks)
        model = frontend.table()
        assert re.search(r"retry 1 of 2 in (\d\d min \d\d s|1 h 00 min)<", model.rows_html)
        assert "ValueError: &lt;b&gt;refused&lt;/b&gt;" in model.rows_html
        assert "<b>refused" not in model.rows_html
        model.click_details(0)
        assert_shows_truth(table, frontend, tasks, expanded={task.id})
        assert "attempt 1 of 3 failed, and was retried" in model.details_html
        assert "raise ValueError(&quot;&lt;b&gt;refused&lt;/b&gt;&quot;)" in model.details_html
        task.cancel()
        with pytest.raises(TaskCancelled):
            handle.result(10)
        assert_shows_truth(table, frontend, tasks, expanded={task.id})  # the final table
    finally:
        tasks.cancel()


def test_a_row_on_its_second_attempt_shows_the_retry_and_the_first_error(
    frontend: Frontend,
) -> None:
    gate = threading.Event()
    calls = []

    async def second_time_lucky() -> str:
        calls.append(1)
        if len(calls) == 1:
            raise ConnectionError("reset by peer")
        backgrounder.progress(1, 2)
        while not gate.is_set():
            await asyncio.sleep(0.005)
        return "ok"

    task = Task(second_time_lucky).options(retries=2, retry_delay=0)
    tasks = Tasks([task], as_group=True)
    table = LiveTable(GroupSource(tasks))
    handle = tasks.start(thread_loop=True)
    try:
        wait_until(tasks, lambda: task.progress is not None)
        assert_shows_truth(table, frontend, tasks)
        rows = frontend.table().rows_html
        assert "retry 1 of 2</span> · " in rows and "ConnectionError: reset by peer" in rows
        assert "1/2" in rows  # the new attempt's progress
    finally:
        gate.set()
        handle.result(10)
    assert task.state is TaskState.DONE
    assert_shows_truth(table, frontend, tasks)  # static: "attempt 2 of 3", the result


def test_a_finished_row_says_which_attempt_ended_it() -> None:
    def always() -> None:
        raise OSError("down")

    task = Task(always).options(retries=2, retry_delay=0)
    try:
        asyncio.run(task())
    except OSError:
        pass
    row = snapshot_task(task)
    assert (row.attempt, row.max_attempts, row.retry_in) == (3, 3, None)
    assert [(a, line) for a, line, _ in row.attempt_errors] == [
        (1, "OSError: down"),
        (2, "OSError: down"),
    ]
    assert "attempt 3 of 3  OSError: down" in row_text(row)
    html = group_html(_single(task))
    assert html.count("bg-attempt") == 3  # two retried attempts, then the last
    assert "attempt 3 of 3</span>" in html


def _single(task: Task) -> GroupSnapshot:
    counts = dict.fromkeys(TaskState, 0)
    counts[task.state] = 1
    return GroupSnapshot("one", task.state, task.elapsed, 1, counts, (snapshot_task(task),))
