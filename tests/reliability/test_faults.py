"""Faults: failing tasks, broken reprs, BaseExceptions, cancellation races, tasks that ignore
cancellation, views that raise, event loops that close under running work."""

from __future__ import annotations

import asyncio
import logging
import subprocess
import sys
import textwrap
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any

import anyio
import pytest

import backgrounder
from backgrounder import EventKind, Handle, Task, TaskCancelled, Tasks, TaskState
from backgrounder._errors import BaseExceptionGroup, ExceptionGroup

DONE, FAILED, CANCELLED = TaskState.DONE, TaskState.FAILED, TaskState.CANCELLED
# Work left pending on closed loops: kept so that its coroutines are not collected (asyncio
# would print "Task was destroyed but it is pending!") while the tests run.
_abandoned: list[Handle] = []


async def wait_for(handle: Handle, timeout: float) -> Any:
    async def waiting() -> Any:
        return await handle

    return await asyncio.wait_for(waiting(), timeout)


@pytest.fixture
def errors(caplog: pytest.LogCaptureFixture) -> Iterator[list[logging.LogRecord]]:
    """The ERROR records logged meanwhile (a worker thread's crash, a listener's failure)."""
    caplog.set_level(logging.WARNING)
    records: list[logging.LogRecord] = []
    yield records
    records.extend(r for r in caplog.records if r.levelno >= logging.ERROR)


# -- every task failing ------------------------------------------------------------------------


def fail(i: int) -> None:
    raise ValueError(f"task {i} failed")


async def async_fail(i: int) -> None:
    await anyio.sleep(0)
    raise ValueError(f"task {i} failed")


@pytest.mark.anyio
async def test_every_task_of_a_group_failing_is_reported_one_by_one(anyio_backend: str) -> None:
    from backgrounder.notebook.render import group_html, group_text
    from backgrounder.notebook.sources import GroupSource
    from backgrounder.notebook.tracker import WINDOW

    n = 300
    group = Tasks(as_group=True, limit=50)
    for i in range(n):
        group.add_task(fail if i % 2 else async_fail, i)
    with pytest.raises(ExceptionGroup) as info:
        await group()
    assert len(info.value.exceptions) == n
    assert sorted(str(e) for e in info.value.exceptions) == sorted(
        f"task {i} failed" for i in range(n)
    )
    assert group.state is FAILED
    assert group.counts()[FAILED] == n
    for i, task in enumerate(group):
        assert str(task.exception) == f"task {i} failed"
        assert task.result is None
        assert f"task {i} failed" in (task.traceback or "")
    snap = GroupSource(group).snapshot()
    assert snap.error is not None and f"{n} of {n} tasks failed" in snap.error
    assert len(snap.rows) == WINDOW and all(row.state is FAILED for row in snap.rows)
    assert f"{n} failed" in group_text(snap)
    assert "ValueError" in group_html(snap)


@pytest.mark.anyio
async def test_fail_fast_and_sequences_leave_every_task_in_a_final_state(
    anyio_backend: str,
) -> None:
    fast = Tasks([Task(fail if i % 2 else async_fail, i) for i in range(100)], as_group=True)
    fast.fail_fast = True
    with pytest.raises(ExceptionGroup):
        await fast()
    assert all(task.state in (FAILED, CANCELLED) for task in fast)
    assert fast.counts()[FAILED] >= 1

    sequence = Tasks([Task(fail, i) for i in range(10)])
    with pytest.raises(ValueError, match="task 0 failed"):
        await sequence()
    assert [task.state for task in sequence] == [FAILED] + [CANCELLED] * 9


# -- broken __repr__ and __str__ ---------------------------------------------------------------


class BrokenRepr:
    def __repr__(self) -> str:
        raise RuntimeError("repr is broken")

    __str__ = __repr__


class NotAString:
    def __repr__(self) -> Any:
        return 42


class Huge:
    def __repr__(self) -> str:
        return "h" * 10_000_000


class BrokenError(Exception):
    def __str__(self) -> str:
        raise RuntimeError("str is broken")

    __repr__ = __str__


