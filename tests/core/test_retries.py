"""Retries: a failed attempt is tried again (sync and async, asyncio and trio), its error kept;
cancels and timeouts end the run whatever attempt it is on, even while it waits to retry."""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable
from typing import Any

import anyio
import pytest

import backgrounder as bg
from backgrounder import AttemptError, EventKind, Task, TaskCancelled, Tasks, TaskState

if sys.version_info < (3, 11):  # pragma: no cover
    from exceptiongroup import ExceptionGroup

pytestmark = pytest.mark.anyio
LONG = 3600.0  # a backoff no test may sit out: only a cancel or a timeout ends it


class Flaky:
    """A body that fails ``failures`` times (``error("attempt N")``), then returns "ok"."""

    def __init__(self, failures: int, error: type[Exception] = ValueError) -> None:
        self.failures = failures
        self.error = error
        self.calls = 0

    def step(self) -> str:
        self.calls += 1
        if self.calls <= self.failures:
            raise self.error(f"attempt {self.calls}")
        return "ok"

    def sync(self) -> str:
        return self.step()

    async def async_(self) -> str:
        await anyio.sleep(0)
        return self.step()


def body(flaky: Flaky, kind: str) -> Callable[[], Any]:
    return flaky.sync if kind == "sync" else flaky.async_


KINDS = pytest.mark.parametrize("kind", ["sync", "async"])


class Retried:
    """Records RETRY events; ``wait()`` blocks (in a thread) until one arrived."""

    def __init__(self) -> None:
        self.events: list[bg.TaskEvent] = []
        self.arrived = threading.Event()
        self.stop = bg.subscribe(self._on, EventKind.RETRY)

    def _on(self, event: bg.TaskEvent) -> None:
        self.events.append(event)
        self.arrived.set()

    async def wait(self) -> None:
        assert await anyio.to_thread.run_sync(self.arrived.wait, 10), "no retry within 10 s"


@pytest.fixture
def retried() -> Any:
    recorder = Retried()
    yield recorder
    recorder.stop()


@KINDS
async def test_fails_then_succeeds_result_and_errors_kept(kind: str, retried: Retried) -> None:
    flaky = Flaky(2)
    task = Task(body(flaky, kind)).options(retries=3, retry_delay=0)
    events: list[EventKind] = []
    stop = bg.subscribe(lambda e: events.append(e.kind) if e.task is task else None)
    try:
        assert await task() == "ok"
    finally:
        stop()
    assert flaky.calls == 3
    assert task.state is TaskState.DONE and task.exception is None
    assert (task.attempt, task.max_attempts) == (3, 4)
    errors = task.attempt_errors
    assert [e.attempt for e in errors] == [1, 2]
    assert [str(e.exception) for e in errors] == ["attempt 1", "attempt 2"]
    assert all(isinstance(e, AttemptError) for e in errors)
    assert "in step" in errors[0].traceback and "ValueError: attempt 1" in errors[0].traceback
    assert "backgrounder" not in errors[0].traceback.split("\n")[1]  # from the user's code on
    assert errors[0].exception.__traceback__ is None  # kept as text: no frames held
    # one run: one start, one end, a RETRY per retried attempt carrying its error
    assert events == [
        EventKind.QUEUED,
        EventKind.STARTED,
        *[EventKind.RETRY] * 2,
        EventKind.FINISHED,
    ]
    assert [e.data for e in retried.events] == list(errors)
    assert task.next_attempt_at is None


@KINDS
async def test_exhausted_raises_the_last_error_with_a_note(kind: str) -> None:
    flaky = Flaky(10)
    task = Task(body(flaky, kind)).options(retries=2, retry_delay=0)
    with pytest.raises(ValueError, match="attempt 3") as caught:
        await task()
    assert flaky.calls == 3
    assert task.state is TaskState.FAILED and task.exception is caught.value
    assert task.traceback is not None and "attempt 3" in task.traceback
    assert caught.value.__notes__ == [
        f"{task.name} failed on each of its 3 attempts (see attempt_errors)"
    ]
    assert [str(e.exception) for e in task.attempt_errors] == ["attempt 1", "attempt 2"]


@KINDS
async def test_retries_zero_and_unset_run_once(kind: str) -> None:
    for options in ({"retries": 0}, {}):
        flaky = Flaky(1)
        task = Task(body(flaky, kind)).options(**options)
        with pytest.raises(ValueError, match="attempt 1") as caught:
            await task()
        assert flaky.calls == 1 and task.attempt == 1 and task.max_attempts == 1
        assert task.attempt_errors == () and not hasattr(caught.value, "__notes__")


