"""Upstream 0.2 helpers kept by name: run_sync, run_in_threadpool, AsyncCallable and co."""

from __future__ import annotations

import threading

import anyio
import pytest

from backgrounder import Task
from backgrounder.concurrency import (
    AsyncCallable,
    enforce_async_callable,
    is_async_callable,
    run_in_threadpool,
    run_sync,
)


def describe(a: int, b: int = 0, *, c: int = 0) -> tuple[int, int, int, int]:
    return a, b, c, threading.get_ident()


async def add(a: int, b: int) -> int:
    await anyio.sleep(0)
    return a + b


@pytest.mark.anyio
async def test_run_in_threadpool_passes_keywords_as_keywords() -> None:
    a, b, c, thread = await run_in_threadpool(describe, 1, b=2, c=3)
    assert (a, b, c) == (1, 2, 3)
    assert thread != threading.get_ident()


@pytest.mark.anyio
async def test_async_callable() -> None:
    wrapped = AsyncCallable(describe, c=5)
    assert (await wrapped(1, b=2))[:3] == (1, 2, 5)
    assert (await wrapped(1, c=9))[:3] == (1, 0, 9)  # call keywords win
    assert (await wrapped.run_in_threadpool(4))[:3] == (4, 0, 5)


@pytest.mark.anyio
async def test_enforce_async_callable() -> None:
    assert enforce_async_callable(add) is add
    made = enforce_async_callable(describe)
    assert isinstance(made, AsyncCallable)
    assert (await made(7))[:3] == (7, 0, 0)
    assert is_async_callable(add) and not is_async_callable(describe)
    assert is_async_callable(Task(add, 1, 2))  # a Task is itself an async callable


def test_run_sync_without_a_loop() -> None:
    assert run_sync(add(1, 2)) == 3


def test_run_sync_errors_propagate_unchanged() -> None:
    async def broken() -> None:
        raise RuntimeError("mine")  # upstream retried on any RuntimeError

    with pytest.raises(RuntimeError, match=r"^mine$"):
        run_sync(broken())


def test_run_sync_refuses_a_function() -> None:
    with pytest.raises(TypeError, match=r"run_sync\(f\(x\)\)"):
        run_sync(add)  # type: ignore[arg-type]


def test_run_sync_timeout() -> None:
    with pytest.raises(TimeoutError):
        run_sync(anyio.sleep(10), timeout=0.05)


@pytest.mark.anyio
async def test_run_sync_inside_a_running_loop(anyio_backend: str) -> None:
    if anyio_backend == "trio":
        pytest.skip("asyncio.run inside a trio thread is outside upstream's contract")

    def sync_helper() -> int:  # sync code called from async code
        return run_sync(add(2, 3))

    assert sync_helper() == 5

    def times_out() -> None:
        run_sync(anyio.sleep(10), timeout=0.05)

    with pytest.raises(TimeoutError):
        times_out()


def test_run_sync_on_the_library_loop_does_not_deadlock() -> None:
    async def task_body() -> int:
        return run_sync(add(20, 22))  # sync call made from code on the library's own loop

    assert Task(task_body).start(thread_loop=True).result(timeout=30) == 42
