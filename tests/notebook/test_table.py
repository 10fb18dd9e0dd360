"""The live table without a kernel, read through what its widgets sent (a dummy comm)."""

from __future__ import annotations

import asyncio
import threading

import pytest

import backgrounder
from backgrounder import Task, Tasks, TaskState
from backgrounder._errors import ExceptionGroup
from backgrounder.notebook.sources import GroupSource, LooseSource
from backgrounder.notebook.table import LiveTable
from backgrounder.notebook.tracker import WINDOW

from .conftest import Frontend
from .truth import all_running, assert_shows_truth, wait_until


def _gated(n: int, gate: threading.Event, started: threading.Barrier | None = None) -> Tasks:
    async def wait(i: int) -> int:
        while not gate.is_set():
            await asyncio.sleep(0.005)
        return i

    return Tasks([Task(wait, i).options(name=f"job {i}") for i in range(n)], as_group=True)


def test_a_redraw_sends_a_bounded_number_of_messages_whatever_the_rows(
    frontend: Frontend,
) -> None:
    """1,000 running tasks all reporting progress: each redraw is a handful of messages."""
    gate = threading.Event()
    step = threading.Event()

    async def work(i: int) -> int:
        for k in range(3):
            backgrounder.progress(k, 3)
            while not step.is_set():
                await asyncio.sleep(0.005)
        while not gate.is_set():
            await asyncio.sleep(0.005)
        return i

    tasks = Tasks([Task(work, i) for i in range(1000)], as_group=True)
    table = LiveTable(GroupSource(tasks))
    handle = tasks.start(thread_loop=True)
    try:
        table.flush()  # the first redraw opens the rows' buttons: 2 per row of the window
        opened = frontend.opened
        assert opened <= 20 + 2 * WINDOW  # shared layouts, the table, two buttons per row
        for _ in range(3):
            before = len(frontend.messages)
            table.flush()
            sent = frontend.messages[before:]
            # header, rows, details: a handful per redraw, not per row or per task; the timer
            # may slip one redraw in before ours (2 at most here). Only Cancel buttons whose
            # row changed state flip, at most one message per row of the window.
            flips = [m for m in sent if set(m.state) == {"disabled"}]
            assert len(sent) - len(flips) <= 2 * 4, [(m.kind, list(m.state)) for m in sent]
            assert len(flips) <= WINDOW
        wait_until(tasks, all_running(tasks))
        assert_shows_truth(table, frontend, tasks)
    finally:
        step.set()
        gate.set()
    assert len(handle.result(30)) == 1000
    assert table.wait_idle(10)
    assert frontend.open_models() == 0  # every widget closed, the shared layouts too


def test_the_final_table_is_static_and_every_widget_is_closed(frontend: Frontend) -> None:
    def fail() -> None:
        raise ValueError("broken <on purpose>")

    tasks = Tasks([Task(lambda: 7).options(name="seven"), Task(fail)], as_group=True)
    table = LiveTable(GroupSource(tasks))
    with pytest.raises(ExceptionGroup):
        asyncio.run(tasks())
    assert table.wait_idle(10)
    assert table.closed and frontend.open_models() == 0
    bundle = table._repr_mimebundle_()
    assert set(bundle) == {"text/plain", "text/html"}
    html = bundle["text/html"]
    assert "1 done" in bundle["text/plain"] and "1 failed" in bundle["text/plain"]
    assert "→ 7" in html and "ValueError: broken &lt;on purpose&gt;" in html
    assert "Traceback" in html  # one click away, in <details>


def test_rows_follow_the_truth_while_tasks_start_progress_and_end(frontend: Frontend) -> None:
    gate = threading.Event()
    tasks = _gated(5, gate)
    table = LiveTable(GroupSource(tasks))
    handle = tasks.start(thread_loop=True)
    try:
        wait_until(tasks, all_running(tasks))
        assert_shows_truth(table, frontend, tasks)
        model = frontend.table()
        rows = model.rows()
        assert [row.state for row in rows] == ["running"] * 5
        assert all(row.cancel_enabled for row in rows)
        model.click_cancel(1)  # a click in the frontend
        assert tasks.tasks[1].state is TaskState.CANCELLED or tasks.tasks[1].cancel_requested
    finally:
        gate.set()
    with pytest.raises(backgrounder.TaskCancelled):
        handle.result(10)
    assert table.wait_idle(10)
    html = table._repr_mimebundle_()["text/html"]
    assert html.count('data-state="done"') == 4 and html.count('data-state="cancelled"') == 1


def test_cancel_all_cancels_every_task(frontend: Frontend) -> None:
    gate = threading.Event()
    tasks = _gated(4, gate)
    table = LiveTable(GroupSource(tasks))
    handle = tasks.start(thread_loop=True)
    try:
        wait_until(tasks, all_running(tasks))
        assert_shows_truth(table, frontend, tasks)
        frontend.table().click_cancel_all()
        with pytest.raises(backgrounder.TaskCancelled):
            handle.result(10)
    finally:
        gate.set()
    assert table.wait_idle(10)
    text = table._repr_mimebundle_()["text/plain"]
    assert "4 cancelled" in text


