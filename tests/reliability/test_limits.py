"""Limits and liveness: ``limit`` counts bodies still running after a cancel or a timeout;
abandoned threads do not starve new work; nested sync groups never deadlock."""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable, Iterator
from typing import Any

import anyio
import anyio.to_thread
import pytest

import backgrounder
from backgrounder import Task, Tasks, TaskState, thread_stats
from backgrounder._errors import BaseExceptionGroup
from backgrounder._threads import worker_threads

from .support import wait_until

DONE, FAILED, CANCELLED = TaskState.DONE, TaskState.FAILED, TaskState.CANCELLED


class Bodies:
    """Sync bodies that ignore cancellation and block until released; they count how many
    run at once."""

    def __init__(self) -> None:
        self.release = threading.Event()
        self.lock = threading.Condition()
        self.inside = self.most = self.entered = 0
        self.third = threading.Event()  # a third body entered

    def __call__(self, i: int) -> int:
        with self.lock:
            self.inside += 1
            self.entered += 1
            self.most = max(self.most, self.inside)
            if self.entered == 3:
                self.third.set()
            self.lock.notify_all()
        try:
            self.release.wait(30)  # never looks at backgrounder.cancelled()
            return i
        finally:
            with self.lock:
                self.inside -= 1

    def wait_entered(self, count: int) -> bool:
        """Block until ``count`` bodies have entered (in all)."""
        with self.lock:
            return self.lock.wait_for(lambda: self.entered >= count, 10)

    async def entered_async(self, count: int) -> bool:
        return await anyio.to_thread.run_sync(self.wait_entered, count)

    def all_returned(self) -> bool:
        with self.lock:
            return self.inside == 0


def finished_events(group: Tasks, count: int) -> threading.Event:
    """Set once ``count`` tasks of ``group`` have finished."""
    reached = threading.Event()
    seen: list[object] = []

    def listen(event: backgrounder.TaskEvent) -> None:
        if isinstance(event.task, Task):
            seen.append(event.task)
            if len(seen) >= count:
                reached.set()

    group.subscribe(listen, kinds=["finished"])
    return reached


@pytest.fixture
def released() -> Iterator[list[Bodies]]:
    """Bodies made by a test are released at its end, whatever happened."""
    made: list[Bodies] = []
    yield made
    for bodies in made:
        bodies.release.set()
    assert wait_until(lambda: all(b.all_returned() for b in made), 30)
    assert wait_until(lambda: thread_stats().abandoned == 0, 30)


# -- limit holds after timeouts and cancels (issue 13, item 6) ------------------------------------


@pytest.mark.anyio
@pytest.mark.parametrize("how", ["timeout", "cancel"])
async def test_limit_counts_bodies_still_running_after_a_timeout_or_a_cancel(
    anyio_backend: str, how: str, released: list[Bodies]
) -> None:
    bodies = Bodies()
    released.append(bodies)
    n, limit = 8, 2
    group = Tasks(
        [Task(bodies, i) for i in range(n)],
        as_group=True,
        limit=limit,
        task_timeout=0.05 if how == "timeout" else None,
    )
    first_two = finished_events(group, limit)
    thread_ended: list[object] = []
    all_ended = threading.Event()

    def on_thread_ended(event: backgrounder.TaskEvent) -> None:
        thread_ended.append(event.task)
        if len(thread_ended) == limit:
            all_ended.set()

    group.subscribe(on_thread_ended, kinds="thread_ended")
    handle = group.start()
    if how == "cancel":
        assert await bodies.entered_async(limit)
        for task in group.tasks[:limit]:
            assert task.cancel()
    assert await anyio.to_thread.run_sync(first_two.wait, 10)
    stopped = group.tasks[:limit]
    assert [t.state for t in stopped] == [FAILED if how == "timeout" else CANCELLED] * limit
    # what a view shows: ended, and still running in its thread
    assert all(t.state.finished and t.thread_alive for t in stopped)
    # their bodies hold the limit: no third body may start while they run
    assert not await anyio.to_thread.run_sync(bodies.third.wait, 0.3)
    assert [t.state for t in group.tasks[limit:]] == [TaskState.PENDING] * (n - limit)
    bodies.release.set()
    with pytest.raises(BaseExceptionGroup if how == "timeout" else backgrounder.TaskCancelled):
        await handle
    assert bodies.most == limit
    assert [t.state for t in group.tasks[limit:]] == [DONE] * (n - limit)
    # the views hear when each stopped task's thread ends; the group may end before the
    # second does (one freed slot is enough to run the rest)
    assert await anyio.to_thread.run_sync(all_ended.wait, 10)
    assert sorted(thread_ended, key=id) == sorted(stopped, key=id)
    assert not any(t.thread_alive for t in stopped)


