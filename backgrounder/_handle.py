"""Starting work without waiting: the ``Handle``, the library's loop thread, exit clean-up."""

from __future__ import annotations

import asyncio
import atexit
import concurrent.futures
import contextlib
import os
import threading
from collections.abc import Callable, Generator
from typing import TYPE_CHECKING, Any

import anyio
import anyio.from_thread
import anyio.lowlevel

from ._errors import TaskCancelled
from ._state import TaskState

if TYPE_CHECKING:
    from ._group import Tasks
    from ._task import Task

__all__ = ["Handle", "loop_thread", "shutdown", "start"]

# At interpreter exit, unfinished background work gets this long to end, then is cancelled.
EXIT_TIMEOUT = float(os.environ.get("BACKGROUNDER_EXIT_TIMEOUT", "10"))


class LoopThread:
    """An asyncio event loop in a daemon thread, started on first use and kept for the process.

    It runs work started where no loop runs (scripts, terminal IPython, sync code) and work
    started with ``thread_loop=True``, which then keeps going while a notebook cell blocks.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self.thread: threading.Thread | None = None

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        with self._lock:
            if self._loop is None:
                ready = threading.Event()
                loop = asyncio.new_event_loop()

                def serve() -> None:
                    asyncio.set_event_loop(loop)
                    loop.call_soon(ready.set)
                    loop.run_forever()

                self.thread = threading.Thread(target=serve, name="backgrounder-loop", daemon=True)
                self.thread.start()
                ready.wait()
                self._loop = loop
            return self._loop

    def is_current(self) -> bool:
        return self.thread is not None and threading.current_thread() is self.thread


loop_thread = LoopThread()
_live: set[Handle] = set()  # strong references: asyncio keeps tasks only weakly
_exit_hook_installed = False


class Handle:
    """Work started in the background: its state, and ways to wait for it or stop it.

    ``await handle`` and ``handle.result(timeout)`` return what the work returned (a list for a
    ``Tasks``) or raise what it raised; waiting never cancels the work (Interrupt included):
    ``handle.cancel()`` does.
    """

    __slots__ = ("__weakref__", "_callbacks", "_done", "_future", "_lock", "loop", "work")

    def __init__(self, work: Task | Tasks, loop: asyncio.AbstractEventLoop) -> None:
        self.work = work
        self.loop = loop
        self._done = threading.Event()
        self._lock = threading.Lock()
        self._callbacks: list[Callable[[], None]] = []
        self._future: asyncio.Future[Any] | None = None

    @property
    def state(self) -> TaskState:
        return self.work.state

    @property
    def name(self) -> str:
        return self.work.name

    def done(self) -> bool:
        return self._done.is_set()

    def cancel(self) -> bool:
        """Cancel the work (see ``Task.cancel``); False if it had finished."""
        return self.work.cancel()

    def result(self, timeout: float | None = None) -> Any:
        """Wait (at most ``timeout`` seconds) and return the result, or raise the failure.

        Called from sync code on the very loop that runs the work (a notebook cell), it
        re-enters that loop with nest-asyncio2 rather than deadlock.
        """
        self._wait(timeout)
        return self._outcome()

    def exception(self, timeout: float | None = None) -> BaseException | None:
        """Wait like ``result`` and return the exception the work raised, or None."""
        self._wait(timeout)
        try:
            self._outcome()
        except Exception as exc:
            return exc
        return None

    def __await__(self) -> Generator[Any, None, Any]:
        return self._wait_async().__await__()

    def __repr__(self) -> str:
        return f"<Handle {self.work.name} {self.work.state.value}>"

    # -- internals -----------------------------------------------------------------------------

    def _outcome(self) -> Any:
        assert self._future is not None
        try:
            return self._future.result()
        except (asyncio.CancelledError, concurrent.futures.CancelledError) as exc:
            if isinstance(exc, TaskCancelled):
                raise
            raise TaskCancelled(f"{self.work.name} was cancelled") from None

    def _finished(self, _: object = None) -> None:
        with self._lock:
            self._done.set()
            callbacks, self._callbacks = self._callbacks, []
        _live.discard(self)
        for callback in callbacks:
            callback()

    def _on_done(self, callback: Callable[[], None]) -> None:
        with self._lock:
            if not self._done.is_set():
                self._callbacks.append(callback)
                return
        callback()

    def _wait(self, timeout: float | None) -> None:
        if self._done.is_set():
            return
        if self.loop.is_running() and _on_loop_thread(self.loop):
            self._reenter(timeout)
        elif not self._done.wait(timeout):
            raise TimeoutError(f"{self.work.name} did not finish within {timeout} s")

    def _reenter(self, timeout: float | None) -> None:
        try:
            import nest_asyncio2

            nest_asyncio2.apply(self.loop)
        except Exception as exc:
            raise RuntimeError(
                f"cannot wait for {self.work.name} here: its loop is the one running this code; "
                f"use `await handle` instead"
            ) from exc
        assert self._future is not None
        waiter = asyncio.wait([self._future], timeout=timeout)
        self.loop.run_until_complete(waiter)
        if not self._done.is_set():
            raise TimeoutError(f"{self.work.name} did not finish within {timeout} s")

    async def _wait_async(self) -> Any:
        if not self._done.is_set():
            running = asyncio._get_running_loop()
            if running is self.loop:
                assert self._future is not None
                await asyncio.wait([self._future])  # never cancels the work itself
            elif running is not None:
                woken: asyncio.Future[None] = running.create_future()
                self._on_done(lambda: _set_threadsafe(running, woken))
                await woken
            else:
                event = anyio.Event()
                token = anyio.lowlevel.current_token()
                self._on_done(lambda: _run_threadsafe(event.set, token))
                await event.wait()
        return self._outcome()


def _on_loop_thread(loop: asyncio.AbstractEventLoop) -> bool:
    return asyncio._get_running_loop() is loop


def _set_threadsafe(loop: asyncio.AbstractEventLoop, future: asyncio.Future[None]) -> None:
    def wake() -> None:
        if not future.done():
            future.set_result(None)

    if asyncio._get_running_loop() is loop:
        wake()
    else:
        with contextlib.suppress(RuntimeError):
            loop.call_soon_threadsafe(wake)


def _run_threadsafe(callback: Callable[[], object], token: anyio.lowlevel.EventLoopToken) -> None:
    with contextlib.suppress(Exception):
        anyio.from_thread.run_sync(callback, token=token)


def start(work: Task | Tasks, *, thread_loop: bool = False) -> Handle:
    """Schedule ``await work()`` and return its handle without waiting."""
    if getattr(work, "running", False) or work.state is TaskState.RUNNING:
        raise RuntimeError(f"{work.name} is already running; wait for it before starting it again")
    running = None if thread_loop else asyncio._get_running_loop()
    loop = running or loop_thread.loop
    handle = Handle(work, loop)
    _live.add(handle)
    _install_exit_hook()
    if running is not None:
        handle._future = running.create_task(work())
        handle._future.add_done_callback(handle._finished)
    else:
        created = threading.Event()

        def schedule() -> None:
            handle._future = loop.create_task(work())
            handle._future.add_done_callback(handle._finished)
            created.set()

        if loop_thread.is_current():
            schedule()
        else:
            loop.call_soon_threadsafe(schedule)
            created.wait()
    return handle


def running_handles() -> list[Handle]:
    """Background work started with ``start()`` or ``@background`` that has not finished."""
    return [handle for handle in list(_live) if not handle.done()]


def shutdown(timeout: float = 0.0, grace: float = 2.0) -> None:
    """Give unfinished background work ``timeout`` seconds, then cancel it and let it unwind.

    Run at interpreter exit (and by the notebook extension at kernel shutdown) so that
    ``finally`` blocks run. Never raises; never waits more than about ``timeout + grace``.
    """
    handles = running_handles()
    if not handles:
        return
    _wait_all(handles, timeout)
    for handle in running_handles():
        handle.cancel()
    _wait_all(running_handles(), grace)
    for handle in running_handles():  # still running: cancel the driving asyncio task itself
        future = handle._future
        if future is not None and not future.done():
            with contextlib.suppress(Exception):
                handle.loop.call_soon_threadsafe(future.cancel)
    _wait_all(running_handles(), grace)


def _wait_all(handles: list[Handle], timeout: float) -> None:
    if timeout <= 0 or not handles:
        return
    import time

    deadline = time.monotonic() + timeout
    for handle in handles:
        if handle.loop.is_running() and not _on_loop_thread(handle.loop):
            handle._done.wait(max(0.0, deadline - time.monotonic()))
        elif not handle.loop.is_closed() and not handle.loop.is_running():
            # a stopped loop (a kernel shutting down): turn it until the work ends or time is up
            future = handle._future
            if future is not None:
                with contextlib.suppress(Exception):
                    remaining = max(0.0, deadline - time.monotonic())
                    handle.loop.run_until_complete(asyncio.wait([future], timeout=remaining))


def _install_exit_hook() -> None:
    global _exit_hook_installed
    if not _exit_hook_installed:
        _exit_hook_installed = True
        atexit.register(_at_exit)


def _at_exit() -> None:
    shutdown(timeout=EXIT_TIMEOUT)