def give(value: object) -> object:
    return value


def raise_broken(_: object) -> None:
    raise BrokenError


@pytest.mark.parametrize("value", [BrokenRepr(), NotAString(), Huge()], ids=type)
def test_broken_reprs_of_arguments_results_and_errors_never_break_a_table(value: object) -> None:
    from backgrounder.notebook.render import group_html, group_text, row_detail_html
    from backgrounder.notebook.snapshot import snapshot_task
    from backgrounder.notebook.sources import GroupSource

    group = Tasks(as_group=True)
    good = group.add_task(give, value)
    bad = group.add_task(raise_broken, value)
    keyword = group.add_task(give, value=value)

    async def main() -> None:
        with pytest.raises(ExceptionGroup):
            await group()

    asyncio.run(main())
    assert good.state is DONE and good.result is value
    assert keyword.state is DONE
    assert bad.state is FAILED and isinstance(bad.exception, BrokenError)
    for task in group:
        assert len(task.name) < 200
        repr(task)
        row = snapshot_task(task)
        assert len(row.name) < 200
        row_detail_html(row)
    assert "BrokenError" in (bad.traceback or "")
    snap = GroupSource(group).snapshot()
    text, html = group_text(snap), group_html(snap)
    assert "BrokenError" in text and "BrokenError" in html
    assert len(text) < 5_000
    repr(group)


# -- BaseExceptions ------------------------------------------------------------------------------

BASE_EXCEPTIONS = [KeyboardInterrupt, SystemExit, GeneratorExit]


def raiser(kind: type[BaseException], is_async: bool) -> Callable[[], Any]:
    def sync_raise() -> None:
        raise kind("raised by the task")

    async def async_raise() -> None:
        await anyio.sleep(0)
        raise kind("raised by the task")

    return async_raise if is_async else sync_raise


@pytest.mark.parametrize("is_async", [False, True], ids=["sync", "async"])
@pytest.mark.parametrize("kind", BASE_EXCEPTIONS, ids=lambda k: k.__name__)
def test_a_base_exception_in_a_task_is_a_failure_and_the_loop_survives(
    kind: type[BaseException], is_async: bool
) -> None:
    async def main() -> None:
        alone = Task(raiser(kind, is_async))
        with pytest.raises(kind):
            await alone()
        assert alone.state is FAILED and isinstance(alone.exception, kind)

        group = Tasks([Task(raiser(kind, is_async)), Task(give, 1)], as_group=True)
        with pytest.raises(BaseExceptionGroup) as info:
            await group()
        assert [type(e) for e in info.value.exceptions] == [kind]
        assert [t.state for t in group] == [FAILED, DONE]

        handle = Task(raiser(kind, is_async)).start()
        with pytest.raises(kind):  # awaited here: asyncio re-raises it out of a wrapping task
            await handle
        await asyncio.sleep(0.001)  # the loop still turns
        assert await Task(give, "after")() == "after"

    asyncio.run(main())
    # on the library's loop thread too
    handle = Task(raiser(kind, is_async)).start(thread_loop=True)
    with pytest.raises(kind):
        handle.result(timeout=10)
    assert Task(give, "still alive").start(thread_loop=True).result(timeout=10) == "still alive"


@pytest.mark.anyio
@pytest.mark.parametrize("kind", BASE_EXCEPTIONS, ids=lambda k: k.__name__)
async def test_base_exceptions_in_a_group_on_any_backend(
    anyio_backend: str, kind: type[BaseException]
) -> None:
    group = Tasks([Task(raiser(kind, True)), Task(raiser(kind, False)), Task(give, 1)], True)
    with pytest.raises(BaseExceptionGroup):
        await group()
    assert [t.state for t in group] == [FAILED, FAILED, DONE]


# -- cancellation racing completion --------------------------------------------------------------


def quick(i: int) -> int:
    return i


async def async_quick(i: int) -> int:
    await anyio.sleep(0)
    return i


@pytest.fixture
def busy_switching() -> Iterator[None]:
    """Switch threads far more often than every 5 ms, to hit more interleavings."""
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-5)
    yield
    sys.setswitchinterval(interval)


