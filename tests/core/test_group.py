"""Tasks: sequences and groups, results in order, failures, limit, timeouts, cancellation."""

from __future__ import annotations

import asyncio
import sys
import threading
from contextvars import ContextVar

import anyio
import pytest

from backgrounder import Task, TaskCancelled, Tasks, TaskState, cancelled

if sys.version_info < (3, 11):  # pragma: no cover
    from exceptiongroup import BaseExceptionGroup, ExceptionGroup

pytestmark = pytest.mark.anyio


def ident(x: object) -> object:
    return x


async def aident(x: object) -> object:
    await anyio.sleep(0)
    return x


def fail(message: str) -> None:
    raise ValueError(message)


@pytest.mark.parametrize("as_group", [False, True])
async def test_results_in_the_order_added(as_group: bool) -> None:
    tasks = Tasks(as_group=as_group)
    for i in range(20):
        tasks.add_task(ident if i % 2 else aident, i)
    assert await tasks() == list(range(20))
    assert tasks.results == list(range(20))
    assert tasks.state == "done"
    assert tasks.counts()[TaskState.DONE] == 20


async def test_results_in_order_even_when_finishing_out_of_order() -> None:
    gates = [anyio.Event() for _ in range(3)]

    async def wait(i: int) -> int:
        await gates[i].wait()
        if i:
            gates[i - 1].set()
        return i

    tasks = Tasks([Task(wait, i) for i in range(3)], as_group=True)
    gates[2].set()  # 2 ends first, then 1, then 0
    assert await tasks() == [0, 1, 2]


async def test_sequence_runs_one_after_another() -> None:
    log: list[str] = []

    async def step(name: str) -> None:
        log.append(f"start {name}")
        await anyio.sleep(0)
        log.append(f"end {name}")

    tasks = Tasks()
    tasks.add_task(step, "a")
    tasks.add_task(step, "b")
    await tasks()
    assert log == ["start a", "end a", "start b", "end b"]


async def test_sequence_first_failure_stops_the_rest_and_is_raised_as_is() -> None:
    ran: list[int] = []
    tasks = Tasks()
    tasks.add_task(ran.append, 1)
    bad = tasks.add_task(fail, "second")
    after = tasks.add_task(ran.append, 3)
    with pytest.raises(ValueError, match="second") as info:
        await tasks()
    assert info.value is bad.exception
    assert ran == [1]
    assert after.state == "cancelled"
    assert tasks.state == "failed"
    assert tasks.exception is bad.exception


async def test_group_runs_everything_then_raises_an_exception_group() -> None:
    tasks = Tasks(as_group=True)
    ok = tasks.add_task(aident, "fine")
    tasks.add_task(fail, "one")
    tasks.add_task(fail, "two")
    with pytest.raises(ExceptionGroup) as info:
        await tasks()
    assert sorted(str(e) for e in info.value.exceptions) == ["one", "two"]
    assert "2 of 3 tasks failed" in str(info.value)
    assert ok.state == "done" and ok.result == "fine"
    assert tasks.state == "failed"
    for task in tasks:
        if task.state == "failed":
            assert task.traceback is not None and "in fail" in task.traceback


async def test_group_keeps_base_exceptions() -> None:
    def leave() -> None:
        raise SystemExit(3)

    tasks = Tasks([Task(leave), Task(ident, 1)], as_group=True)
    with pytest.raises(BaseExceptionGroup) as info:
        await tasks()
    assert isinstance(info.value.exceptions[0], SystemExit)


async def test_fail_fast_cancels_the_rest() -> None:
    started = anyio.Event()
    stopped: list[str] = []

    async def slow() -> None:
        started.set()
        try:
            await anyio.sleep_forever()
        finally:
            stopped.append("slow")

    async def failing() -> None:
        await started.wait()
        raise ValueError("fast")

    tasks = Tasks([Task(slow), Task(failing), Task(ident, 1)], as_group=True, fail_fast=True)
    with pytest.raises(ExceptionGroup):
        await tasks()
    assert stopped == ["slow"]
    states = [t.state for t in tasks]
    assert states[0] == "cancelled" and states[1] == "failed"


