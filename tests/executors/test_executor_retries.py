"""Retries on every executor: the library threads, a thread pool, the process pools (loky and
the stdlib's) and a local Dask cluster give the same attempts, errors and outcome; a cancel
during the backoff stops the run there, with nothing resubmitted."""

from __future__ import annotations

import multiprocessing
import sys
import threading
from collections.abc import Iterator
from concurrent.futures import Executor, ProcessPoolExecutor, ThreadPoolExecutor
from pathlib import Path

import anyio
import pytest
from capturing import captured
from executor_work import flaky

import backgrounder as bg
from backgrounder.executors import close_process_pool, process_pool

distributed = pytest.importorskip("distributed")

if sys.version_info < (3, 11):  # pragma: no cover
    from exceptiongroup import ExceptionGroup

pytestmark = pytest.mark.anyio
WHERE = ["threads", "thread pool", "processes", "stdlib processes", "dask"]


@pytest.fixture(scope="module")
def executors() -> Iterator[dict[str, Executor | None]]:
    cluster = distributed.LocalCluster(
        processes=True,
        n_workers=1,
        threads_per_worker=2,
        host="127.0.0.1",
        dashboard_address=":0",
    )
    threads = ThreadPoolExecutor(2)
    stdlib = ProcessPoolExecutor(2, mp_context=multiprocessing.get_context("forkserver"))
    with cluster, distributed.Client(cluster) as client:
        yield {
            "threads": None,
            "thread pool": threads,
            "processes": process_pool(2),
            "stdlib processes": stdlib,
            "dask": client,
        }
    threads.shutdown()
    stdlib.shutdown()
    close_process_pool()


def calls(counter: Path) -> int:
    return len(counter.read_text().splitlines()) if counter.exists() else 0


@pytest.mark.parametrize("where", WHERE)
async def test_the_same_retries_everywhere(
    executors: dict[str, Executor | None], where: str, tmp_path: Path
) -> None:
    recovers = bg.Task(flaky, str(tmp_path / "recovers"), 2)
    gives_up = bg.Task(flaky, str(tmp_path / "gives-up"), 9).options(retries=1)
    group = bg.Tasks(
        [recovers, gives_up], as_group=True, executor=executors[where], retries=3, retry_delay=0
    )
    with captured(), pytest.raises(ExceptionGroup) as caught:
        await group()
    assert recovers.result == 3 and recovers.attempt == 3 and calls(tmp_path / "recovers") == 3
    assert [str(e.exception) for e in recovers.attempt_errors] == ["attempt 1", "attempt 2"]
    assert all("in flaky" in e.traceback for e in recovers.attempt_errors)
    # each attempt's output arrives (a remote one at the attempt's end)
    assert recovers.output == "attempt 1 fails\nattempt 2 fails\n"
    [error] = caught.value.exceptions
    assert str(error) == "attempt 2" and gives_up.attempt == 2
    assert error.__notes__ == [
        f"{gives_up.name} failed on each of its 2 attempts (see attempt_errors)"
    ]
    assert calls(tmp_path / "gives-up") == 2


@pytest.mark.parametrize("where", WHERE)
async def test_cancel_during_the_backoff_resubmits_nothing(
    executors: dict[str, Executor | None], where: str, tmp_path: Path
) -> None:
    counter = tmp_path / "counter"
    task = bg.Task(flaky, str(counter), 9).options(retries=3, retry_delay=3600)
    retried = threading.Event()
    stop = bg.subscribe(lambda e: retried.set() if e.task is task else None, bg.EventKind.RETRY)
    group = bg.Tasks([task], executor=executors[where])
    try:
        with anyio.fail_after(30):
            async with anyio.create_task_group() as tg:

                async def run() -> None:
                    with pytest.raises(bg.TaskCancelled):
                        await group()

                tg.start_soon(run)
                assert await anyio.to_thread.run_sync(retried.wait, 20)
                assert task.state is bg.TaskState.RUNNING and task.next_attempt_at is not None
                assert task.cancel()
    finally:
        stop()
    assert task.state is bg.TaskState.CANCELLED and task.attempt == 1
    assert calls(counter) == 1


async def test_waiting_in_the_parent_frees_the_pool(
    executors: dict[str, Executor | None], tmp_path: Path
) -> None:
    """A process-pool task waiting to retry holds no worker: another call runs meanwhile."""
    pool = executors["stdlib processes"]
    waiting = bg.Task(flaky, str(tmp_path / "a"), 9).options(retries=1, retry_delay=3600)
    retried = threading.Event()
    stop = bg.subscribe(lambda e: retried.set() if e.task is waiting else None, bg.EventKind.RETRY)
    try:
        with anyio.fail_after(30):
            async with anyio.create_task_group() as tg:

                async def run() -> None:
                    with pytest.raises(bg.TaskCancelled):
                        await waiting()

                waiting.options(executor=pool)
                tg.start_soon(run)
                assert await anyio.to_thread.run_sync(retried.wait, 20)
                assert not waiting.thread_alive  # no body runs while it waits
                others = bg.Tasks(
                    [bg.Task(flaky, str(tmp_path / f"b{i}"), 0) for i in range(2)],
                    as_group=True,
                    executor=pool,
                )
                assert await others() == [1, 1]  # both of the pool's 2 processes were free
                waiting.cancel()
    finally:
        stop()
