"""Starting work without waiting: ``start()``, the ``Handle`` it returns, and ``shutdown()``.

Where the work runs: on the asyncio loop running in the caller's thread (a notebook cell),
as a system task of the running trio run, or else on the library's loop thread (``_loop``).
A ``Handle`` may be waited for, or cancelled, from any thread.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import contextvars
import os
import sys
import threading
import time
from collections.abc import Callable, Generator
from typing import Any

import anyio
import anyio.lowlevel

from ._errors import TaskCancelled
from ._group import Tasks
from ._hops import call_in_loop, call_in_token, resolve_soon, running_loop, trio_running
from ._loop import at_exit, loop_thread
from ._state import TaskState
from ._task import Task
from ._threads import worker_threads

__all__ = ["Handle", "running_handles", "shutdown", "start"]

# At interpreter exit, unfinished background work gets this long to end, then is cancelled.
EXIT_TIMEOUT = float(os.environ.get("BACKGROUNDER_EXIT_TIMEOUT", "10"))
# How long cancel() from another thread waits for the work's loop to act on it.
_CANCEL_REPLY = 1.0


_live: set[Handle] = set()  # strong references: asyncio keeps tasks only weakly


class Handle:
    """Work started in the background: its state, and ways to wait for it or stop it.

    ``await handle`` and ``handle.result(timeout)`` return what the work returned (a list for a
    ``Tasks``) or raise what it raised; waiting never cancels the work (Interrupt included):
    ``handle.cancel()`` does.
    """

    __slots__ = (
        "__weakref__",
        "_callbacks",
        "_cancel_early",
        "_done",
        "_driver",
        "_entered",
        "_exc",
        "_lock",
        "_result",
        "_thread",
        "_trio_token",
        "loop",
        "work",
    )

    def __init__(self, work: Task | Tasks, loop: asyncio.AbstractEventLoop | None) -> None:
        self.work = work
        """The ``Task`` or ``Tasks`` this handle started."""
        self.loop = loop  # None when the work runs on a trio run
        """The asyncio loop the work runs on (None on a trio run)."""
        self._done = threading.Event()
        # Guards the hand-over between start() and the run beginning (_entered,
        # _cancel_early: a cancel from another thread must not slip in between), and the
        # outcome with the callbacks waiting for it.
        self._lock = threading.Lock()
        self._callbacks: list[Callable[[], object]] = []
        self._driver: asyncio.Task[None] | None = None
        self._thread: int | None = None  # the thread whose event loop runs the work
        self._trio_token: Any = None
        self._entered = self._cancel_early = False
        self._result: Any = None
        self._exc: BaseException | None = None

    @property
    def state(self) -> TaskState:
        """The work's state (see ``Task.state``)."""
        return self.work.state

    @property
    def name(self) -> str:
        """The work's name."""
        return self.work.name

    def done(self) -> bool:
        """True once the work has ended, whichever way (its outcome is then ready)."""
        return self._done.is_set()

    def cancel(self) -> bool:
        """Cancel the work (see ``Task.cancel``); False if it had finished.

        Cancelling before the work began means it never runs. From another thread the request
        is handed to the work's event loop, so it cannot slip between scheduling and start.
        """
        if self._done.is_set():
            return False
        if self._thread == threading.get_ident() or not self._loop_running():
            cancelled = self._cancel_here()
            self._settle_if_loop_closed()
            return cancelled
        reply: concurrent.futures.Future[bool] = concurrent.futures.Future()

        def on_loop() -> None:
            try:
                reply.set_result(self._cancel_here())
            except BaseException as exc:
                reply.set_exception(exc)

        if not self._call_soon_threadsafe(on_loop):
            return self._cancel_here()
        try:
            return reply.result(_CANCEL_REPLY)
        except concurrent.futures.TimeoutError:  # the loop is blocked: it will cancel later
            return True

    def result(self, timeout: float | None = None) -> Any:
        """Wait (at most ``timeout`` seconds) and return the result, or raise the failure.

        Raises ``TimeoutError`` if the work is still running after ``timeout`` (the work goes
        on). Called from sync code on the very asyncio loop that runs the work (a notebook
        cell), it re-enters that loop with nest-asyncio2 rather than deadlock.
        """
        __tracebackhide__ = True  # IPython and pytest: the traceback starts in the user's code
        self._wait(timeout)
        return self._outcome()

    def exception(self, timeout: float | None = None) -> BaseException | None:
        """Wait like ``result`` and return the exception the work raised, or None."""
        self._wait(timeout)
        return self._exc

    def __await__(self) -> Generator[Any, None, Any]:
        return self._wait_async().__await__()

    def __repr__(self) -> str:
        return f"<Handle {self.work.name} {self.work.state.value}>"

    # -- the driving coroutine ------------------------------------------------------------------

    async def _drive(self) -> None:
        with self._lock:
            self._entered = True
            self.work._set_starting(None)
            cancelled = self._cancel_early
        if cancelled:
            self._settle(None, TaskCancelled(f"{self.work.name} was cancelled"))
            return
        __tracebackhide__ = True  # its frame stays in the traceback of the work's exception
        try:
            result = await self.work()
        except BaseException as exc:
            work = self.work
            # GeneratorExit not raised by the task itself: a pending driver being closed (its
            # loop was closed without cancelling it); anyio cannot say which loop runs then
            closing = isinstance(exc, GeneratorExit) and not (
                work.state is TaskState.FAILED and work.exception is exc
            )
            if closing or isinstance(exc, anyio.get_cancelled_exc_class()):
                # the driver itself was cancelled: loop closing, trio run ending, shutdown()
                self._settle(None, TaskCancelled(f"{self.work.name} was cancelled"))
                raise
            # anything else is the work's outcome; raising it here would only reach the loop
            self._settle(None, exc)
        else:
            self._settle(result, None)

    def _settle(self, result: Any, exc: BaseException | None) -> None:
        with self._lock:
            self._result, self._exc = result, exc
            self._done.set()
            callbacks, self._callbacks = self._callbacks, []
        _live.discard(self)
        for callback in callbacks:
            callback()

    # -- internals -----------------------------------------------------------------------------

    def _outcome(self) -> Any:
        __tracebackhide__ = True
        if self._exc is not None:
            raise self._exc
        return self._result

    def _cancel_here(self) -> bool:
        """Cancel, on the work's loop thread (or with its loop stopped)."""
        with self._lock:
            early = not self._entered
            if early:
                self._cancel_early = True
                self.work._set_starting(None)
        if not early:
            return self.work.cancel()
        self.work._cancel_unstarted()
        return True

    def _loop_running(self) -> bool:
        if self.loop is not None:
            return self.loop.is_running()
        return self._trio_token is not None

    def _call_soon_threadsafe(self, callback: Callable[[], object]) -> bool:
        """Hand ``callback`` to the work's loop (or trio run); False if it is over."""
        if self.loop is not None:
            return call_in_loop(self.loop, callback)
        try:
            self._trio_token.run_sync_soon(callback)
        except Exception:  # the trio run is over
            return False
        return True

    def _on_done(self, callback: Callable[[], object]) -> None:
        with self._lock:
            if not self._done.is_set():
                self._callbacks.append(callback)
                return
        callback()

    def _settle_if_loop_closed(self) -> bool:
        """The work's loop was closed under it: nothing will finish the run, so end it here."""
        loop = self.loop
        if loop is None or not loop.is_closed() or self._done.is_set():
            return False
        reason = f"{self.work.name} was cancelled: its event loop was closed"
        if isinstance(self.work, Tasks):
            self.work._abandon(reason)
        else:
            self.work._abandon()
        self._settle(None, TaskCancelled(reason))
        return True

    def _wait(self, timeout: float | None) -> None:
        if self._done.is_set() or self._settle_if_loop_closed():
            return
        loop = self.loop
        if self._thread == threading.get_ident():
            if loop is None:
                raise RuntimeError(
                    f"cannot wait for {self.work.name} here: it runs on this thread's trio run; "
                    f"use `await handle` instead"
                )
            if loop.is_running():
                self._reenter(timeout)
                if not self._done.is_set():  # the wait ended by its timeout, not the work
                    raise TimeoutError(f"{self.work.name} did not finish within {timeout} s")
                return
        if loop is not None and not loop.is_running() and not loop.is_closed():
            # a stopped loop (between run_until_complete calls): turn it ourselves
            self._turn(loop, timeout)
        else:
            # a sync task waiting for work it started (a nested group) must not hold a worker
            # thread that this work needs meanwhile: it secedes (raising if none may be added)
            with worker_threads.waiting(self.work.name):
                self._done.wait(timeout)
        if not self._done.is_set():
            raise TimeoutError(f"{self.work.name} did not finish within {timeout} s")

    def _turn(self, loop: asyncio.AbstractEventLoop, timeout: float | None) -> None:
        driver = self._driver
        if driver is not None:
            loop.run_until_complete(asyncio.wait([driver], timeout=timeout))

    def _reenter(self, timeout: float | None) -> None:
        assert self.loop is not None
        try:
            import nest_asyncio2

            nest_asyncio2.apply(self.loop)
        except Exception as exc:
            raise RuntimeError(
                f"cannot wait for {self.work.name} here: its loop is the one running this code; "
                f"use `await handle` instead"
            ) from exc
        self._turn(self.loop, timeout)

    async def _wait_async(self) -> Any:
        __tracebackhide__ = True
        if self._done.is_set():
            return self._outcome()
        running = running_loop()
        if running is not None and running is self.loop:
            assert self._driver is not None
            await asyncio.wait([self._driver])  # never cancels the work itself
        elif running is not None:
            woken: asyncio.Future[None] = running.create_future()
            self._on_done(lambda: resolve_soon(running, woken))
            await woken
        else:
            event = anyio.Event()
            if self._thread == threading.get_ident():  # the same trio run settles it
                self._on_done(event.set)
            else:
                token = anyio.lowlevel.current_token()
                self._on_done(lambda: call_in_token(token, event.set))
            await event.wait()
        return self._outcome()


