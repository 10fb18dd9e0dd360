"""Task: results, errors, states, timing, tracebacks, names, options."""

from __future__ import annotations

import threading
from datetime import datetime

import anyio
import pytest

from backgrounder import Task, TaskCancelled, TaskState, current_task

pytestmark = pytest.mark.anyio


def double(x: int) -> int:
    return 2 * x


async def adouble(x: int) -> int:
    await anyio.sleep(0)
    return 2 * x


def boom(message: str = "boom") -> None:
    raise ValueError(message)


async def aboom() -> None:
    await anyio.sleep(0)
    raise ValueError("aboom")


async def test_sync_result() -> None:
    assert await Task(double, 21)() == 42


async def test_async_result() -> None:
    assert await Task(adouble, x=4)() == 8


async def test_sync_runs_in_a_worker_thread() -> None:
    main = threading.get_ident()
    assert await Task(threading.get_ident)() != main


async def test_async_runs_on_the_loop_thread() -> None:
    async def ident() -> int:
        return threading.get_ident()

    assert await Task(ident)() == threading.get_ident()


async def test_kwargs_go_to_the_function() -> None:
    def f(*, name: str, timeout: int) -> tuple[str, int]:
        return name, timeout

    assert await Task(f, name="n", timeout=3)() == ("n", 3)


@pytest.mark.parametrize("func", [boom, aboom])
async def test_failure_is_raised_as_is_and_recorded(func: object) -> None:
    task = Task(func)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="boom"):
        await task()
    assert task.state == "failed"
    assert task.state is TaskState.FAILED
    assert isinstance(task.exception, ValueError)
    assert task.result is None
    assert task.traceback is not None
    assert "ValueError" in task.traceback
    assert func.__name__ in task.traceback  # type: ignore[attr-defined]


async def test_states_and_timing() -> None:
    started, release = threading.Event(), threading.Event()

    def work() -> str:
        started.set()
        release.wait(10)
        return "ok"

    task = Task(work)
    assert task.state == "pending"
    assert task.started_at is None and task.ended_at is None and task.elapsed is None
    seen: list[TaskState] = []
    async with anyio.create_task_group() as tg:
        tg.start_soon(task)
        await anyio.to_thread.run_sync(started.wait, 10)
        seen.append(task.state)
        assert task.elapsed is not None and task.elapsed >= 0
        assert task.ended_at is None
        assert task.thread_alive
        release.set()
    assert seen == [TaskState.RUNNING]
    assert task.state == "done" and task.state.finished
    assert task.result == "ok"
    assert isinstance(task.started_at, datetime) and isinstance(task.ended_at, datetime)
    assert task.started_at <= task.ended_at
    assert task.elapsed is not None and 0 <= task.elapsed < 10
    assert not task.thread_alive
    assert task.exception is None and task.traceback is None


async def test_rerun_resets_the_record() -> None:
    calls = []

    def flaky() -> int:
        calls.append(1)
        if len(calls) == 1:
            raise ValueError("first")
        return len(calls)

    task = Task(flaky)
    with pytest.raises(ValueError):
        await task()
    assert await task() == 2
    assert task.state == "done" and task.exception is None


async def test_current_task_inside() -> None:
    seen = []

    def sync() -> None:
        seen.append(current_task())

    async def asyn() -> None:
        seen.append(current_task())

    t1, t2 = Task(sync), Task(asyn)
    await t1()
    await t2()
    assert seen == [t1, t2]
    assert current_task() is None


async def test_timeout_async() -> None:
    async def forever() -> None:
        await anyio.sleep_forever()

    task = Task(forever).options(timeout=0.05)
    with pytest.raises(TimeoutError, match=r"timed out after 0\.05 s"):
        await task()
    assert task.state == "failed"
    assert isinstance(task.exception, TimeoutError)


async def test_timeout_sync_is_seen_through_cancelled() -> None:
    from backgrounder import cancelled

    stopped = threading.Event()

    def polite() -> None:
        while not cancelled():
            stopped.wait(0.005)
        stopped.set()

    task = Task(polite).options(timeout=0.05)
    with pytest.raises(TimeoutError):
        await task()
    assert task.state == "failed"
    assert await anyio.to_thread.run_sync(stopped.wait, 10)


async def test_cancel_pending_task_never_runs() -> None:
    ran = []
    task = Task(ran.append, 1)
    assert task.cancel()
    assert task.state == "cancelled"
    assert not task.cancel()  # already finished
    assert ran == []


async def test_async_result_of_generator_returning_function() -> None:
    def returns_coroutine():  # type: ignore[no-untyped-def]
        return adouble(1)

    task = Task(returns_coroutine)
    with pytest.raises(TypeError, match="returned a coroutine"):
        await task()


async def test_awaiting_a_cancelled_task_raises_task_cancelled() -> None:
    started = anyio.Event()

    async def forever() -> None:
        started.set()
        await anyio.sleep_forever()

    task = Task(forever)
    raised: list[BaseException] = []

    async def run() -> None:
        try:
            await task()
        except TaskCancelled as exc:
            raised.append(exc)

    async with anyio.create_task_group() as tg:
        tg.start_soon(run)
        await started.wait()
        assert task.cancel()
    assert len(raised) == 1 and "was cancelled" in str(raised[0])
    assert task.state == "cancelled"


def test_name_and_repr() -> None:
    task = Task(double, 3)
    assert task.name == "double(3)"
    assert repr(task) == f"<Task #{task.id} double(3) pending>"
    long = Task(print, *range(100), sep="a" * 1000).name
    assert long.startswith("print(0, 1, 2") and long.endswith("...)") and len(long) < 80
    assert Task(double, 1).options(name="mine").name == "mine"
    assert Task(double, 1).id != task.id


def test_name_survives_a_broken_repr() -> None:
    class Bad:
        def __repr__(self) -> str:
            raise RuntimeError("no")

    assert "Bad" in Task(double, Bad()).name


def test_options_validation() -> None:
    with pytest.raises(ValueError, match="positive number"):
        Task(double, 1).options(timeout=0)
    with pytest.raises(ValueError, match="positive number"):
        Task(double, 1).options(timeout="1")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="non-empty str"):
        Task(double, 1).options(name="")
    assert Task(double, 1).options(timeout=2).timeout == 2.0


def test_is_async_decided_at_construction() -> None:
    assert Task(adouble, 1).is_async
    assert not Task(double, 1).is_async


@pytest.mark.anyio
async def test_traceback_starts_in_user_code() -> None:
    def fails() -> None:
        raise ValueError("from user code")

    task = Task(fails)
    with pytest.raises(ValueError):
        await task()
    assert task.traceback is not None
    first_frame = task.traceback.splitlines()[1]
    assert __file__ in first_frame and "backgrounder" + "/_task.py" not in task.traceback


@pytest.mark.anyio
async def test_await_task_is_await_task_call() -> None:
    async def double(x: int) -> int:
        return 2 * x

    task = Task(double, 21)
    assert await task == 42
    assert task.state is TaskState.DONE
    assert await Task(sum, [1, 2]) == 3  # sync too
    failing = Task(int, "x")
    with pytest.raises(ValueError):
        await failing
    assert failing.state is TaskState.FAILED
