"""Calls from one thread into an event loop running in another: the library's only hops.

Work finishes in worker threads, tables redraw on the library's loop thread and button
clicks arrive on the kernel's main thread; each of them reaches a loop through here, so the
"is that loop still there?" question is answered once.
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
import threading
from collections.abc import Callable
from typing import Any

import anyio.from_thread

__all__ = [
    "call_in_loop",
    "call_in_token",
    "post_to_token",
    "resolve_soon",
    "running_loop",
    "trio_running",
]


def running_loop() -> asyncio.AbstractEventLoop | None:
    """The asyncio loop running in this thread, or None (no exception, unlike asyncio's)."""
    return asyncio._get_running_loop()


def trio_running() -> bool:
    """True inside a trio run (trio is looked up, never imported)."""
    trio = sys.modules.get("trio")
    return trio is not None and bool(trio.lowlevel.in_trio_task())


def call_in_loop(
    loop: asyncio.AbstractEventLoop, callback: Callable[[], object], *, thread: int | None = None
) -> bool:
    """Run ``callback`` on ``loop``: now if this is ``thread`` (the loop's), else soon.

    False if the loop is closed: nobody is left to run it.
    """
    if loop.is_closed():
        return False
    if thread is not None and threading.get_ident() == thread:
        callback()
        return True
    try:
        loop.call_soon_threadsafe(callback)
    except RuntimeError:  # closed
        return False
    return True


def call_in_token(token: Any, callback: Callable[[], object], *, thread: int | None = None) -> bool:
    """Run ``callback`` in the anyio event loop (trio run) of ``token``; False if it is over."""
    if thread is not None and threading.get_ident() == thread:
        callback()
        return True
    try:
        anyio.from_thread.run_sync(callback, token=token)
    except Exception:  # the run is over (or the callback raised: it is reported there)
        return False
    return True


def post_to_token(token: Any, callback: Callable[[], object], *, thread: int) -> None:
    """Run ``callback`` in the run of ``token`` without waiting for it (trio's
    ``run_sync_soon``): the caller may be a thread that run is itself blocked on. Nothing
    happens if the run is over."""
    if threading.get_ident() == thread:
        callback()
        return
    run_sync_soon = getattr(token.native_token, "run_sync_soon", None)
    if run_sync_soon is None:  # anyio has no "soon" of its own
        call_in_token(token, callback)
        return
    with contextlib.suppress(RuntimeError):  # the run is over: nobody is left to tell
        run_sync_soon(callback)


def resolve_soon(loop: asyncio.AbstractEventLoop, future: asyncio.Future[None]) -> None:
    """Set ``future``'s result (None) on ``loop``, from any thread, unless it is done."""

    def resolve() -> None:
        if not future.done():
            future.set_result(None)

    if running_loop() is loop:
        resolve()
    else:
        call_in_loop(loop, resolve)