def start(work: Task | Tasks, *, thread_loop: bool = False) -> Handle:
    """Schedule ``await work()`` and return its handle without waiting.

    On the running asyncio loop, or the running trio run (as a system task, cancelled when the
    run ends), else on the library's loop thread.
    """
    work._check_startable()
    running = None if thread_loop else running_loop()
    if running is None and not thread_loop and trio_running():
        return _start_trio(work)
    loop = running or loop_thread.loop
    handle = Handle(work, loop)
    work._set_starting(handle)  # until the run begins, cancel() goes through the handle
    _live.add(handle)
    if running is not None:
        handle._thread = threading.get_ident()
        handle._driver = running.create_task(handle._drive())
        return handle
    created = threading.Event()

    def schedule() -> None:
        handle._driver = loop.create_task(handle._drive())
        created.set()

    handle._thread = loop_thread.ident
    if loop_thread.is_current():
        schedule()
    else:
        loop.call_soon_threadsafe(schedule, context=_context_for_asyncio())
        created.wait()
    return handle


def _context_for_asyncio() -> contextvars.Context:
    """The caller's context (ipykernel's parent cell, the user's ContextVars) minus sniffio's
    "trio", which would make anyio calls in work started from trio look for trio."""
    context = contextvars.copy_context()
    sniffio = sys.modules.get("sniffio")
    if sniffio is not None and context.get(sniffio.current_async_library_cvar) is not None:
        context.run(sniffio.current_async_library_cvar.set, None)
    return context


