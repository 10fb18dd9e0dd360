"""The runners, seen from outside: the asyncio fast path and the anyio path (trio) keep the
same promises for any mix of async tasks, sync tasks and executor tasks."""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import anyio
import anyio.to_thread
import pytest

import backgrounder
from backgrounder import EventKind, Task, TaskCancelled, Tasks, TaskState
from backgrounder._errors import ExceptionGroup

pytestmark = pytest.mark.anyio

DONE, FAILED, CANCELLED, PENDING = (
    TaskState.DONE,
    TaskState.FAILED,
    TaskState.CANCELLED,
    TaskState.PENDING,
)


class Meter:
    """Counts how many bodies (sync or async) run at once."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.inside = self.most = 0

    def enter(self) -> None:
        with self.lock:
            self.inside += 1
            self.most = max(self.most, self.inside)

    def leave(self) -> None:
        with self.lock:
            self.inside -= 1

    def sync(self, i: int) -> int:
        self.enter()
        try:
            for _ in range(1_000):  # a little work, so that bodies overlap
                pass
            return i
        finally:
            self.leave()

    async def async_(self, i: int) -> int:
        self.enter()
        try:
            await anyio.sleep(0)
            return i
        finally:
            self.leave()


@pytest.mark.parametrize("limit", [1, 3, None])
async def test_a_mix_of_kinds_runs_under_the_limit_with_results_in_order(
    anyio_backend: str, limit: int | None
) -> None:
    meter = Meter()
    with ThreadPoolExecutor(4) as pool:
        group = Tasks(as_group=True, limit=limit)
        for i in range(30):
            if i % 3 == 0:
                group.add_task(meter.sync, i)
            elif i % 3 == 1:
                group.add_task(meter.async_, i)
            else:
                group.add(Task(meter.sync, i).options(executor=pool))
        assert await group() == list(range(30))
    assert all(task.state is DONE for task in group)
    if limit is not None:
        assert meter.most <= limit


async def test_a_sequence_runs_strictly_in_order_and_emits_events_in_order(
    anyio_backend: str,
) -> None:
    seen: list[tuple[str, str]] = []
    sequence = Tasks([Task(str, i).options(name=f"t{i}") for i in range(3)], name="seq")
    sequence.subscribe(
        lambda event: seen.append((event.kind.value, event.task.name)),
        kinds=[EventKind.STARTED, EventKind.FINISHED],
    )
    assert await sequence() == ["0", "1", "2"]
    assert seen == [
        ("started", "seq"),
        ("started", "t0"),
        ("finished", "t0"),
        ("started", "t1"),
        ("finished", "t1"),
        ("started", "t2"),
        ("finished", "t2"),
        ("finished", "seq"),
    ]


async def test_cancelling_the_awaiting_code_cancels_every_task(anyio_backend: str) -> None:
    """What the kernel's Interrupt does to an awaiting cell: async tasks unwind (their
    finally blocks run), a sync task sees cancelled(), queued tasks never start."""
    unwound: list[str] = []
    entered = threading.Event()

    async def forever() -> None:
        try:
            await anyio.sleep_forever()
        finally:
            unwound.append("async")

    def cooperative() -> None:
        entered.set()
        while not backgrounder.cancelled():
            threading.Event().wait(0.005)
        unwound.append("sync")

    group = Tasks([Task(forever), Task(cooperative), Task(forever)], as_group=True, limit=2)
    async with anyio.create_task_group() as tg:
        tg.start_soon(group)
        await anyio.to_thread.run_sync(entered.wait, 10)
        tg.cancel_scope.cancel()
    assert [t.state for t in group] == [CANCELLED, CANCELLED, CANCELLED]
    assert group.state is CANCELLED
    assert group.tasks[2].started_at == group.tasks[2].ended_at  # it never ran
    assert "async" in unwound
    with anyio.fail_after(10):
        while "sync" not in unwound:  # its thread returns once it sees cancelled()
            await anyio.sleep(0.005)


async def test_fail_fast_cancels_what_is_queued_and_running(anyio_backend: str) -> None:
    async def forever() -> None:
        await anyio.sleep_forever()

    async def boom() -> None:
        await anyio.sleep(0)
        raise ValueError("boom")

    group = Tasks(
        [Task(forever), Task(boom), Task(forever), Task(str, 1)],
        as_group=True,
        limit=3,
        fail_fast=True,
    )
    with pytest.raises(ExceptionGroup) as info:
        await group()
    assert [str(e) for e in info.value.exceptions] == ["boom"]
    assert [t.state for t in group] == [CANCELLED, FAILED, CANCELLED, CANCELLED]


@pytest.mark.parametrize("kind", ["async", "sync", "executor"])
async def test_a_task_timeout_fails_the_task_with_timeout_error(
    anyio_backend: str, kind: str
) -> None:
    release = threading.Event()

    async def slow_async() -> None:
        await anyio.sleep_forever()

    def slow_sync() -> None:
        release.wait(10)

    with ThreadPoolExecutor(1) as pool:
        task = Task(slow_async) if kind == "async" else Task(slow_sync)
        if kind == "executor":
            task.options(executor=pool)
        group = Tasks([task, Task(str, 2)], as_group=True, task_timeout=0.05)
        with pytest.raises(ExceptionGroup) as info:
            await group()
        release.set()
    [error] = info.value.exceptions
    assert isinstance(error, TimeoutError) and "timed out after 0.05 s" in str(error)
    assert task.state is FAILED and group.tasks[1].state is DONE


async def test_cancel_from_another_thread_never_starts_what_is_queued(anyio_backend: str) -> None:
    started: list[int] = []
    entered = threading.Event()

    def work(i: int) -> int:
        started.append(i)
        entered.set()
        while not backgrounder.cancelled():
            threading.Event().wait(0.005)
        return i

    group = Tasks([Task(work, i) for i in range(10)], as_group=True, limit=2)
    handle = group.start()
    await anyio.to_thread.run_sync(entered.wait, 10)
    await anyio.to_thread.run_sync(group.cancel)
    with pytest.raises(TaskCancelled):
        await handle
    assert len(started) <= 2
    assert all(task.state is CANCELLED for task in group)
    assert sum(task.state is CANCELLED and task.started_at == task.ended_at for task in group) >= 8


async def test_a_run_of_sync_tasks_that_all_end_in_their_threads_wakes_its_awaiter(
    anyio_backend: str,
) -> None:
    """Thousands of tiny sync tasks end in worker threads, most before the awaiting code
    even waits: the run still returns, once, with every result."""
    group = Tasks([Task(abs, -i) for i in range(3_000)], as_group=True)
    with anyio.fail_after(60):
        assert await group() == list(range(3_000))


@pytest.mark.parametrize(
    "make",
    [
        lambda: Tasks([Task(str, 1), Task(str, 2)]),
        lambda: Tasks([Task(str, 1), Task(str, 2)], as_group=True, limit=1),
    ],
    ids=["sequence", "group-limit-1"],
)
async def test_a_run_can_be_repeated(anyio_backend: str, make: Callable[[], Tasks]) -> None:
    group = make()
    first: Any = await group()
    second: Any = await group()
    assert first == second == ["1", "2"]