@KINDS
async def test_only_retry_on_is_retried(kind: str) -> None:
    flaky = Flaky(1, KeyError)  # not an OSError
    task = Task(body(flaky, kind)).options(retries=3, retry_on=(OSError, ConnectionError))
    with pytest.raises(KeyError):
        await task()
    assert flaky.calls == 1 and task.attempt_errors == ()

    class Changing(Flaky):  # an OSError (retried), then a KeyError (not)
        def step(self) -> str:
            self.calls += 1
            raise (OSError if self.calls == 1 else KeyError)(f"attempt {self.calls}")

    changing = Changing(0)
    task = Task(body(changing, kind)).options(retries=3, retry_on=OSError, retry_delay=0)
    with pytest.raises(KeyError) as caught:
        await task()
    assert changing.calls == 2 and [e.attempt for e in task.attempt_errors] == [1]
    assert "KeyError is not an instance of retry_on (OSError)" in caught.value.__notes__[0]


async def test_a_timeout_error_raised_by_the_task_is_an_ordinary_failure() -> None:
    flaky = Flaky(1, TimeoutError)  # a socket timeout, say: not the library's timeout
    task = Task(flaky.sync).options(retries=1, retry_delay=0)
    assert await task() == "ok"
    assert flaky.calls == 2


@KINDS
async def test_cancel_during_the_backoff_ends_the_run_at_once(kind: str, retried: Retried) -> None:
    flaky = Flaky(10)
    task = Task(body(flaky, kind)).options(retries=5, retry_delay=LONG)
    ended = threading.Event()
    stop = bg.subscribe(lambda e: ended.set() if e.task is task else None, EventKind.THREAD_ENDED)
    with anyio.fail_after(20):
        async with anyio.create_task_group() as tg:

            async def run() -> None:
                with pytest.raises(TaskCancelled):
                    await task()

            tg.start_soon(run)
            await retried.wait()
            assert task.state is TaskState.RUNNING  # waiting to retry is still running
            assert task.next_attempt_at is not None
            assert task.cancel()
        if kind == "sync" and task.thread_alive:  # the waiting thread wakes and returns
            assert await anyio.to_thread.run_sync(ended.wait, 10)
    stop()
    assert task.state is TaskState.CANCELLED and flaky.calls == 1
    assert not task.thread_alive and task.next_attempt_at is None
    assert [e.attempt for e in task.attempt_errors] == [1]


@KINDS
async def test_timeout_bounds_the_whole_run_and_is_not_retried(kind: str) -> None:
    flaky = Flaky(10)
    task = Task(body(flaky, kind)).options(retries=5, retry_delay=LONG, timeout=0.2)
    with anyio.fail_after(20), pytest.raises(TimeoutError, match=r"timed out after 0\.2 s"):
        await task()
    assert task.state is TaskState.FAILED and flaky.calls == 1 and task.attempt == 1
    assert not hasattr(task.exception, "__notes__")


@KINDS
async def test_group_timeout_during_the_backoff(kind: str) -> None:
    flaky = Flaky(10)
    task = Task(body(flaky, kind))
    group = Tasks([task], as_group=True, timeout=0.2, retries=5, retry_delay=LONG)
    with anyio.fail_after(20), pytest.raises(TimeoutError):
        await group()
    assert task.state is TaskState.CANCELLED and flaky.calls == 1


@KINDS
async def test_fail_fast_cancels_a_member_waiting_to_retry(kind: str, retried: Retried) -> None:
    flaky = Flaky(10)
    retrying = Task(body(flaky, kind)).options(retries=5, retry_delay=LONG)

    async def fails_once_the_other_waits() -> None:
        await retried.wait()
        raise RuntimeError("fatal")

    group = Tasks([retrying, Task(fails_once_the_other_waits)], as_group=True, fail_fast=True)
    with anyio.fail_after(20), pytest.raises(ExceptionGroup) as caught:
        await group()
    assert [type(e) for e in caught.value.exceptions] == [RuntimeError]
    assert retrying.state is TaskState.CANCELLED and flaky.calls == 1


@KINDS
async def test_group_defaults_apply_to_members_without_their_own(kind: str) -> None:
    default, own, none = Flaky(2), Flaky(1), Flaky(1)
    tasks = [
        Task(body(default, kind)),
        Task(body(own, kind)).options(retries=4),  # its own count, the group's delay
        Task(body(none, kind)).options(retries=0),  # 0 of its own: not the group's 2
    ]
    group = Tasks(tasks, as_group=True, retries=2, retry_delay=0)
    with pytest.raises(ExceptionGroup):
        await group()
    assert (default.calls, own.calls, none.calls) == (3, 2, 1)
    assert [t.max_attempts for t in tasks] == [3, 5, 1]
    assert tasks[0].retries is None  # the group's default is not written into the task
    assert group.results == ["ok", "ok", None]