def check_final(task: Task, finished_events: int) -> None:
    """Exactly one final state; a result only if done; an exception only if failed."""
    assert task.state.finished, task
    assert finished_events == 1, (task, finished_events)
    assert (task.result is not None) == (task.state is DONE), task
    assert (task.exception is not None) == (task.state is FAILED), task


def test_cancel_racing_completion_always_leaves_one_consistent_state(busy_switching: None) -> None:
    finished: Counter[int] = Counter()

    def count(event: backgrounder.TaskEvent) -> None:
        if event.kind is EventKind.FINISHED and isinstance(event.task, Task):
            finished[event.task.id] += 1

    async def main() -> Counter[tuple[str, str]]:
        seen: Counter[tuple[str, str]] = Counter()
        for it in range(1_200):
            func = quick if it % 2 else async_quick
            task = Task(func, it + 1)
            handle = task.start()
            mode = it % 4
            canceller = None
            if mode == 0:
                handle.cancel()
            elif mode == 1:
                canceller = threading.Thread(target=handle.cancel)
            elif mode == 2:

                def when_running(task: Task = task) -> None:
                    while task.state is TaskState.PENDING:
                        time.sleep(0)
                    task.cancel()

                canceller = threading.Thread(target=when_running)
            else:
                for _ in range(it % 3):
                    await asyncio.sleep(0)
                handle.cancel()
            if canceller is not None:
                canceller.start()
            try:
                outcome: Any = await wait_for(handle, 10)
            except TaskCancelled:
                outcome = None
            if canceller is not None:
                canceller.join()
            await asyncio.sleep(0)
            check_final(task, finished[task.id])
            assert (outcome is not None) == (task.state is DONE)
            if outcome is not None:
                assert outcome == it + 1
            seen[mode, task.state.value] += 1
        return seen

    unsubscribe = backgrounder.subscribe(count)
    try:
        seen = asyncio.run(main())
    finally:
        unsubscribe()
    assert sum(seen.values()) == 1_200


def test_cancelling_a_group_while_its_tasks_finish_leaves_consistent_states(
    busy_switching: None,
) -> None:
    finished: Counter[int] = Counter()

    def count(event: backgrounder.TaskEvent) -> None:
        if event.kind is EventKind.FINISHED and isinstance(event.task, Task):
            finished[event.task.id] += 1

    async def main() -> None:
        for it in range(150):
            group = Tasks(as_group=True, limit=4)
            for i in range(12):
                group.add_task(quick if i % 2 else async_quick, i + 1)
            handle = group.start()
            for _ in range(it % 6):
                await asyncio.sleep(0)
            threading.Thread(target=group.cancel).start()
            try:
                results = await wait_for(handle, 10)
            except TaskCancelled:
                results = None
            for task in group:
                check_final(task, finished[task.id])
            states = {task.state for task in group}
            # cancel() may land after the last task ended: the group then says cancelled too
            assert group.state is CANCELLED or states == {DONE}
            assert (results is not None) == (group.state is DONE)
            if results is not None:
                assert results == list(range(1, 13))

    unsubscribe = backgrounder.subscribe(count)
    try:
        asyncio.run(main())
    finally:
        unsubscribe()


def test_task_cancel_right_after_start_is_honoured() -> None:
    async def main() -> None:
        task = Task(async_quick, 1)
        handle = task.start()
        assert task.cancel()
        with pytest.raises(TaskCancelled):
            await wait_for(handle, 10)
        assert task.state is CANCELLED

    asyncio.run(main())


# -- tasks that ignore cancellation --------------------------------------------------------------


@pytest.fixture
def short_grace(monkeypatch: pytest.MonkeyPatch) -> float:
    grace = 0.3
    monkeypatch.setattr("backgrounder._runners.CANCEL_GRACE", grace)
    return grace


