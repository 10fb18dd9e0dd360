"""cancelled() and progress(): what a task's own code can ask of the library."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import anyio
import pytest

import backgrounder
from backgrounder import EventKind, Task, TaskEvent, Tasks, cancelled, current_task, progress

pytestmark = pytest.mark.anyio


def test_outside_a_task() -> None:
    assert cancelled() is False
    progress(1, 2)  # ignored
    assert current_task() is None


async def test_progress_from_sync_and_async() -> None:
    def sync_steps() -> None:
        for i in range(1, 4):
            progress(i, 3)

    async def async_steps() -> None:
        progress(0.5)
        await anyio.sleep(0)

    events: list[TaskEvent] = []
    tasks = Tasks([Task(sync_steps), Task(async_steps)], as_group=True)
    tasks.subscribe(events.append)
    await tasks()
    assert tasks.tasks[0].progress == (3, 3)
    assert tasks.tasks[1].progress == (0.5, None)
    sync_progress = [
        e.data for e in events if e.kind is EventKind.PROGRESS and e.task is tasks.tasks[0]
    ]
    assert sync_progress == [(1, 3), (2, 3), (3, 3)]


async def test_cancelled_is_seen_by_a_sync_task() -> None:
    started, stopped = threading.Event(), threading.Event()
    steps: list[int] = []

    def loop() -> str:
        started.set()
        while not cancelled():
            steps.append(1)
            stopped.wait(0.001)
        stopped.set()
        return "stopped early"

    task = Task(loop)
    async with anyio.create_task_group() as tg:

        async def run() -> None:
            try:
                await task()
            except Exception:
                pass

        tg.start_soon(run)
        await anyio.to_thread.run_sync(started.wait, 10)
        assert not task.cancel_requested
        task.cancel()
        assert task.cancel_requested
    assert await anyio.to_thread.run_sync(stopped.wait, 10)
    assert task.state == "cancelled"  # the late return does not make it done
    assert task.result is None


# -- threads a task starts (with output capture on, they print as the task) --------------------


async def test_a_thread_a_task_starts_reports_as_the_task() -> None:
    seen: list[object] = []

    def in_thread(step: int) -> None:
        seen.append(current_task())
        progress(step, 2)
        seen.append(cancelled())

    def work() -> None:
        thread = threading.Thread(target=in_thread, args=(1,))
        thread.start()
        thread.join()
        with ThreadPoolExecutor(1) as pool:
            pool.submit(in_thread, 2).result()

    task = Task(work)
    events: list[TaskEvent] = []
    group = Tasks([task], as_group=True)
    group.subscribe(events.append)
    backgrounder.capture_output()
    try:
        await group()
    finally:
        backgrounder.release_output()
    assert seen == [task, False, task, False]
    assert [e.data for e in events if e.kind is EventKind.PROGRESS] == [(1, 2), (2, 2)]


async def test_a_thread_started_outside_any_task_has_no_task() -> None:
    seen: list[object] = []
    backgrounder.capture_output()
    try:
        thread = threading.Thread(target=lambda: seen.append(current_task()))
        thread.start()
        thread.join()
    finally:
        backgrounder.release_output()
    assert seen == [None]