@KINDS
async def test_a_sequence_retries_before_it_stops(kind: str) -> None:
    first = Flaky(1)
    group = Tasks([Task(body(first, kind)), Task(body(Flaky(0), kind))], retries=1, retry_delay=0)
    assert await group() == ["ok", "ok"]


async def test_progress_starts_over_with_each_attempt() -> None:
    seen: list[object] = []

    def reports() -> str:
        seen.append(bg.current_task().progress)  # type: ignore[union-attr]
        bg.progress(1, 2)
        if len(seen) < 2:
            raise ValueError("once")
        return "ok"

    task = Task(reports).options(retries=1, retry_delay=0)
    assert await task() == "ok"
    assert seen == [None, None]


async def test_rerun_starts_from_the_first_attempt() -> None:
    flaky = Flaky(1)
    task = Task(flaky.sync).options(retries=1, retry_delay=0)
    assert await task() == "ok"
    assert await task() == "ok"
    assert task.attempt == 1 and task.attempt_errors == ()


async def test_only_the_latest_errors_are_kept() -> None:
    flaky = Flaky(30)
    task = Task(flaky.sync).options(retries=30, retry_delay=0)
    assert await task() == "ok"
    assert task.attempt == 31
    assert [e.attempt for e in task.attempt_errors] == list(range(11, 31))


def test_backoff_doubles_with_equal_jitter_and_is_capped() -> None:
    from backgrounder._retry import MAX_DELAY, RetryPolicy

    policy = RetryPolicy(10, (Exception,), 1.0)
    for retry, full in [(1, 1.0), (2, 2.0), (3, 4.0), (7, MAX_DELAY), (10, MAX_DELAY)]:
        waits = [policy.wait(retry) for _ in range(200)]
        assert all(full / 2 <= w <= full for w in waits), retry
        assert len(set(waits)) > 1  # jittered
    assert RetryPolicy(10, (Exception,), 0.0).wait(5) == 0
    assert RetryPolicy(3, (Exception,), 100.0).wait(3) <= 100.0  # a long delay is its own cap


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"retries": -1}, r"^retries must be an int >= 0 .*got -1$"),
        ({"retries": 1.5}, r"^retries must be an int >= 0 .*got 1.5$"),
        ({"retries": True}, r"^retries must be an int >= 0 .*got True$"),
        ({"retry_delay": -1}, r"^retry_delay must be a number of seconds from 0 to 3600, got -1$"),
        ({"retry_delay": float("nan")}, r"^retry_delay must be .*got nan$"),
        ({"retry_delay": "1"}, r"^retry_delay must be .*got '1'$"),
        ({"retry_on": "OSError"}, r"^retry_on must be an Exception subclass .*got 'OSError'$"),
        ({"retry_on": ()}, r"^retry_on must name at least one Exception subclass, got \(\)$"),
        ({"retry_on": OSError()}, r"^retry_on must be an Exception subclass .*got OSError\(\)$"),
        ({"retry_on": (OSError, KeyboardInterrupt)}, r"KeyboardInterrupt.* are never retried$"),
    ],
)
def test_bad_options_raise_one_line_and_change_nothing(
    options: dict[str, Any], message: str
) -> None:
    task = Task(print)
    with pytest.raises((TypeError, ValueError), match=message):
        task.options(name="renamed", **{"retries": 2, **options})
    assert (task.retries, task.retry_on, task.retry_delay) == (None, None, None)
    assert task.name != "renamed"
    with pytest.raises((TypeError, ValueError), match=message):
        Tasks([task], **options)


def test_options_are_set_and_read() -> None:
    task = Task(print).options(retries=2, retry_on=OSError, retry_delay=0.5)
    assert (task.retries, task.retry_on, task.retry_delay) == (2, (OSError,), 0.5)
    assert task.max_attempts == 3 and task.attempt == 0
    group = Tasks([Task(print)], retries=1, retry_on=(OSError, KeyError))
    assert (group.retries, group.retry_on, group.retry_delay) == (1, (OSError, KeyError), None)


async def test_the_decorator_takes_the_retry_options() -> None:
    flaky = Flaky(2, ConnectionError)
    start = bg.background(retries=2, retry_on=ConnectionError, retry_delay=0)(flaky.sync)
    handle = start()
    assert await handle == "ok"
    assert handle.work.attempt == 3
    with pytest.raises(ValueError, match=r"^retries must be an int >= 0"):
        bg.background(retries=-1)