class Stubborn:
    """An async function that swallows CancelledError until released (then it returns)."""

    def __init__(self) -> None:
        self.started = threading.Event()
        self.released = False
        self.swallowed = 0

    async def __call__(self) -> str:
        self.started.set()
        while not self.released:
            try:
                await asyncio.sleep(0.02)
            except asyncio.CancelledError:
                self.swallowed += 1
        return "finally returned"


def warnings_about(caplog: pytest.LogCaptureFixture, task: Task) -> list[str]:
    return [
        r.getMessage()
        for r in caplog.records
        if "ignored cancellation" in r.getMessage() and task.name in r.getMessage()
    ]


def test_an_async_task_ignoring_cancel_is_given_up_on_and_reported(
    short_grace: float, caplog: pytest.LogCaptureFixture
) -> None:
    stubborn = Stubborn()

    async def main() -> tuple[Tasks, float]:
        group = Tasks([Task(stubborn), Task(async_quick, 1)], as_group=True)
        handle = group.start()
        while not stubborn.started.is_set():
            await asyncio.sleep(0.01)
        start = time.monotonic()
        handle.cancel()
        with pytest.raises(TaskCancelled):
            await wait_for(handle, 10)
        waited = time.monotonic() - start
        stubborn.released = True
        await asyncio.sleep(0.1)  # it returns now; its late result is not recorded
        return group, waited

    group, waited = asyncio.run(main())
    task = group.tasks[0]
    assert waited < short_grace + 2
    assert stubborn.swallowed >= 1
    assert task.state is CANCELLED and task.cancel_requested and task.result is None
    assert group.state is CANCELLED
    assert len(warnings_about(caplog, task)) == 1


def test_an_interrupted_await_is_not_held_by_a_task_ignoring_cancel(
    short_grace: float, caplog: pytest.LogCaptureFixture
) -> None:
    stubborn = Stubborn()
    group = Tasks([Task(stubborn)], as_group=True)

    async def main() -> float:
        run = asyncio.ensure_future(group())
        while not stubborn.started.is_set():
            await asyncio.sleep(0.01)
        start = time.monotonic()
        run.cancel()  # what the kernel's Interrupt does to an awaiting cell
        with pytest.raises(asyncio.CancelledError):
            await run
        stubborn.released = True
        return time.monotonic() - start

    assert asyncio.run(main()) < short_grace + 2
    assert group.tasks[0].state is CANCELLED and group.state is CANCELLED
    assert len(warnings_about(caplog, group.tasks[0])) == 1


def test_a_timeout_is_not_held_by_a_task_ignoring_cancel(
    short_grace: float, caplog: pytest.LogCaptureFixture
) -> None:
    stubborn = Stubborn()
    task = Task(stubborn).options(timeout=0.1)

    async def main() -> None:
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(task(), 10)
        stubborn.released = True

    asyncio.run(main())
    assert task.state is FAILED and isinstance(task.exception, TimeoutError)
    assert len(warnings_about(caplog, task)) == 1


def test_shutdown_is_bounded_with_a_task_ignoring_cancel(short_grace: float) -> None:
    stubborn = Stubborn()
    handle = Task(stubborn).start(thread_loop=True)
    assert stubborn.started.wait(10)
    start = time.monotonic()
    backgrounder.shutdown(timeout=0, grace=0.5)
    assert time.monotonic() - start < 3
    assert handle.done() and handle.state is CANCELLED
    stubborn.released = True


def test_a_sync_task_ignoring_cancel_is_marked_at_once_and_its_thread_reported() -> None:
    release = threading.Event()
    started = threading.Event()

    def deaf() -> str:
        started.set()
        release.wait(30)  # never looks at backgrounder.cancelled()
        return "too late"

    group = Tasks([Task(deaf), Task(quick, 1)], as_group=True)

    async def main() -> float:
        handle = group.start()
        while not started.is_set():
            await asyncio.sleep(0.01)
        begin = time.monotonic()
        handle.cancel()
        with pytest.raises(TaskCancelled):
            await wait_for(handle, 10)
        return time.monotonic() - begin

    assert asyncio.run(main()) < 2
    task = group.tasks[0]
    assert task.state is CANCELLED and task.thread_alive  # reported: its thread still runs
    release.set()
    deadline = time.monotonic() + 10
    while task.thread_alive and time.monotonic() < deadline:
        time.sleep(0.01)
    assert not task.thread_alive
    assert task.state is CANCELLED and task.result is None