def _start_trio(work: Task | Tasks) -> Handle:
    import trio

    handle = Handle(work, None)
    handle._thread = threading.get_ident()
    handle._trio_token = trio.lowlevel.current_trio_token()
    work._set_starting(handle)  # until the run begins, cancel() goes through the handle
    _live.add(handle)
    trio.lowlevel.spawn_system_task(
        handle._drive, name=f"backgrounder: {work.name}", context=contextvars.copy_context()
    )
    return handle


def running_handles() -> list[Handle]:
    """Background work started with ``start()`` or ``@background`` that has not finished.

    Work whose event loop was closed under it (``loop.close()`` with the work pending) can
    never finish, and asyncio says nothing when a loop closes: it is found here (as by
    ``result()`` and ``cancel()``), ended cancelled and left out.
    """
    return [
        handle
        for handle in list(_live)
        if not handle.done() and not handle._settle_if_loop_closed()
    ]


def shutdown(timeout: float = 0.0, grace: float = 2.0) -> None:
    """Give unfinished background work ``timeout`` seconds, then cancel it and let it unwind.

    Run at interpreter exit (and by the notebook extension at kernel shutdown) so that
    ``finally`` blocks run. Never raises. Waits at most ``timeout`` for the work, then
    ``grace`` for the cancel to act, ``grace`` for coroutines that ignore it, ``grace`` for
    cooperating sync tasks: ``timeout + 3 * grace`` in all, plus up to 1 s per busy loop
    that cannot take the cancel request (see ``Handle.cancel``).
    """
    unfinished = running_handles()
    if not unfinished:
        return
    _wait_all(unfinished, timeout)
    for handle in running_handles():
        with contextlib.suppress(Exception):
            handle.cancel()
    _wait_all(running_handles(), grace)
    for handle in running_handles():  # still running: cancel the driving asyncio task itself
        driver = handle._driver
        if driver is not None and not driver.done():
            handle._call_soon_threadsafe(driver.cancel)
    _wait_all(running_handles(), grace)
    _wait_threads(unfinished, grace)


def _wait_threads(handles: list[Handle], timeout: float) -> None:
    """Give cancelled sync tasks that check ``cancelled()`` time to return (and run ``finally``).

    A thread cannot be joined per task (the workers are shared), so poll: this runs once, at
    exit or kernel shutdown, and ends as soon as the threads do.
    """
    tasks = []
    for handle in handles:
        tasks.extend(handle.work.tasks if isinstance(handle.work, Tasks) else [handle.work])
    deadline = time.monotonic() + timeout
    while any(task.thread_alive for task in tasks) and time.monotonic() < deadline:
        time.sleep(0.01)


def _wait_all(handles: list[Handle], timeout: float) -> None:
    if timeout <= 0 or not handles:
        return
    deadline = time.monotonic() + timeout
    for handle in handles:
        remaining = max(0.0, deadline - time.monotonic())
        loop = handle.loop
        with contextlib.suppress(Exception):
            if loop is not None and not loop.is_running() and not loop.is_closed():
                # a stopped loop (a kernel shutting down): turn it until the work ends
                handle._turn(loop, remaining)
            elif handle._thread != threading.get_ident():
                handle._done.wait(remaining)


def _at_exit() -> None:
    shutdown(timeout=EXIT_TIMEOUT)


# Registered now, so that hooks registered later (the notebook's, which cancels at once)
# run before it and leave it nothing to wait for.
at_exit(_at_exit)
