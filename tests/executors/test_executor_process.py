"""Sync tasks on the shared process pool: real parallelism, outcomes, errors, cancellation."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from concurrent.futures import Executor
from pathlib import Path

import anyio
import psutil
import pytest
from capturing import captured
from executor_work import boom, chatty, double, meet, nap, pid, spin

import backgrounder as bg
from backgrounder.executors import close_process_pool, process_pool

if sys.version_info < (3, 11):  # pragma: no cover
    from exceptiongroup import ExceptionGroup

pytestmark = pytest.mark.anyio


@pytest.fixture(scope="module")
def pool() -> Iterator[Executor]:
    pool = process_pool(2)
    workers = {pool.submit(pid).result(), pool.submit(pid).result()}
    yield pool
    close_process_pool()
    _, alive = psutil.wait_procs([psutil.Process(p) for p in workers if psutil.pid_exists(p)], 10)
    assert not alive, f"worker processes left behind: {alive}"


async def wait_for(condition: object, timeout: float = 10) -> None:
    """Poll an outside condition (a file a worker process writes): no event crosses processes."""
    with anyio.fail_after(timeout):
        while not condition():  # type: ignore[operator]
            await anyio.sleep(0.02)


async def test_two_tasks_run_at_once_in_two_processes(pool: Executor, tmp_path: Path) -> None:
    # Each call waits for the other's file: both return only if they ran at the same time, in
    # two processes, however busy the machine (no free core needed; the speed-up that two
    # cores give is measured in benchmarks/executors.py).
    one, two = str(tmp_path / "one"), str(tmp_path / "two")
    group = bg.Tasks([bg.Task(meet, one, two), bg.Task(meet, two, one)], True, executor=pool)
    pid1, pid2 = await group()
    assert pid1 != pid2
    assert await bg.Task(spin, 1000).options(executor=pool)() == spin(1000)


async def test_results_failures_tracebacks_and_output(pool: Executor) -> None:
    group = bg.Tasks(
        [bg.Task(double, 2), bg.Task(boom, 3), bg.Task(chatty, 4)], True, executor=pool
    )
    with captured(), pytest.raises(ExceptionGroup) as caught:
        await group()
    ok, bad, talk = group.tasks
    assert [t.state for t in group] == [bg.TaskState.DONE, bg.TaskState.FAILED, bg.TaskState.DONE]
    assert (ok.result, talk.result) == (4, 5)
    assert str(caught.value.exceptions[0]) == "bad input 3"
    assert isinstance(bad.exception, ValueError)
    assert bad.traceback is not None
    assert "in boom" in bad.traceback and 'raise ValueError(f"bad input {x}")' in bad.traceback
    assert "in _run_remote" not in bad.traceback, bad.traceback
    assert "_process_worker" not in bad.traceback
    assert talk.output == "working on 4\nwarning about 4\n"
    assert bad.output == "about to fail on 3\n"


async def test_functions_defined_anywhere_are_sent_by_value(pool: Executor) -> None:
    offset = 10
    assert await bg.Task(lambda x: x + offset, 1).options(executor=pool)() == 11


async def test_unpicklable_argument_fails_at_submission_naming_the_task(pool: Executor) -> None:
    task = bg.Task(double, threading.Lock()).options(name="locked", executor=pool)
    with pytest.raises(TypeError, match=r"cannot send locked to ProcessPoolExecutor: .*pickle"):
        await task()
    assert task.state is bg.TaskState.FAILED


async def test_unpicklable_result_names_the_task(pool: Executor) -> None:
    task = bg.Task(threading.Lock).options(name="make-lock", executor=pool)
    with pytest.raises(TypeError, match=r"the result of make-lock cannot be pickled"):
        await task()


async def test_timeout(pool: Executor) -> None:
    task = bg.Task(nap, 1.0).options(executor=pool, timeout=0.2)
    with pytest.raises(TimeoutError, match=r"timed out after 0\.2 s"):
        await task()
    assert task.state is bg.TaskState.FAILED


async def test_cancel_queued_and_running_calls(pool: Executor, tmp_path: Path) -> None:
    markers = [tmp_path / f"started-{i}" for i in range(8)]
    gate = tmp_path / "gate"  # the running calls wait for it: no timing assumed
    group = bg.Tasks([bg.Task(meet, str(m), str(gate)) for m in markers], True, executor=pool)
    handle = group.start()
    await wait_for(lambda: sum(m.exists() for m in markers) >= 2)
    group.cancel()
    with pytest.raises(bg.TaskCancelled):
        await handle
    assert {t.state for t in group} == {bg.TaskState.CANCELLED}
    # The running calls go on in their processes (a process pool cannot stop a call, nor one
    # it has already handed to a worker's queue)...
    assert sum(t.thread_alive for t in group) >= 2
    gate.touch()
    await wait_for(lambda: not any(t.thread_alive for t in group))
    # ...while those still queued in the pool never start (without cancel all 8 would run).
    assert sum(m.exists() for m in markers) < 8


def test_the_pool_is_shared_and_replaced_when_resized(pool: Executor) -> None:
    assert process_pool() is pool
    assert process_pool(2) is pool
    try:
        bigger = process_pool(3)
        assert bigger is not pool and process_pool() is bigger
        assert bigger.submit(int, "7").result(timeout=60) == 7
        with pytest.raises(RuntimeError):  # the old pool finished its work and takes no more
            pool.submit(int, "1")
    finally:
        close_process_pool()


def test_exit_does_not_wait_for_running_calls_nor_leave_processes() -> None:
    script = textwrap.dedent(
        """
        import os, time
        import backgrounder as bg
        from backgrounder.executors import process_pool
        pool = process_pool(2)
        bg.Task(time.sleep, 60).options(executor=pool).start()
        print(pool.submit(os.getpid).result(), flush=True)
        """
    )
    start = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=50
    )
    assert done.returncode == 0, done.stderr
    assert time.monotonic() - start < 30
    worker = int(done.stdout.split()[0])
    if psutil.pid_exists(worker):
        psutil.Process(worker).wait(10)