@pytest.mark.parametrize("kind", ["sync", "async"])
async def test_limit_is_never_exceeded(kind: str) -> None:
    lock = threading.Lock()
    now, peak = [0], [0]

    def enter() -> None:
        with lock:
            now[0] += 1
            peak[0] = max(peak[0], now[0])

    def leave() -> None:
        with lock:
            now[0] -= 1

    def sync_work(i: int) -> int:
        enter()
        threading.Event().wait(0.001)  # let the others pile up
        leave()
        return i

    async def async_work(i: int) -> int:
        enter()
        for _ in range(3):
            await anyio.sleep(0)
        leave()
        return i

    work = sync_work if kind == "sync" else async_work
    tasks = Tasks([Task(work, i) for i in range(60)], as_group=True, limit=3)
    assert await tasks() == list(range(60))
    assert peak[0] == 3


async def test_group_timeout() -> None:
    async def forever() -> None:
        await anyio.sleep_forever()

    tasks = Tasks([Task(ident, 1), Task(forever)], as_group=True, timeout=0.05)
    with pytest.raises(TimeoutError, match=r"timed out after 0\.05 s, with 1 of 2 tasks done"):
        await tasks()
    assert tasks.state == "failed"
    assert [t.state for t in tasks] == ["done", "cancelled"]


async def test_task_timeout_applies_to_each_task() -> None:
    async def forever() -> None:
        await anyio.sleep_forever()

    slow = Task(forever)
    tasks = Tasks([slow, Task(aident, 2)], as_group=True, task_timeout=0.05)
    with pytest.raises(ExceptionGroup) as info:
        await tasks()
    assert isinstance(info.value.exceptions[0], TimeoutError)
    assert slow.state == "failed"
    assert slow.timeout is None  # the group's bound is not written into the task


async def test_group_cancel() -> None:
    started = anyio.Event()

    async def forever() -> None:
        started.set()
        await anyio.sleep_forever()

    tasks = Tasks([Task(forever), Task(forever)], as_group=True)
    raised: list[BaseException] = []

    async def run() -> None:
        try:
            await tasks()
        except TaskCancelled as exc:
            raised.append(exc)

    async with anyio.create_task_group() as tg:
        tg.start_soon(run)
        await started.wait()
        assert tasks.running
        assert tasks.cancel()
    assert raised and "was cancelled with 0 of 2 tasks done" in str(raised[0])
    assert tasks.state == "cancelled"
    assert not tasks.running
    assert not tasks.cancel()


async def test_member_cancelled_in_a_group_lets_the_others_finish() -> None:
    started = anyio.Event()
    release = anyio.Event()

    async def forever() -> None:
        started.set()
        await anyio.sleep_forever()

    async def later() -> str:
        await release.wait()
        return "later"

    stuck, other = Task(forever), Task(later)
    tasks = Tasks([stuck, other], as_group=True)
    raised: list[BaseException] = []

    async def run() -> None:
        try:
            await tasks()
        except TaskCancelled as exc:
            raised.append(exc)

    async with anyio.create_task_group() as tg:
        tg.start_soon(run)
        await started.wait()
        stuck.cancel()
        release.set()
    assert other.result == "later" and other.state == "done"
    assert stuck.state == "cancelled"
    assert tasks.state == "cancelled" and raised
    assert tasks.results == [None, "later"]


async def test_member_cancelled_in_a_sequence_stops_the_rest() -> None:
    started = anyio.Event()

    async def forever() -> None:
        started.set()
        await anyio.sleep_forever()

    ran: list[int] = []
    tasks = Tasks([Task(forever), Task(ran.append, 1)])
    raised: list[BaseException] = []

    async def run() -> None:
        try:
            await tasks()
        except TaskCancelled as exc:
            raised.append(exc)

    async with anyio.create_task_group() as tg:
        tg.start_soon(run)
        await started.wait()
        tasks.tasks[0].cancel()
    assert ran == [] and raised
    assert [t.state for t in tasks] == ["cancelled", "cancelled"]


async def test_cooperative_cancel_of_a_sync_member() -> None:
    started, stopped = threading.Event(), threading.Event()

    def polite() -> None:
        started.set()
        while not cancelled():
            stopped.wait(0.005)
        stopped.set()

    task = Task(polite)
    tasks = Tasks([task], as_group=True)

    async def run() -> None:
        with pytest.raises(TaskCancelled):
            await tasks()

    async with anyio.create_task_group() as tg:
        tg.start_soon(run)
        await anyio.to_thread.run_sync(started.wait, 10)
        assert task.cancel()
        assert task.state == "cancelled"  # at once, though the thread still runs
    assert await anyio.to_thread.run_sync(stopped.wait, 10)


