"""Per-task output: a router on ``sys.stdout``/``sys.stderr`` that sends what a task prints
to that task, and everything else to the original stream untouched.

Off by default; the notebook extension turns it on. ``with output_widget:`` cannot tell two
tasks of one cell apart, and a thread's prints land in whichever cell runs now; the
ContextVar that says which task runs here can (see docs/how-it-works.md). While it is on,
threads a task starts and logging handlers made before it are routed too (see below); what
it patches for that is put back when it is turned off.
"""

from __future__ import annotations

import contextvars
import io
import logging
import sys
import threading
import weakref
from collections.abc import Callable, Sequence
from concurrent.futures import Executor, ThreadPoolExecutor
from functools import partial
from typing import TYPE_CHECKING, Any, TextIO

from . import _context, _tqdm

if TYPE_CHECKING:
    from ._task import Task

_current, _enclosing = _context.current, _context.enclosing

__all__ = [
    "OUTPUT_LIMIT",
    "OutputBuffer",
    "RoutingStream",
    "capture_output",
    "install_streams",
    "release_output",
    "write_as",
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

    def append(self, text: str, dropped: int = 0) -> None:
        """Add ``text``; ``dropped`` characters printed before it were already cut elsewhere
        (a worker process bounds its output the same way) and are counted as dropped."""
        with self._lock:
            if dropped:
                self.dropped += dropped
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


class _Write:
    """``RoutingStream.write``: a task's text goes to the task, whatever wraps ``write``.

    IPython 9 wraps ``sys.stdout.write`` during each cell (``InteractiveShell._tee``) and
    keeps everything written in its output history: task text included, unbounded (100,000
    of 100,000 characters a task printed were kept there). Setting ``write`` keeps the
    wrapper; reading it gives a function that routes first and hands only other text to the
    wrapper.
    """

    def __get__(self, stream: RoutingStream | None, owner: type) -> Any:
        if stream is None:
            return self
        return stream._dispatch

    def __set__(self, stream: RoutingStream, wrapper: Any) -> None:
        own = getattr(wrapper, "__self__", None) is stream  # putting back our own
        stream.__dict__["_wrapper"] = None if own else wrapper

    def __delete__(self, stream: RoutingStream) -> None:
        stream.__dict__["_wrapper"] = None


class RoutingStream(io.TextIOBase):
    """Stands in for ``sys.stdout``/``sys.stderr``: text that ``route`` claims goes there,
    the rest to the original stream untouched."""

    def __init__(self, name: str, original: TextIO) -> None:
        self.stream_name = name
        self.original = original

    def route(self, text: str) -> bool:
        """Keep ``text`` somewhere else and return True, or return False to pass it through."""
        raise NotImplementedError

    write = _Write()
    _wrapper: Any = None

    def _dispatch(self, text: str) -> int:
        if self.route(text):
            return len(text)
        wrapper = self._wrapper
        if wrapper is None or getattr(_routing, "in_wrapper", False):
            return self.original.write(text)
        _routing.in_wrapper = True  # the wrapper calls back the write it wrapped: this one
        try:
            return int(wrapper(text))
        finally:
            _routing.in_wrapper = False

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
    """Sends what a task prints to that task (found through the ContextVar), and to the tasks
    around it: the task that started it, or whose thread is printing."""

    def route(self, text: str) -> bool:
        if not _installs:  # a stale reference after release_output(): pass through
            return False
        task = _current.get()
        # the writer: 2 frames up (write, then its caller); a bar made in a thread the task
        # started is the task's too
        bar = _tqdm.claim(text, task or _context.current_task(), 2)
        if bar is not None:  # a tqdm bar drawing itself: its task took the numbers (True), or
            return bar  # it is not a task's bar and its frame goes to the original (False)
        if task is not None and _enclosing.get()[0] is not task:  # the common case: cheap
            if getattr(_routing, "active", False):
                return False
            _routing.active = True  # see _deliver
            try:
                task._write_output(self.stream_name, text)
            finally:
                _routing.active = False
            return True
        targets = _targets()
        return bool(targets) and _deliver(targets, self.stream_name, text)


def _targets() -> list[Task]:
    """The task whose code runs here, then the tasks around it that are still running (a
    sub-task outliving the task that started it does not write into a finished record)."""
    task = _context.current.get()
    found = [] if task is None else [task]
    for ref in _context.here()[len(found) :]:
        outer = ref()
        if outer is not None and (not outer.state.finished or outer.thread_alive):
            found.append(outer)
    return found


def _deliver(targets: Sequence[Task], stream: str, text: str, dropped: int = 0) -> bool:
    """Append ``text`` to each target's output; False if called back from such an append."""
    if getattr(_routing, "active", False):
        return False
    # a listener that prints while handling this task's OUTPUT event must not loop forever
    _routing.active = True
    try:
        for task in targets:
            task._write_output(stream, text, dropped)
    finally:
        _routing.active = False
    return True


# -- threads that tasks start ------------------------------------------------------------------
#
# ipykernel 7 keeps a cell's parent header in a ContextVar, falling back to the latest cell in
# threads that did not inherit it (a plain Thread starts with an empty context), and offers
# set_thread_parent() to opt a thread in (ipykernel PRs 1451, 1546). Patching Thread.start to
# pin each thread to the cell that started it (6.29, PR 1186) was undone: a pool's long-lived
# workers stayed pinned to whichever cell first used the pool (issue 1289). So here, only while
# capture is on: a Thread started by a task's code carries the tasks around it (weakly) into
# the new thread; ThreadPoolExecutor work carries its submitter's per call, not per worker
# thread, and the pool's own workers carry nothing.

# The originals replaced while capture is on; kept after, for a wrapper someone put on ours.
_hooks: dict[str, Callable[..., Any]] = {}
# The library's own service threads serve every task: one first started inside a task (they
# start lazily) carries none. run_sync's thread runs the caller's coroutine: it does carry.
_SERVICE = ("backgrounder._threads", "backgrounder._loop", "backgrounder.notebook.journal")


def _serves_the_library(thread: threading.Thread) -> bool:
    target = getattr(thread, "_target", None)  # CPython's name for Thread(target=...)
    return getattr(target, "__module__", None) in _SERVICE


def _start(self: threading.Thread) -> None:
    chain = () if not _installs or getattr(_routing, "submitting", False) else _context.here()
    if chain and not _serves_the_library(self):
        run = self.run

        def run_in_task() -> None:
            _context.adopt(chain)
            try:
                run()
            finally:
                self.__dict__.pop("run", None)  # no cycle through the thread left behind

        self.run = run_in_task  # type: ignore[method-assign]
    _hooks["start"](self)


def _submit(self: Executor, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Any:
    chain = _context.here() if _installs else ()
    if chain:
        fn = partial(_call_in, chain, fn)
    was = getattr(_routing, "submitting", False)
    _routing.submitting = True  # the worker threads it may start belong to the pool
    try:
        return _hooks["submit"](self, fn, *args, **kwargs)
    finally:
        _routing.submitting = was


def _call_in(chain: _context.Chain, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Any:
    context = contextvars.copy_context()  # the worker thread's own context stays as it was
    return context.run(_adopted, chain, fn, args, kwargs)


def _adopted(chain: _context.Chain, fn: Callable[..., Any], args: Any, kwargs: Any) -> Any:
    _context.adopt(chain)
    return fn(*args, **kwargs)


class ThreadHooks:
    """Replacements for ``Thread.start`` and ``ThreadPoolExecutor.submit``, put in place and
    taken out again; the originals are kept (a wrapper someone put on ours stays working)."""

    def __init__(
        self,
        start: Callable[..., Any],
        submit: Callable[..., Any],
        saved: dict[str, Callable[..., Any]],
    ) -> None:
        self.start, self.submit = start, submit
        self._saved = saved  # where the replacements find the originals they call

    def install(self) -> None:
        if threading.Thread.start is not self.start:
            self._saved["start"] = threading.Thread.start
            threading.Thread.start = self.start  # type: ignore[method-assign]
        if ThreadPoolExecutor.submit is not self.submit:
            self._saved["submit"] = ThreadPoolExecutor.submit
            ThreadPoolExecutor.submit = self.submit  # type: ignore[method-assign]

    def remove(self) -> None:
        # Put an original back only if ours is still in place: if someone wrapped ours, it
        # stays in their chain, passing calls through now that capture is off.
        if threading.Thread.start is self.start:
            threading.Thread.start = self._saved["start"]  # type: ignore[method-assign]
        if ThreadPoolExecutor.submit is self.submit:
            ThreadPoolExecutor.submit = self._saved["submit"]  # type: ignore[method-assign]


_thread_hooks = ThreadHooks(_start, _submit, _hooks)
_install_hooks, _remove_hooks = _thread_hooks.install, _thread_hooks.remove


# -- logging handlers made before capture ------------------------------------------------------
#
# logging.basicConfig() or a StreamHandler() made before capture holds the stream that was
# sys.stderr then, so its records would bypass the router. While capture is on, handlers whose
# stream is one that capture replaces write through the router instead.

_handlers: list[tuple[weakref.ref[logging.StreamHandler[Any]], TaskStream]] = []


def _all_handlers() -> list[logging.Handler]:
    loggers: list[Any] = [logging.getLogger()]
    loggers += list(logging.Logger.manager.loggerDict.values())
    found: dict[int, logging.Handler] = {}
    for logger in loggers:
        for handler in getattr(logger, "handlers", ()):  # a PlaceHolder has none
            found.setdefault(id(handler), handler)
    return list(found.values())


def _reroute_handlers(routers: dict[int, TaskStream]) -> None:
    for handler in _all_handlers():
        if isinstance(handler, logging.StreamHandler):
            router = routers.get(id(getattr(handler, "stream", None)))
            if router is None:
                continue
            try:
                handler.setStream(router)
            except Exception:  # a subclass whose stream cannot be set (a read-only property)
                continue
            _handlers.append((weakref.ref(handler), router))


def _restore_handlers() -> None:
    """Put back what capture changed, and point handlers made while it was on (holding a
    router) at the stream the router stood for."""
    for ref, router in _handlers:
        rerouted = ref()
        if rerouted is not None and rerouted.stream is router:
            rerouted.setStream(router.original)
    _handlers.clear()
    for handler in _all_handlers():
        stream = getattr(handler, "stream", None)
        if isinstance(handler, logging.StreamHandler) and isinstance(stream, TaskStream):
            try:
                handler.setStream(stream.original)
            except Exception:  # a subclass whose stream cannot be set
                continue


_installs = 0  # capture_output() calls not yet released
# guards _installs, the swapping of sys.stdout/stderr and of the hooks above
_install_lock = threading.RLock()


def install_streams(cls: type[RoutingStream]) -> dict[int, RoutingStream]:
    """Put a ``cls`` router on ``sys.stdout`` and ``sys.stderr``, unless one is there;
    return the routers put, by the ``id`` of the stream each replaced."""
    put: dict[int, RoutingStream] = {}
    with _install_lock:
        for name in ("stdout", "stderr"):
            current = getattr(sys, name)
            if not isinstance(current, cls):
                router = cls(name, current)
                setattr(sys, name, router)
                put[id(current)] = router
    return put


def capture_output() -> None:
    """Route what tasks print to their own ``output``; nested calls are counted.

    While it is on, threads that a task's code starts (``threading.Thread``, work submitted to
    a ``concurrent.futures.ThreadPoolExecutor``) print as that task, and logging handlers that
    held the original ``sys.stdout``/``sys.stderr`` write through the router too.
    """
    global _installs
    with _install_lock:
        _installs += 1
        # Wrapped again if something replaced sys.stdout meanwhile (pytest does, between a
        # test's setup and its call).
        put = install_streams(TaskStream)
        _reroute_handlers(put)  # type: ignore[arg-type]
        if _installs == 1:
            _install_hooks()


def release_output() -> None:
    """Undo one ``capture_output()``; the last one puts the original streams, logging
    handlers and thread hooks back."""
    global _installs
    with _install_lock:
        if not _installs:
            return
        _installs -= 1
        if _installs:
            return
        _remove_hooks()
        _restore_handlers()
        for name in ("stdout", "stderr"):
            current = getattr(sys, name)
            if isinstance(current, TaskStream):
                setattr(sys, name, current.original)


def write_as(task: Task, chunks: list[tuple[str, str]], dropped: int = 0) -> None:
    """Write text that ``task`` printed elsewhere (in a worker process) as the task.

    With capture on, it goes to the task's ``output`` (and to the tasks around it), ``dropped``
    (characters cut before it on the worker) counted in ``output_dropped``. Else it goes to
    ``sys.stdout`` and ``sys.stderr``, after a line saying how much was dropped: call it in
    the task's context, so that it lands where the task's own prints would.
    """
    _context.enter(task)
    if _installs:
        targets = _targets()
        for stream, text in chunks:
            _deliver(targets, stream, text, dropped)
            dropped = 0
        if dropped:  # pragma: no cover - a worker keeps the tail of what it drops
            _deliver(targets, "stdout", "", dropped)
        return
    if dropped:
        sys.stderr.write(f"[{dropped} earlier characters of output from {task.name} dropped]\n")
    for stream, text in chunks:
        getattr(sys, stream).write(text)
