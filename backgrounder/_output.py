"""Per-task output: a router on ``sys.stdout``/``sys.stderr`` that sends what a task prints
to that task, and everything else to the original stream untouched.

Off by default; the notebook extension turns it on. ``with output_widget:`` cannot tell two
tasks of one cell apart, and a thread's prints land in whichever cell runs now; the
ContextVar that says which task runs here can (see docs/how-it-works.md).
"""

from __future__ import annotations

import io
import sys
import threading
from typing import TextIO

from . import _context, _logstreams, _tqdm

__all__ = [
    "OUTPUT_LIMIT",
    "OutputBuffer",
    "RoutingStream",
    "capture_output",
    "install_streams",
    "release_output",
]

OUTPUT_LIMIT = 100_000  # characters kept per task: the tail


class OutputBuffer:
    """The last ``limit`` characters a task printed, and how many were dropped before them."""

    __slots__ = ("_chunks", "_lock", "_size", "dropped", "limit")

    def __init__(self, limit: int = OUTPUT_LIMIT) -> None:
        self.limit = limit
        self.dropped = 0
        self._chunks: list[str] = []
        self._size = 0
        self._lock = threading.Lock()

    def append(self, text: str) -> None:
        with self._lock:
            self._chunks.append(text)
            self._size += len(text)
            if self._size > 2 * self.limit:
                self._trim()

    def _trim(self) -> None:
        joined = "".join(self._chunks)
        cut = len(joined) - self.limit
        if cut > 0:
            self.dropped += cut
            joined = joined[cut:]
        self._chunks, self._size = [joined], len(joined)

    @property
    def text(self) -> str:
        with self._lock:
            self._trim()
            return self._chunks[0] if self._chunks else ""


_routing = threading.local()


class RoutingStream(io.TextIOBase):
    """Stands in for ``sys.stdout``/``sys.stderr``: text that ``route`` claims goes there,
    the rest to the original stream untouched."""

    def __init__(self, name: str, original: TextIO) -> None:
        self.stream_name = name
        self.original = original

    def route(self, text: str) -> bool:
        """Keep ``text`` somewhere else and return True, or return False to pass it through."""
        raise NotImplementedError

    def write(self, text: str) -> int:
        if self.route(text):
            return len(text)
        return self.original.write(text)

    def flush(self) -> None:
        self.original.flush()

    def writable(self) -> bool:
        return True

    def isatty(self) -> bool:
        return False

    @property
    def encoding(self) -> str:  # type: ignore[override]
        return getattr(self.original, "encoding", "utf-8")

    def fileno(self) -> int:
        return self.original.fileno()

    def __getattr__(self, name: str) -> object:
        return getattr(self.original, name)


class TaskStream(RoutingStream):
    """Sends what a task prints to that task (found through the ContextVar)."""

    def route(self, text: str) -> bool:
        task = _context.current.get()
        bar = _tqdm.claim(text, task, 2)  # the writer: 2 frames up (write, then its caller)
        if bar is not None:  # a tqdm bar drawing itself: its task took the numbers (True), or
            return bar  # it is not a task's bar and its frame goes to the original (False)
        if task is None or getattr(_routing, "active", False):
            return False
        # a listener that prints while handling this task's OUTPUT event must not loop forever
        _routing.active = True
        try:
            task._write_output(self.stream_name, text)
        finally:
            _routing.active = False
        return True


_installs = 0  # capture_output() calls not yet released
_install_lock = threading.Lock()  # guards _installs and the swapping of sys.stdout/stderr


def install_streams(cls: type[RoutingStream]) -> None:
    """Put a ``cls`` router on ``sys.stdout`` and ``sys.stderr``, unless one is there."""
    with _install_lock:
        for name in ("stdout", "stderr"):
            current = getattr(sys, name)
            if not isinstance(current, cls):
                setattr(sys, name, cls(name, current))


def capture_output() -> None:
    """Route what tasks print to their own ``output``; nested calls are counted."""
    global _installs
    with _install_lock:
        _installs += 1
    install_streams(TaskStream)
    _logstreams.adopt(
        {id(s.original): s for s in (sys.stdout, sys.stderr) if isinstance(s, TaskStream)}
    )


def release_output() -> None:
    """Undo one ``capture_output()``; the last one puts the original streams back."""
    global _installs
    with _install_lock:
        _installs = max(0, _installs - 1)
        if _installs:
            return
        for name in ("stdout", "stderr"):
            current = getattr(sys, name)
            if isinstance(current, TaskStream):
                setattr(sys, name, current.original)
        _logstreams.restore(TaskStream)