async def test_the_same_task_twice_is_refused() -> None:
    task = Task(ident, 1)
    tasks = Tasks([task, task], as_group=True)
    with pytest.raises(ValueError, match="appears twice"):
        await tasks()
    assert task.state == "pending"


async def test_no_changes_while_running() -> None:
    started, release = anyio.Event(), anyio.Event()

    async def wait() -> None:
        started.set()
        await release.wait()

    tasks = Tasks([Task(wait)])
    async with anyio.create_task_group() as tg:
        tg.start_soon(tasks)
        await started.wait()
        with pytest.raises(RuntimeError, match="while it runs"):
            tasks.add_task(ident, 1)
        with pytest.raises(RuntimeError, match="while it runs"):
            await tasks()
        release.set()


async def test_a_task_queued_in_one_group_cannot_run_elsewhere() -> None:
    started, release = anyio.Event(), anyio.Event()

    async def wait() -> None:
        started.set()
        await release.wait()

    queued = Task(ident, 1)
    first = Tasks([Task(wait), queued])
    async with anyio.create_task_group() as tg:
        tg.start_soon(first)
        await started.wait()
        with pytest.raises(RuntimeError, match="already running"):
            await Tasks([queued])()
        release.set()
    assert queued.state == "done"


async def test_empty_group_and_rerun() -> None:
    assert await Tasks(as_group=True)() == []
    tasks = Tasks([Task(ident, 1)])
    assert await tasks() == [1]
    assert await tasks() == [1]


async def test_nested_groups() -> None:
    inner = Tasks([Task(ident, 1), Task(aident, 2)], as_group=True)
    outer = Tasks([Task(inner), Task(ident, 3)])
    assert await outer() == [[1, 2], 3]


def test_repr_len_iter() -> None:
    tasks = Tasks([Task(ident, 1)], as_group=True, name="batch")
    assert repr(tasks) == "<Tasks 'batch' group of 1 pending>"
    assert len(tasks) == 1 and list(tasks) == tasks.tasks
    assert Tasks().name.startswith("Tasks #")
    assert tasks.elapsed is None and tasks.started_at is None


async def test_cancel_from_another_thread() -> None:
    started = anyio.Event()
    finalized: list[str] = []

    async def forever() -> None:
        started.set()
        try:
            await anyio.sleep_forever()
        finally:
            finalized.append("async")

    sync_started = threading.Event()

    def polite() -> None:
        sync_started.set()
        while not cancelled():
            threading.Event().wait(0.002)
        finalized.append("sync")

    tasks = Tasks([Task(forever), Task(polite), Task(ident, 1)], as_group=True, limit=2)
    raised: list[BaseException] = []

    async def run() -> None:
        try:
            await tasks()
        except TaskCancelled as exc:
            raised.append(exc)

    async with anyio.create_task_group() as tg:
        tg.start_soon(run)
        await started.wait()
        await anyio.to_thread.run_sync(sync_started.wait, 10)
        assert await anyio.to_thread.run_sync(tasks.cancel)  # from a worker thread
    assert raised and tasks.state == "cancelled"
    states = [t.state for t in tasks]
    assert states[:2] == ["cancelled", "cancelled"]
    assert states[2] in ("cancelled", "done")  # trio may start tasks in any order
    assert "async" in finalized


def test_an_outer_timeout_around_a_group_is_still_a_timeout() -> None:
    """Interrupt's one-line rendering keeps asyncio's own CancelledError: asyncio's timeouts
    recognise their cancel by its type."""

    async def main() -> Tasks:
        group = Tasks([Task(asyncio.sleep, 30) for _ in range(3)], as_group=True)
        with pytest.raises(asyncio.TimeoutError):
            await asyncio.wait_for(group(), 0.05)
        return group

    group = asyncio.run(main())
    assert group.state is TaskState.CANCELLED


_seen_by_next: ContextVar[int | None] = ContextVar("seen_by_next", default=None)


async def leave_a_mark(i: int) -> int | None:
    seen = _seen_by_next.get()
    _seen_by_next.set(i)
    await anyio.sleep(0)
    return seen


@pytest.mark.parametrize("limit", [1, 2])
async def test_a_task_started_in_a_freed_slot_does_not_see_the_last_ones_context(
    limit: int,
) -> None:
    """The next task starts when one ends, but in the run's context, not in the ended one's."""
    tasks = Tasks([Task(leave_a_mark, i) for i in range(6)], as_group=True, limit=limit)
    assert await tasks() == [None] * 6