# -- views that raise ------------------------------------------------------------------------------


def test_a_raising_listener_is_reported_once_and_the_work_goes_on(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING)
    events: Counter[EventKind] = Counter()
    lock = threading.Lock()

    def broken_view(event: backgrounder.TaskEvent) -> None:
        raise RuntimeError("the view broke")

    def broken_group_view(event: backgrounder.TaskEvent) -> None:
        raise RuntimeError("the group view broke")

    def good_view(event: backgrounder.TaskEvent) -> None:
        with lock:
            events[event.kind] += 1

    n = 200
    group = Tasks(as_group=True)
    for i in range(n):
        group.add_task(quick if i % 2 else async_quick, i)
    unsubscribes = [
        backgrounder.subscribe(broken_view),
        backgrounder.subscribe(good_view),
        group.subscribe(broken_group_view),
    ]
    try:
        assert asyncio.run(group()) == list(range(n))
    finally:
        for unsubscribe in unsubscribes:
            unsubscribe()
    assert events[EventKind.FINISHED] == n + 1  # every task, and the group
    reports = [r for r in caplog.records if "listener" in r.getMessage()]
    assert len(reports) == 2, [r.getMessage() for r in reports]
    assert all(r.levelno == logging.ERROR and r.exc_info for r in reports)


# -- event loops closing under running work ---------------------------------------------------


def test_asyncio_run_ending_under_a_running_group_cancels_it_cleanly(
    errors: list[logging.LogRecord],
) -> None:
    release = threading.Event()
    finally_ran: list[int] = []
    started: list[int] = []

    def sync_work(i: int) -> int:
        started.append(i)
        release.wait(10)
        return i

    async def async_work(i: int) -> int:
        started.append(i)
        try:
            await asyncio.sleep(3600)
        finally:
            finally_ran.append(i)
        return i

    async def main() -> tuple[Tasks, Handle]:
        group = Tasks(as_group=True)
        for i in range(6):
            group.add_task(sync_work if i % 2 else async_work, i)
        handle = group.start()
        while len(started) < 6:
            await asyncio.sleep(0.01)
        return group, handle  # asyncio.run now cancels what is left and closes the loop

    group, handle = asyncio.run(main())
    assert handle.done()
    with pytest.raises(TaskCancelled):
        handle.result(0)
    assert group.state is CANCELLED
    assert sorted(finally_ran) == [0, 2, 4]
    assert all(task.state is CANCELLED for task in group)
    release.set()
    deadline = time.monotonic() + 10
    while any(task.thread_alive for task in group) and time.monotonic() < deadline:
        time.sleep(0.01)
    assert all(task.state is CANCELLED and task.result is None for task in group)
    assert not backgrounder.running_handles()


def test_a_loop_closed_without_cancelling_neither_hangs_nor_raises(
    errors: list[logging.LogRecord],
) -> None:
    release = threading.Event()
    started = threading.Event()

    def sync_work(i: int) -> int:
        release.wait(10)
        return i

    async def async_work() -> None:
        started.set()
        await asyncio.sleep(3600)

    async def begin() -> tuple[Tasks, Handle]:
        group = Tasks([Task(sync_work, 1), Task(sync_work, 2), Task(async_work)], True)
        handle = group.start()
        while not started.is_set():
            await asyncio.sleep(0.01)
        return group, handle

    loop = asyncio.new_event_loop()
    group, handle = loop.run_until_complete(begin())
    loop.close()
    release.set()  # the sync tasks end in their threads, with nobody left to wake
    deadline = time.monotonic() + 10
    while not all(t.state.finished for t in group.tasks[:2]) and time.monotonic() < deadline:
        time.sleep(0.01)
    assert [t.result for t in group.tasks[:2]] == [1, 2]
    start = time.monotonic()
    with pytest.raises(TaskCancelled, match="event loop was closed"):
        handle.result(timeout=0.2)  # settles at once: nothing could ever finish the run
    assert not handle.cancel()  # already settled, and no "Event loop is closed"
    assert group.tasks[2].state is CANCELLED and group.state is CANCELLED
    backgrounder.shutdown(timeout=0.2, grace=0.2)
    assert time.monotonic() - start < 3
    handle._settle(None, TaskCancelled("test clean-up"))  # leave no live handle behind
    _abandoned.append(handle)


