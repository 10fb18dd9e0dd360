"""start() and its Handle: from sync and async code, waiting, results, cancel, re-entry."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import textwrap
import threading

import anyio
import pytest

from backgrounder import Handle, Task, TaskCancelled, Tasks, running_handles


def ident(x: object) -> object:
    return x


async def aident(x: object) -> object:
    await anyio.sleep(0)
    return x


def fail() -> None:
    raise ValueError("nope")


# -- from sync code: the library's loop thread -------------------------------------------------


def test_start_from_sync_code_returns_at_once() -> None:
    release = threading.Event()

    def blocked() -> str:
        release.wait(10)
        return "done"

    handle = Task(blocked).start()
    assert isinstance(handle, Handle)
    assert not handle.done()
    assert handle in running_handles()
    with pytest.raises(TimeoutError, match=r"did not finish within 0\.01 s"):
        handle.result(timeout=0.01)
    release.set()
    assert handle.result(timeout=10) == "done"
    assert handle.done() and handle.state == "done"
    assert handle.exception() is None
    assert handle not in running_handles()
    assert "blocked() done" in repr(handle)


@pytest.mark.parametrize("func", [ident, aident])
def test_result_sync_and_async_work(func: object) -> None:
    assert Task(func, 5).start().result(timeout=10) == 5  # type: ignore[arg-type]


def test_failure_through_the_handle() -> None:
    handle = Task(fail).start()
    with pytest.raises(ValueError, match="nope"):
        handle.result(timeout=10)
    assert isinstance(handle.exception(), ValueError)
    assert handle.state == "failed"


def test_group_handle() -> None:
    tasks = Tasks([Task(ident, 1), Task(aident, 2)], as_group=True)
    handle = tasks.start()
    assert handle.result(timeout=10) == [1, 2]
    assert handle.name == tasks.name


def test_cancel_a_running_async_task_from_another_thread() -> None:
    started = threading.Event()
    finalized = threading.Event()

    async def forever() -> None:
        started.set()
        try:
            await asyncio.sleep(3600)
        finally:
            finalized.set()

    handle = Task(forever).start()
    assert started.wait(10)
    assert handle.cancel()
    with pytest.raises(TaskCancelled):
        handle.result(timeout=10)
    assert finalized.is_set()
    assert handle.state == "cancelled"
    assert not handle.cancel()


def test_cancel_a_pending_task_from_sync_code() -> None:
    started, release = threading.Event(), threading.Event()
    ran: list[int] = []

    def first() -> None:
        started.set()
        release.wait(10)

    queued = Task(ran.append, 1)
    tasks = Tasks([Task(first), queued, Task(ran.append, 2)], as_group=True, limit=1)
    handle = tasks.start()
    assert started.wait(10)
    assert queued.state == "pending"
    assert queued.cancel()
    release.set()
    with pytest.raises(TaskCancelled, match="with 2 of 3 tasks done"):
        handle.result(timeout=10)
    assert ran == [2]
    assert [t.state for t in tasks] == ["done", "cancelled", "done"]


def test_starting_a_running_task_again_is_refused() -> None:
    release = threading.Event()
    task = Task(release.wait, 10)
    handle = task.start()
    while task.state == "pending":
        threading.Event().wait(0.001)
    with pytest.raises(RuntimeError, match="already running"):
        task.start()
    release.set()
    assert handle.result(timeout=10) is True


def test_thread_loop_from_sync_code() -> None:
    assert Task(aident, 3).start(thread_loop=True).result(timeout=10) == 3


# -- from async code: the running loop ---------------------------------------------------------


@pytest.mark.anyio
async def test_start_in_async_code_runs_on_the_running_loop(anyio_backend: str) -> None:
    me = threading.get_ident()

    async def where() -> int:
        await anyio.sleep(0)
        return threading.get_ident()

    handle = Task(where).start()
    assert not handle.done()
    assert await handle == me
    assert (handle.loop is None) == (anyio_backend == "trio")


@pytest.mark.anyio
async def test_await_a_failure_and_a_group() -> None:
    handle = Task(fail).start()
    with pytest.raises(ValueError, match="nope"):
        await handle
    assert await Tasks([Task(aident, 1), Task(ident, 2)], as_group=True).start() == [1, 2]


@pytest.mark.anyio
async def test_cancel_in_async_code() -> None:
    started = anyio.Event()

    async def forever() -> None:
        started.set()
        await anyio.sleep_forever()

    handle = Task(forever).start()
    await started.wait()
    assert handle.cancel()
    with pytest.raises(TaskCancelled):
        await handle
    assert handle.state == "cancelled"


@pytest.mark.anyio
async def test_cancel_before_it_began_in_async_code() -> None:
    ran: list[int] = []
    tasks = Tasks([Task(ran.append, 1), Task(ran.append, 2)])
    handle = tasks.start()
    assert handle.cancel()
    with pytest.raises(TaskCancelled):
        await handle
    assert ran == []
    assert tasks.state == "cancelled"
    assert [t.state for t in tasks] == ["cancelled", "cancelled"]


@pytest.mark.anyio
async def test_cancelling_the_work_itself_before_it_began() -> None:
    ran: list[int] = []
    task = Task(ran.append, 1)
    handle = task.start()
    assert task.cancel()  # the task, not its handle: the pending start must honour it
    group = Tasks([Task(ran.append, 2)], as_group=True)
    group_handle = group.start()
    assert group.cancel()
    for pending in (handle, group_handle):
        with pytest.raises(TaskCancelled):
            await pending
    assert ran == []
    assert task.state == "cancelled"
    assert group.state == "cancelled"


@pytest.mark.anyio
@pytest.mark.parametrize("as_group", [True, False])
async def test_cancelling_a_member_before_the_started_group_began(as_group: bool) -> None:
    ran: list[int] = []
    first, second = Task(ran.append, 1), Task(ran.append, 2)
    group = Tasks([first, second], as_group=as_group)
    handle = group.start()
    assert second.cancel()  # the run has not begun: it must still honour this
    assert not second.cancel()  # once is enough
    with pytest.raises(TaskCancelled):  # a cancelled member fails the await, as in a run
        await handle
    assert second.state == "cancelled"
    if as_group:  # the others run on
        assert ran == [1] and first.state == "done"
    else:  # a cancelled member stops a sequence, as in a run
        assert ran == [] and first.state == "cancelled"


@pytest.mark.anyio
async def test_waiting_is_not_cancelling() -> None:
    release = anyio.Event()

    async def wait() -> str:
        await release.wait()
        return "kept"

    handle = Task(wait).start()
    with anyio.move_on_after(0.01):
        await handle
    assert not handle.done()
    release.set()
    assert await handle == "kept"


@pytest.mark.anyio
async def test_await_work_running_on_another_loop() -> None:
    handle = Task(aident, 7).start(thread_loop=True)
    assert handle.loop is not None
    assert await handle == 7


@pytest.mark.anyio
async def test_result_on_a_trio_thread_says_await(anyio_backend: str) -> None:
    if anyio_backend != "trio":
        pytest.skip("asyncio re-enters instead; see the subprocess test")
    release = anyio.Event()
    handle = Task(release.wait).start()
    with pytest.raises(RuntimeError, match="use `await handle`"):
        handle.result()
    release.set()
    await handle


# -- result() from sync code running on the very loop that runs the work ----------------------


def run_script(code: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-W", "error", "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def test_result_reenters_the_running_loop() -> None:
    done = run_script(
        """
        import asyncio, sys
        from backgrounder import Task
        assert "nest_asyncio2" not in sys.modules
        original_run = asyncio.run

        async def work():
            await asyncio.sleep(0.01)
            return 42

        def sync_cell():  # a notebook cell: sync code on the loop's own thread
            return Task(work).start().result(timeout=30)

        async def main():
            assert asyncio.run is original_run, "patched before re-entry"
            return sync_cell()

        print(asyncio.run(main()))
        """
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "42"


def test_shutdown_turns_a_stopped_loop_and_runs_finally_blocks() -> None:
    from backgrounder import shutdown

    finalized: list[str] = []

    async def forever() -> None:
        try:
            await asyncio.sleep(3600)
        finally:
            finalized.append("finally")

    async def begin() -> Handle:
        handle = Task(forever).start()
        await asyncio.sleep(0)
        return handle

    loop = asyncio.new_event_loop()
    try:
        handle = loop.run_until_complete(begin())  # the loop stops with the work unfinished
        assert not handle.done()
        shutdown(timeout=0.01, grace=5)
        assert handle.done()
        assert finalized == ["finally"]
        assert handle.state == "cancelled"
    finally:
        loop.close()


def test_result_turns_a_stopped_loop() -> None:
    async def later() -> str:
        await asyncio.sleep(0.01)
        return "turned"

    async def begin() -> Handle:
        return Task(later).start()

    loop = asyncio.new_event_loop()
    try:
        handle = loop.run_until_complete(begin())
        assert handle.result(timeout=10) == "turned"
    finally:
        loop.close()
