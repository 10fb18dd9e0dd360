"""Terminal IPython: task output stays the tasks' between prompts; Ctrl-C cancels an async cell.

Two things differ from a Jupyter kernel (issue 14):

- IPython shows its prompt inside prompt_toolkit's ``patch_stdout``, which puts a proxy on
  ``sys.stdout``/``sys.stderr`` (text written there appears above the prompt) and puts back
  what was there when the prompt ends. So between cells the output router was not on the
  streams: a task printing then wrote to the terminal and its ``output`` missed the line
  (``chatty`` kept 1 line of 6). While the extension is loaded, the prompt runs with a router
  on top of that proxy: a task's text goes to the task, any other text above the prompt.
- Ctrl-C during an async cell raised ``KeyboardInterrupt`` inside asyncio's ``select``: a long
  traceback through asyncio, the cell's coroutine left suspended on IPython's loop (which
  only turns while a cell runs) with the group's tasks "running"; the next async cell ran it
  on, and the old cell's ``TaskCancelled`` came out there. ipykernel cancels an interrupted
  async cell instead; so does this module's ``loop_runner`` (IPython's documented hook for
  running top-level ``await``), the way ``asyncio.run`` treats Ctrl-C: the first cancels the
  cell's coroutine (an awaited group then cancels its tasks), a second raises
  ``KeyboardInterrupt`` at once (a cell blocked in sync code). IPython then shows what the
  cell raised: one line if the exception has ``_render_traceback_``.
"""

from __future__ import annotations

import asyncio
import functools
import signal
import sys
import threading
from collections.abc import Callable, Coroutine, Iterator
from contextlib import contextmanager
from typing import Any

from .._output import TaskStream

__all__ = ["CellInterrupted", "InterruptibleRunner", "install", "routed_streams", "uninstall"]

_ROUTING = "_backgrounder_routing"  # on the shell: the prompt's router, once installed
_OPTIONS = "_extra_prompt_options"  # the shell's method IPython calls first in patch_stdout


# -- the prompt --------------------------------------------------------------------------------


class _Routing:
    """A router put on top of whatever ``sys.stdout``/``sys.stderr`` are (prompt_toolkit's
    proxy), and taken off again, for one prompt at a time."""

    def __init__(self) -> None:
        self.added: dict[str, TaskStream] = {}

    def enter(self) -> None:
        for name in ("stdout", "stderr"):
            current = getattr(sys, name)
            if not isinstance(current, TaskStream):
                self.added[name] = TaskStream(name, current)
                setattr(sys, name, self.added[name])

    def exit(self) -> None:
        added, self.added = self.added, {}
        for name, stream in added.items():
            if getattr(sys, name) is stream:  # unless someone swapped it meanwhile
                setattr(sys, name, stream.original)


@contextmanager
def routed_streams() -> Iterator[None]:
    """A router on whatever ``sys.stdout``/``sys.stderr`` are now, removed at the end."""
    routing = _Routing()
    routing.enter()
    try:
        yield
    finally:
        routing.exit()


def _wrap(method: Callable[..., Any], routing: _Routing, kind: str) -> Callable[..., Any]:
    if kind == "prompt_async":

        @functools.wraps(method)
        async def prompt_async(*args: Any, **kwargs: Any) -> Any:
            routing.enter()
            try:
                return await method(*args, **kwargs)
            finally:
                routing.exit()

        return prompt_async

    if kind == "prompt":

        @functools.wraps(method)
        def prompt(*args: Any, **kwargs: Any) -> Any:
            routing.enter()
            try:
                return method(*args, **kwargs)
            finally:
                routing.exit()

        return prompt

    @functools.wraps(method)
    def options(*args: Any, **kwargs: Any) -> Any:
        # IPython builds the prompt's options inside patch_stdout, before calling prompt():
        # routing from here on closes that window (a few ms: a tqdm bar made in it kept
        # the proxy as its file, and leaked every frame; 2 runs in 8 of the terminal test)
        routing.enter()
        return method(*args, **kwargs)

    return options


# -- Ctrl-C in an async cell ------------------------------------------------------------------


class CellInterrupted(KeyboardInterrupt):
    """Ctrl-C cancelled the running async cell (and what it awaited)."""

    def _render_traceback_(self) -> list[str]:
        # IPython prints these lines instead of a traceback (its documented hook)
        return [f"KeyboardInterrupt: {self}"]


class InterruptibleRunner:
    """An IPython ``loop_runner``: run a cell's coroutine on IPython's asyncio loop, and let
    Ctrl-C cancel it (then the cell ends with ``CellInterrupted``, one line)."""

    def __init__(self, previous: Callable[[Coroutine[Any, Any, Any]], Any]) -> None:
        self.previous = previous  # the runner this one replaced: put back by uninstall

    def __call__(self, coro: Coroutine[Any, Any, Any]) -> Any:
        if threading.current_thread() is not threading.main_thread():
            return self.previous(coro)  # only the main thread gets SIGINT
        from IPython.core.async_helpers import get_asyncio_loop

        loop: asyncio.AbstractEventLoop = get_asyncio_loop()  # type: ignore[no-untyped-call]
        task = loop.create_task(coro)
        interrupts = 0

        def on_sigint(signum: int, frame: object) -> None:
            nonlocal interrupts
            interrupts += 1
            if interrupts == 1 and not task.done():
                loop.call_soon_threadsafe(task.cancel)  # also wakes a loop in select()
                return
            raise KeyboardInterrupt

        previous = signal.signal(signal.SIGINT, on_sigint)
        try:
            return loop.run_until_complete(task)
        except asyncio.CancelledError:
            if not interrupts:
                raise
            # the cell's own code catches what it raises (IPython shows it); this is a
            # cancel that landed between its statements
            raise CellInterrupted("the cell was cancelled") from None
        finally:
            signal.signal(signal.SIGINT, previous)
            if not task.done():  # a second Ctrl-C left it: cancel it, never leave it pending
                task.cancel()
                try:
                    loop.run_until_complete(task)
                except BaseException:
                    pass

    def __str__(self) -> str:
        return "asyncio (Ctrl-C cancels the cell: backgrounder)"


# -- install ----------------------------------------------------------------------------------


def install(shell: Any) -> bool:
    """Set both up on a terminal ``shell``; False (nothing done) for any other shell, e.g. a
    Jupyter kernel's. Twice is harmless."""
    session = getattr(shell, "pt_app", None)
    if session is None:
        return False
    if _ROUTING not in vars(shell):
        routing = _Routing()
        setattr(shell, _ROUTING, routing)
        for owner, name in ((session, "prompt"), (session, "prompt_async"), (shell, _OPTIONS)):
            if hasattr(owner, name):
                setattr(owner, name, _wrap(getattr(owner, name), routing, name))
    runner = getattr(shell, "loop_runner", None)
    if runner is not None and str(runner) == "asyncio":  # IPython's own; not one the user set
        shell.loop_runner = InterruptibleRunner(runner)
    return True


def uninstall(shell: Any) -> None:
    """Put the shell's prompt and loop runner back as they were."""
    if vars(shell).pop(_ROUTING, None) is not None:
        session = getattr(shell, "pt_app", None)
        for owner, name in ((session, "prompt"), (session, "prompt_async"), (shell, _OPTIONS)):
            if owner is not None and name in vars(owner):
                delattr(owner, name)
    runner = getattr(shell, "loop_runner", None)
    if isinstance(runner, InterruptibleRunner):
        shell.loop_runner = runner.previous
