"""cancelled() and progress(): what a task's own code can ask of the library."""

from __future__ import annotations

import threading

import anyio
import pytest

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