def test_a_group_whose_loop_was_closed_ends_cancelled() -> None:
    async def forever() -> None:
        await asyncio.sleep(3600)

    async def begin() -> tuple[Tasks, Handle]:
        group = Tasks([Task(forever)], as_group=True)
        handle = group.start()
        await asyncio.sleep(0.01)
        return group, handle

    loop = asyncio.new_event_loop()
    group, handle = loop.run_until_complete(begin())
    loop.close()
    try:
        handle.cancel()
        assert handle.done()
        assert group.state is CANCELLED
        assert not group.running and group.tasks[0].state is CANCELLED
        with pytest.raises(TaskCancelled, match="event loop was closed"):
            handle.result(timeout=1)
    finally:
        handle._settle(None, TaskCancelled("test clean-up"))
        _abandoned.append(handle)


# -- waiting from sync code on the work's own loop (issue 13, item 1) -------------------------


def test_result_and_exception_time_out_on_the_works_own_loop() -> None:
    """A sync cell waiting for work started in an earlier cell: TimeoutError, never None.

    In a child process: re-entering the loop applies nest-asyncio2, which patches asyncio.
    """
    script = textwrap.dedent(
        """
        import asyncio
        from backgrounder import Task, TaskState

        async def main():
            release = asyncio.Event()

            async def slow():
                await release.wait()
                return "finished"

            handle = Task(slow).start()
            for wait in (handle.result, handle.exception):
                try:
                    outcome = wait(timeout=0.05)  # sync code on the loop that runs the work
                except TimeoutError as exc:
                    print("TimeoutError:", exc)
                else:
                    print("returned", repr(outcome))
            print(handle.done(), handle.state)  # the work goes on
            release.set()
            print(handle.result(timeout=10), handle.exception(timeout=10))

        asyncio.run(main())
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [
        "TimeoutError: main.<locals>.slow() did not finish within 0.05 s",
        "TimeoutError: main.<locals>.slow() did not finish within 0.05 s",
        "False running",
        "finished None",
    ]


# -- a task running in one group, started in another (issue 13, item 9) -------------------------


@pytest.mark.anyio
async def test_starting_a_group_holding_a_busy_task_is_refused_at_once(anyio_backend: str) -> None:
    release = anyio.Event()

    async def wait() -> str:
        await release.wait()
        return "done"

    first = Tasks([Task(wait), Task(quick, 1)], as_group=True, name="first")
    shared = first.tasks[0]
    seen: list[tuple[EventKind, object]] = []
    first.subscribe(lambda event: seen.append((event.kind, event.task)))
    handle = first.start()
    while shared.state is not TaskState.RUNNING:
        await anyio.sleep(0.001)
    second = Tasks([Task(quick, 2), shared], as_group=True, name="second")
    second_events: list[backgrounder.TaskEvent] = []
    second.subscribe(second_events.append)
    with pytest.raises(RuntimeError, match="is already running; wait for it"):
        second.start()
    with pytest.raises(RuntimeError, match="is already running"):
        await second()
    assert shared.group is first  # untouched
    assert second.state is TaskState.PENDING and not second.running and second_events == []
    assert second.tasks[0].state is TaskState.PENDING and second.tasks[0].group is None
    release.set()
    assert await handle == ["done", 1]
    assert (EventKind.FINISHED, shared) in seen and seen[-1] == (EventKind.FINISHED, first)
    assert first.counts()[DONE] == 2 and first.state is DONE
    assert await second.start() == [2, "done"]  # once it is free, it runs
    with pytest.raises(ValueError, match="appears twice in one run"):
        Tasks([shared, shared]).start()


# -- a group's timeout racing completion, and hiding failures (issue 13, items 3 and 4) ---------


@pytest.mark.anyio
async def test_work_that_ended_in_time_has_not_timed_out_when_the_loop_acts_late(
    anyio_backend: str,
) -> None:
    """Every task ends in its thread well before the deadline, but the loop is blocked (a
    blocking cell) until after it: the group is done, not timed out. Several rounds: trio
    runs the woken tasks in a random order."""
    n, timeout = 3, 1.0  # room to hand the tasks out on a busy machine
    for _ in range(3):
        go, ended = threading.Event(), threading.Semaphore(0)

        def work(i: int, go: threading.Event = go, ended: threading.Semaphore = ended) -> int:
            go.wait(10)
            ended.release()
            return i

        group = Tasks([Task(work, i) for i in range(n)], as_group=True, timeout=timeout)
        handle = group.start()
        while any(task.state is TaskState.PENDING for task in group):
            await anyio.sleep(0)  # until every task is handed to its thread
        past_deadline = time.monotonic() + timeout + 0.05  # the run began before now
        go.set()  # they end while the loop is blocked
        for _ in range(n):
            assert ended.acquire(timeout=10)
        time.sleep(max(0.0, past_deadline - time.monotonic()))  # a blocked loop (a cell)
        assert await handle == list(range(n))
        assert group.state is DONE and group.exception is None
        assert all(task.state is DONE for task in group)


@pytest.mark.anyio
async def test_a_group_timeout_keeps_the_failures_before_it(anyio_backend: str) -> None:
    async def declined() -> None:
        raise ValueError("card declined")

    async def forever() -> None:
        await anyio.sleep_forever()

    group = Tasks(
        [Task(declined), Task(forever), Task(quick, 3)], as_group=True, timeout=0.1, name="pay"
    )
    with pytest.raises(BaseExceptionGroup) as info:
        await group()
    error = info.value
    assert str(error).startswith("1 of 3 tasks failed in pay, and it timed out after 0.1 s")
    values, rest = error.split(ValueError)  # what `except* ValueError` sees (3.10 too)
    timeouts, rest = rest.split(TimeoutError) if rest is not None else (None, None)
    assert values is not None and timeouts is not None and rest is None
    caught = [*values.exceptions, *timeouts.exceptions]
    assert [type(e) for e in caught] == [ValueError, TimeoutError]
    assert str(caught[0]) == "card declined"
    assert (
        str(caught[1]) == "pay timed out after 0.1 s, with 1 of 3 tasks done, 1 failed, 1 cancelled"
    )
    assert [t.state for t in group] == [FAILED, CANCELLED, DONE]
    assert group.state is FAILED and group.exception is error

    alone = Tasks([Task(forever), Task(quick, 1)], as_group=True, timeout=0.05, name="alone")
    with pytest.raises(
        TimeoutError, match=r"^alone timed out after 0\.05 s, with 1 of 2 tasks done, 1 cancelled$"
    ):
        await alone()


def test_starting_twice_before_the_run_begins_is_refused_at_once() -> None:
    """start() returns before the run begins (at the loop's next turn): a second start of the
    same work, or of a group sharing one of its tasks, is refused there, not later."""

    async def main() -> None:
        shared = Task(quick, 1)
        first = Tasks([shared, Task(quick, 2)], as_group=True)
        handle = first.start()
        with pytest.raises(RuntimeError, match="was already started"):
            first.start()
        second = Tasks([Task(quick, 3), shared], as_group=True)
        with pytest.raises(RuntimeError, match="was already started"):
            second.start()
        with pytest.raises(RuntimeError, match="was already started"):
            shared.start()
        assert shared.group is first and second.state is TaskState.PENDING
        alone = Task(quick, 4)
        alone_handle = alone.start()
        with pytest.raises(RuntimeError, match="was already started"):
            alone.start()
        assert await handle == [1, 2] and await alone_handle == 4
        assert await second.start() == [3, 1]  # once it is free, it runs

    asyncio.run(main())