@pytest.mark.anyio
async def test_limit_one_holds_in_a_group_after_a_timeout(
    anyio_backend: str, released: list[Bodies]
) -> None:
    bodies = Bodies()
    released.append(bodies)
    group = Tasks([Task(bodies, i) for i in range(3)], as_group=True, limit=1, task_timeout=0.05)
    first = finished_events(group, 1)
    handle = group.start()
    assert await anyio.to_thread.run_sync(first.wait, 10)
    assert group.tasks[0].state is FAILED and group.tasks[1].state is TaskState.PENDING
    bodies.release.set()
    with pytest.raises(BaseExceptionGroup):
        await handle
    assert bodies.most == 1 and [t.state for t in group.tasks[1:]] == [DONE, DONE]


def test_a_sequence_still_moves_on_after_a_cancel(released: list[Bodies]) -> None:
    """Cancelling a running sync task of a sequence ends the sequence at once: the stuck body
    holds its slot, but nothing is left to wait for it."""
    bodies = Bodies()
    released.append(bodies)
    sequence = Tasks([Task(bodies, 1), Task(bodies, 2)])

    async def main() -> None:
        handle = sequence.start()
        assert await bodies.entered_async(1)
        sequence.tasks[0].cancel()
        with pytest.raises(backgrounder.TaskCancelled):
            await asyncio.wait_for(asyncio.ensure_future(_awaited(handle)), 10)

    asyncio.run(main())
    assert [t.state for t in sequence] == [CANCELLED, CANCELLED]
    assert sequence.tasks[0].thread_alive


async def _awaited(handle: backgrounder.Handle) -> Any:
    return await handle


def test_a_task_whose_thread_still_runs_cannot_run_again(released: list[Bodies]) -> None:
    bodies = Bodies()
    released.append(bodies)
    task = Task(bodies, 1)

    async def main() -> None:
        handle = task.start()
        assert await bodies.entered_async(1)
        task.cancel()
        with pytest.raises(backgrounder.TaskCancelled):
            await handle
        with pytest.raises(RuntimeError, match="still runs in its thread"):
            task.start()
        bodies.release.set()

    asyncio.run(main())
    assert wait_until(lambda: not task.thread_alive, 10)
    assert asyncio.run(task()) == 1


# -- abandoned threads do not starve new work (issue 13, item 7) ----------------------------------


@pytest.mark.anyio
async def test_threads_stuck_in_cancelled_tasks_do_not_starve_new_work(
    anyio_backend: str, released: list[Bodies]
) -> None:
    bodies = Bodies()
    released.append(bodies)
    n = worker_threads.max_threads + 5
    group = Tasks([Task(bodies, i) for i in range(n)], as_group=True)
    handle = group.start()
    assert await bodies.entered_async(worker_threads.max_threads)
    group.cancel()
    with pytest.raises(backgrounder.TaskCancelled):
        await handle
    assert sum(t.thread_alive for t in group) == worker_threads.max_threads
    assert thread_stats().abandoned == worker_threads.max_threads
    with anyio.fail_after(10):  # at once, in fact: it must not wait for a stuck thread
        assert await Task(sum, [1, 2])() == 3
        assert await Tasks([Task(sum, [i]) for i in range(100)], as_group=True)() == list(
            range(100)
        )
    bodies.release.set()
    assert await anyio.to_thread.run_sync(wait_until, lambda: thread_stats().abandoned == 0, 10)
    assert await anyio.to_thread.run_sync(
        wait_until, lambda: thread_stats().threads <= worker_threads.max_threads, 10
    )


