"""Retries on every executor: the library threads, a thread pool, the process pools (loky and
the stdlib's) and a local Dask cluster give the same attempts, errors and outcome; a cancel
during the backoff stops the run there, with nothing resubmitted."""

from __future__ import annotations

import sys
import threading
from collections.abc import Awaitable, Callable
from concurrent.futures import Executor
from pathlib import Path

import anyio
import pytest
from capturing import captured
from executor_work import flaky

import backgrounder as bg

distributed = pytest.importorskip("distributed")

if sys.version_info < (3, 11):  # pragma: no cover
    from exceptiongroup import ExceptionGroup

pytestmark = pytest.mark.anyio
WHERE = ["threads", "thread pool", "processes", "stdlib processes", "dask"]


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


async def cancel_once_waiting(
    task: bg.Task,
    run: Callable[[], Awaitable[object]],
    meanwhile: Callable[[], Awaitable[None]] | None = None,
) -> None:
    """Await ``run()`` until ``task`` waits to retry, do ``meanwhile``, then cancel ``task``:
    ``run()`` must raise TaskCancelled."""
    retried = threading.Event()
    stop = bg.subscribe(lambda e: retried.set() if e.task is task else None, bg.EventKind.RETRY)
    try:
        with anyio.fail_after(30):
            async with anyio.create_task_group() as tg:

                async def go() -> None:
                    with pytest.raises(bg.TaskCancelled):
                        await run()

                tg.start_soon(go)
                assert await anyio.to_thread.run_sync(retried.wait, 20)
                assert task.state is bg.TaskState.RUNNING and task.next_attempt_at is not None
                if meanwhile is not None:
                    await meanwhile()
                assert task.cancel()
    finally:
        stop()


@pytest.mark.parametrize("where", WHERE)
async def test_cancel_during_the_backoff_resubmits_nothing(
    executors: dict[str, Executor | None], where: str, tmp_path: Path
) -> None:
    counter = tmp_path / "counter"
    task = bg.Task(flaky, str(counter), 9).options(retries=3, retry_delay=3600)
    await cancel_once_waiting(task, bg.Tasks([task], executor=executors[where]))
    assert task.state is bg.TaskState.CANCELLED and task.attempt == 1
    assert calls(counter) == 1


async def test_waiting_in_the_parent_frees_the_pool(
    executors: dict[str, Executor | None], tmp_path: Path
) -> None:
    """A process-pool task waiting to retry holds no worker: other calls run meanwhile."""
    pool = executors["stdlib processes"]
    waiting = bg.Task(flaky, str(tmp_path / "a"), 9).options(
        retries=1, retry_delay=3600, executor=pool
    )

    async def others() -> None:
        assert not waiting.thread_alive  # no body runs while it waits
        group = bg.Tasks(
            [bg.Task(flaky, str(tmp_path / f"b{i}"), 0) for i in range(2)],
            as_group=True,
            executor=pool,
        )
        assert await group() == [1, 1]  # both of the pool's 2 processes were free

    await cancel_once_waiting(waiting, waiting, others)
