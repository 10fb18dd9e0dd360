"""Sync tasks on a local Dask cluster (worker processes on loopback), and the same group code
on threads, the process pool and Dask giving the same outcomes."""

from __future__ import annotations

import sys
import threading
from concurrent.futures import Executor
from pathlib import Path
from typing import Any

import anyio
import pytest
from capturing import captured
from executor_work import boom, chatty, double, nap

import backgrounder as bg

distributed = pytest.importorskip("distributed")

if sys.version_info < (3, 11):  # pragma: no cover
    from exceptiongroup import ExceptionGroup

pytestmark = pytest.mark.anyio
ROOT = Path(__file__).resolve().parents[2]


async def test_group_results_and_output(client: Any) -> None:
    group = bg.Tasks([bg.Task(chatty, i) for i in range(4)], as_group=True, executor=client)
    with captured():
        assert await group() == [1, 2, 3, 4]
    assert [t.output for t in group] == [f"working on {i}\nwarning about {i}\n" for i in range(4)]
    assert {t.state for t in group} == {bg.TaskState.DONE}


async def test_equal_calls_are_not_deduplicated(client: Any) -> None:
    # Dask's submit() is pure by default: equal calls would share one key and one run.
    group = bg.Tasks([bg.Task(nap, 0.01) for _ in range(3)], as_group=True, executor=client)
    assert await group() == [0.01] * 3


async def test_failure_keeps_the_worker_traceback(client: Any) -> None:
    task = bg.Task(boom, 7).options(executor=client)
    with captured(), pytest.raises(ValueError, match="bad input 7"):
        await task()
    assert task.state is bg.TaskState.FAILED
    assert task.traceback is not None
    assert "executor_work.py" in task.traceback and "in boom" in task.traceback
    assert "_run_remote" not in task.traceback
    assert task.output == "about to fail on 7\n"


async def test_unpicklable_argument_names_the_task(client: Any) -> None:
    task = bg.Task(double, threading.Lock()).options(name="locked", executor=client)
    with pytest.raises(TypeError, match=r"cannot send locked to Client: .*pickle"):
        await task()


def busy(dask_scheduler: Any) -> int:
    """Calls the scheduler still has queued or running (run on the scheduler)."""
    running = sum(len(worker.processing) for worker in dask_scheduler.workers.values())
    return len(dask_scheduler.queued) + len(dask_scheduler.unrunnable) + running


async def poll(condition: Any, timeout: float = 30) -> None:
    """Poll the cluster and files its workers write: no event of ours crosses processes."""
    with anyio.fail_after(timeout):
        while not await anyio.to_thread.run_sync(condition):
            await anyio.sleep(0.05)


async def test_cancel_queued_and_running(client: Any, tmp_path: Path) -> None:
    markers = [tmp_path / f"started-{i}" for i in range(6)]
    group = bg.Tasks([bg.Task(nap, 2.0, str(m)) for m in markers], True, executor=client)
    handle = group.start()
    await poll(lambda: sum(m.exists() for m in markers) >= 2)
    group.cancel()
    with pytest.raises(bg.TaskCancelled):
        await handle
    assert {t.state for t in group} == {bg.TaskState.CANCELLED}
    # Once the cluster has nothing left to do, only the calls that had started ever ran: the
    # queued ones were dropped. (Had cancel() done nothing, all six would have run by then.)
    await poll(lambda: client.run_on_scheduler(busy) == 0)
    started = sum(m.exists() for m in markers)
    assert 2 <= started < 6, f"{started} of 6 calls ran after the group was cancelled"


async def test_timeout(client: Any) -> None:
    task = bg.Task(nap, 1.0).options(executor=client, timeout=0.2)
    with pytest.raises(TimeoutError, match=r"timed out after 0\.2 s"):
        await task()
    assert task.state is bg.TaskState.FAILED


@pytest.mark.parametrize(
    "where", ["threads", "thread pool", "processes", "stdlib processes", "dask"]
)
async def test_the_same_group_code_gives_the_same_outcome(
    executors: dict[str, Executor | None], where: str
) -> None:
    tasks = [bg.Task(double, 1), bg.Task(boom, 2), bg.Task(chatty, 3), bg.Task(nap, 2.0)]
    tasks[-1].options(timeout=0.3)
    group = bg.Tasks(tasks, as_group=True, executor=executors[where])
    with captured(), pytest.raises(ExceptionGroup) as caught:
        await group()
    outcome = [
        (t.state.value, t.result, type(t.exception).__name__, str(t.exception or ""), t.output)
        for t in group
    ]
    assert outcome == [
        ("done", 2, "NoneType", "", ""),
        ("failed", None, "ValueError", "bad input 2", "about to fail on 2\n"),
        ("done", 4, "NoneType", "", "working on 3\nwarning about 3\n"),
        ("failed", None, "TimeoutError", "nap(2.0) timed out after 0.3 s", ""),
    ]
    assert [str(e) for e in caught.value.exceptions] == [
        "bad input 2",
        "nap(2.0) timed out after 0.3 s",
    ]