@pytest.fixture
def few_extra_threads(monkeypatch: pytest.MonkeyPatch) -> int:
    monkeypatch.setattr(worker_threads, "max_extra", 3)
    return 3


def test_past_the_bound_stuck_threads_count_again_and_a_warning_says_so(
    few_extra_threads: int, released: list[Bodies], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING)
    bodies = Bodies()
    released.append(bodies)

    async def stuck(n: int) -> None:
        group = Tasks([Task(bodies, i) for i in range(n)], as_group=True)
        handle = group.start()
        assert await bodies.entered_async(bodies.entered + n)
        group.cancel()
        with pytest.raises(backgrounder.TaskCancelled):
            await handle

    async def main() -> None:
        await stuck(worker_threads.max_threads)
        await stuck(few_extra_threads)  # on the extra threads: now every thread is stuck
        stats = thread_stats()
        assert stats.abandoned == worker_threads.max_threads + few_extra_threads
        assert stats.threads == stats.abandoned and stats.max_extra == few_extra_threads
        late = Task(sum, [1]).start()  # no thread may be added: it waits for one...
        await asyncio.sleep(0)
        bodies.release.set()  # ...until the stuck bodies return
        assert await asyncio.wait_for(_awaited(late), 10) == 1

    asyncio.run(main())
    warnings = [r.getMessage() for r in caplog.records if "stuck in cancelled" in r.getMessage()]
    assert warnings and "43 worker threads are stuck" in warnings[0]


# -- nested sync groups never deadlock (issue 13, item 8) --------------------------------------


def leaf() -> int:
    return 1


def nested_by_handle(depth: int, fanout: int) -> int:
    """A sync task that builds a sync sub-group, starts it and waits for its handle."""
    if depth == 0:
        return leaf()
    group = Tasks([Task(nested_by_handle, depth - 1, fanout) for _ in range(fanout)], True)
    return sum(group.start().result(timeout=60))


def nested_by_asyncio_run(depth: int, fanout: int) -> int:
    """The same, running the sub-group on a loop of its own in the worker thread."""
    if depth == 0:
        return leaf()
    group = Tasks([Task(nested_by_asyncio_run, depth - 1, fanout) for _ in range(fanout)], True)
    return sum(asyncio.run(group()))


def nested_by_run_sync(depth: int, fanout: int) -> int:
    from backgrounder.concurrency import run_sync

    if depth == 0:
        return leaf()
    group = Tasks([Task(nested_by_run_sync, depth - 1, fanout) for _ in range(fanout)], True)
    return sum(run_sync(group()))


NESTINGS = [nested_by_handle, nested_by_asyncio_run, nested_by_run_sync]


@pytest.mark.anyio
@pytest.mark.parametrize("nested", NESTINGS, ids=lambda f: f.__name__)
async def test_nested_sync_groups_never_deadlock(
    anyio_backend: str, nested: Callable[[int, int], int]
) -> None:
    depth, fanout = 5, 3  # 121 tasks wait for sub-groups, three times the 40 threads
    group = Tasks([Task(nested, depth - 1, fanout) for _ in range(fanout)], as_group=True)
    with anyio.fail_after(120):  # it hung forever before
        assert await group() == [fanout ** (depth - 1)] * fanout
    assert thread_stats().waiting == 0


def test_nesting_past_the_bound_fails_at_once_with_a_clear_error(few_extra_threads: int) -> None:
    """With no thread left to add, a task about to wait for a sub-group raises instead of
    waiting forever."""
    depth, fanout = 4, 3

    async def main() -> BaseException:
        group = Tasks([Task(nested_by_asyncio_run, depth, fanout)], as_group=True)
        with pytest.raises(BaseExceptionGroup) as info:
            await asyncio.wait_for(group(), 60)
        return info.value

    error = asyncio.run(main())
    text = repr(error)
    while isinstance(error, BaseExceptionGroup):
        error = error.exceptions[0]
    assert isinstance(error, RuntimeError), text
    assert "in a worker thread: 3 worker threads already wait for other work" in str(error)
    assert "\n" not in str(error)
    assert wait_until(lambda: thread_stats().waiting == 0, 10)
