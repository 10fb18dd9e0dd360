"""Upstream 0.2's helpers, kept by name: run coroutines from sync code, sync code in threads."""

from __future__ import annotations

import asyncio
import concurrent.futures
import functools
import threading
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, TypeVar

import anyio.to_thread

from ._hops import running_loop
from ._loop import loop_thread
from ._validate import is_async_callable

__all__ = [
    "AsyncCallable",
    "enforce_async_callable",
    "is_async_callable",
    "run_in_threadpool",
    "run_sync",
]

T = TypeVar("T")


def run_sync(coroutine: Coroutine[Any, Any, T], timeout: float | None = None) -> T:
    """Run ``coroutine`` to completion from sync code and return its result.

    With no running loop in this thread it uses ``asyncio.run``. Inside a running loop (sync
    code called from async code, a notebook cell) it runs the coroutine on the library's loop
    thread and blocks until done, so it must not need objects bound to the caller's loop.
    Errors raised by the coroutine propagate unchanged; past ``timeout`` seconds the coroutine
    is cancelled and ``TimeoutError`` raised.
    """
    if not asyncio.iscoroutine(coroutine):
        raise TypeError(
            f"run_sync() takes a coroutine object, got {type(coroutine).__name__}; "
            f"call the async function first: run_sync(f(x)), not run_sync(f)"
        )
    if running_loop() is None:
        return asyncio.run(_bounded(coroutine, timeout))
    if loop_thread.is_current():  # blocking the library's loop on itself would never return
        return _run_in_new_thread(_bounded(coroutine, timeout))
    future = asyncio.run_coroutine_threadsafe(coroutine, loop_thread.loop)
    try:
        return future.result(timeout)
    except concurrent.futures.TimeoutError:
        future.cancel()
        raise TimeoutError(f"run_sync() timed out after {timeout} s") from None


async def _bounded(coroutine: Coroutine[Any, Any, T], timeout: float | None) -> T:
    if timeout is None:
        return await coroutine
    try:
        return await asyncio.wait_for(coroutine, timeout)
    except asyncio.TimeoutError:
        raise TimeoutError(f"run_sync() timed out after {timeout} s") from None


def _run_in_new_thread(coroutine: Coroutine[Any, Any, T]) -> T:
    outcome: concurrent.futures.Future[T] = concurrent.futures.Future()

    def main() -> None:
        try:
            outcome.set_result(asyncio.run(coroutine))
        except BaseException as exc:
            outcome.set_exception(exc)

    thread = threading.Thread(target=main, name="backgrounder-run-sync", daemon=True)
    thread.start()
    return outcome.result()


async def run_in_threadpool(func: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Run the sync ``func(*args, **kwargs)`` in anyio's worker threads and return its result."""
    return await anyio.to_thread.run_sync(functools.partial(func, *args, **kwargs))


class AsyncCallable:
    """Wrap a sync callable so that calling it returns an awaitable run in a worker thread."""

    __slots__ = ("_callable", "default_kwargs")

    def __init__(self, func: Callable[..., Any], **kwargs: Any) -> None:
        self._callable = func
        self.default_kwargs = kwargs
        """Keyword arguments given to every call (a call's own keywords take precedence)."""

    def __call__(self, *args: Any, **kwargs: Any) -> Awaitable[Any]:
        """An awaitable that runs the callable with these arguments in a worker thread."""
        return run_in_threadpool(self._callable, *args, **{**self.default_kwargs, **kwargs})

    async def run_in_threadpool(self, *args: Any, **kwargs: Any) -> Any:
        """Run the callable in a worker thread and return its result (upstream 0.2's name)."""
        return await self(*args, **kwargs)


def enforce_async_callable(func: Callable[..., Any]) -> Callable[..., Awaitable[Any]]:
    """``func`` itself if it is async, else an ``AsyncCallable`` that runs it in a thread."""
    return func if is_async_callable(func) else AsyncCallable(func)