def test_the_header_never_counts_cancelled_or_failed_tasks_as_done(frontend: Frontend) -> None:
    def fail() -> None:
        raise ValueError("no")

    tasks = Tasks([Task(lambda: 1), Task(fail)], as_group=True)
    table = LiveTable(GroupSource(tasks))
    with pytest.raises(ExceptionGroup):
        asyncio.run(tasks())
    assert table.wait_idle(10)
    html = table._repr_mimebundle_()["text/html"]
    assert ">1/2<" in html  # done of total: the failed task does not fill the bar
    assert 'title="1 failed"' in html and 'title="1 done"' in html


def test_the_table_redraws_while_the_main_thread_blocks(frontend: Frontend) -> None:
    release = threading.Event()

    def work(i: int) -> int:
        release.wait(10)
        return i

    tasks = Tasks([Task(work, i) for i in range(3)], as_group=True)
    LiveTable(GroupSource(tasks))

    async def main() -> None:
        running = asyncio.ensure_future(tasks())
        await asyncio.sleep(0)
        release.set()
        # a sync cell blocking the notebook's loop (where the group runs): the rows must
        # still reach the frontend, drawn from the library's loop thread
        frontend.wait_for(lambda: any("3 done" in str(m.state) for m in frontend.updates))
        await running

    asyncio.run(main())


def test_a_loose_table_grows_then_ends_static(frontend: Frontend) -> None:
    gate = threading.Event()
    first = Task(lambda: gate.wait(10) and 0)
    source = LooseSource("batch", [first])
    table = LiveTable(source)
    handles = [first.start()]
    for i in range(1, 3):
        task = Task(lambda i=i: gate.wait(10) and i * 10)
        assert table.add(task)
        handles.append(task.start())
    # the rows reach the frontend as the tasks start (on their own: no redraw is forced)
    frontend.wait_for(
        lambda: (
            [row.state for row in frontend.table().rows()] == ["running"] * 3
            and all(row.cancel_enabled for row in frontend.table().rows())
        )
    )
    gate.set()
    assert [h.result(10) for h in handles] == [0, 10, 20]
    assert table.wait_idle(10)
    assert not table.add(Task(lambda: 1))  # it ended: a new task needs a new table
    assert "3 done" in table._repr_mimebundle_()["text/plain"]
    assert frontend.open_models() == 0


def test_a_big_group_shows_running_then_failed_then_recent(frontend: Frontend) -> None:
    gate = threading.Event()

    async def maybe_fail(i: int) -> int:
        if i == 3:
            raise RuntimeError("three")
        if i >= 290:
            while not gate.is_set():
                await asyncio.sleep(0.005)
        return i

    tasks = Tasks([Task(maybe_fail, i) for i in range(300)], as_group=True)
    table = LiveTable(GroupSource(tasks))
    handle = tasks.start(thread_loop=True)
    try:
        wait_until(
            tasks,
            lambda: (
                tasks.counts()[TaskState.RUNNING] == 10 and tasks.counts()[TaskState.PENDING] == 0
            ),
        )
        assert_shows_truth(table, frontend, tasks)
        states = [row.state for row in frontend.table().rows()]
        assert states[:10] == ["running"] * 10 and states[10] == "failed"
        assert len(states) == WINDOW
        assert "showing 50 of 300" in frontend.table().header
    finally:
        gate.set()
    with pytest.raises(ExceptionGroup):
        handle.result(10)


def test_a_redraw_with_nothing_new_sends_nothing(frontend: Frontend) -> None:
    gate = threading.Event()
    tasks = _gated(5, gate)
    table = LiveTable(GroupSource(tasks))
    handle = tasks.start(thread_loop=True)
    try:
        wait_until(tasks, all_running(tasks))
        assert_shows_truth(table, frontend, tasks)
        before = len(frontend.messages)
        table.flush()
        table.flush()
        # at most a second ticking over in the header and the rows
        assert len(frontend.messages) - before <= 2
    finally:
        gate.set()
    handle.result(10)


def test_output_and_tracebacks_open_in_the_details_panel(frontend: Frontend) -> None:
    gate = threading.Event()

    async def talk() -> str:
        print("<b>said</b>")
        while not gate.is_set():
            await asyncio.sleep(0.005)
        return "ok"

    tasks = Tasks([Task(talk).options(name="talker")], as_group=True)
    table = LiveTable(GroupSource(tasks))
    backgrounder.capture_output()
    handle = tasks.start(thread_loop=True)
    try:
        wait_until(tasks, lambda: "said" in tasks.tasks[0].output)
        assert_shows_truth(table, frontend, tasks)
        model = frontend.table()
        assert "said" not in model.rows_html  # output stays one click away
        model.click_details(0)
        assert_shows_truth(table, frontend, tasks, expanded={tasks.tasks[0].id})
        assert "&lt;b&gt;said&lt;/b&gt;" in model.details_html
        model.click_details(0)
        assert_shows_truth(table, frontend, tasks)
    finally:
        gate.set()
        handle.result(10)
        backgrounder.release_output()
