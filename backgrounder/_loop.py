"""The library's own event loop thread, and what runs at interpreter exit.

Work started where no loop runs (scripts, terminal IPython, sync code), work started with
``thread_loop=True`` and the notebook tables' redraws run on one asyncio loop in a daemon
thread, started on first use and kept for the process. A daemon thread, so that work that
never ends cannot keep a script or a kernel from exiting.
"""

from __future__ import annotations

import asyncio
import atexit
import logging
import os
import threading
from collections.abc import Callable

__all__ = ["LoopThread", "at_exit", "loop_thread"]

_log = logging.getLogger("backgrounder")


class LoopThread:
    """An asyncio event loop in a daemon thread (see the module)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()  # guards the first start: one loop, one thread
        self._loop: asyncio.AbstractEventLoop | None = None
        self.thread: threading.Thread | None = None

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        """The loop, started (and its thread running it) on first use."""
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

    @property
    def ident(self) -> int | None:
        return self.thread.ident if self.thread is not None else None

    def is_current(self) -> bool:
        return self.thread is not None and threading.current_thread() is self.thread

    def _forget(self) -> None:
        """After ``fork()`` the thread is gone from the child: start a new one on next use."""
        self._lock = threading.Lock()
        self._loop = self.thread = None


loop_thread = LoopThread()

_hooks: list[Callable[[], None]] = []
_early_hooks: list[Callable[[], None]] = []
_hooks_lock = threading.Lock()


def at_exit(callback: Callable[[], None], *, early: bool = False) -> None:
    """Run ``callback`` once at interpreter exit; the last registered runs first.

    ``early`` hooks run when threading shuts down, before any ``atexit`` hook (loky's own
    waits for running calls there: a 30 s call held exit for 30 s). A hook that raises is
    logged and the others still run. Registering the same callback twice does nothing.
    """
    with _hooks_lock:
        hooks = _early_hooks if early else _hooks
        if callback in hooks:
            return
        first = not hooks
        hooks.append(callback)
    if first:
        runner = _run_early_hooks if early else _run_hooks
        register = getattr(threading, "_register_atexit", None) if early else None
        if register is not None:
            register(runner)
        else:  # pragma: no cover - CPython has threading._register_atexit since 3.9
            atexit.register(runner)


def _run(hooks: list[Callable[[], None]]) -> None:
    with _hooks_lock:
        todo = hooks[::-1]
        hooks.clear()
    for hook in todo:
        try:
            hook()
        except Exception:
            _log.debug("backgrounder: an exit hook failed", exc_info=True)


def _run_hooks() -> None:
    _run(_hooks)


def _run_early_hooks() -> None:
    _run(_early_hooks)


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=loop_thread._forget)
