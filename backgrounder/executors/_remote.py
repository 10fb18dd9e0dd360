"""The part of an executor call that runs inside a worker process (a pool's or Dask's).

Kept apart from the parent side (``_submit``): this module is what a worker unpickles and
imports, so it needs nothing but the standard library and the output streams.

What crosses back to the parent is plain data only (bytes, str, numbers, lists): the result
(unless it is itself plain) and the exception travel pickled by the worker, as bytes, and are
rebuilt by the parent. A value that pickles on the worker but cannot be rebuilt (an exception
whose ``__init__`` takes two arguments, a result whose ``__reduce__`` fails) then fails its
own task only: a process pool that met it while reading its result pipe would mark itself
broken and fail every call.
"""

from __future__ import annotations

import pickle
import threading
import traceback
from collections import deque
from collections.abc import Callable
from concurrent.futures import Executor
from functools import partial
from typing import Any

from .._output import OUTPUT_LIMIT, RoutingStream, ThreadHooks, install_streams
from .._validate import no_coroutine

__all__ = [
    "CLOUDPICKLE",
    "PICKLE",
    "Chunks",
    "Output",
    "RemoteFailure",
    "check_picklable",
    "dumps",
    "run_remote",
    "shorten",
    "type_name",
]

PICKLE, CLOUDPICKLE = "pickle", "cloudpickle"
Chunks = list[tuple[str, str]]  # (stream name, text) in the order written
Output = tuple[Chunks, int]  # what a call printed (the tail), and how many characters before it
# A call that returned: whether its result is packed, the result (packed: pickled, as bytes,
# with its large buffers apart), the buffers, its type's name and what it printed.
Outcome = tuple[bool, Any, list[pickle.PickleBuffer], str, Output]
# Results sent as they are: they always unpickle, and large ones are not copied twice (a
# bytearray is pickled in-band even with protocol 5; NumPy arrays go out of band).
_PLAIN = frozenset({bytes, bytearray, str, int, float, bool, complex, type(None)})
_SHOWN = 500  # characters of a message shown in one-line errors (and on the Dask dashboard)


class RemoteFailure(Exception):
    """Raised on the worker for a call that failed, in place of its exception.

    Holds the exception pickled by the worker (``payload``; with ``by_state``, only its class,
    args and attributes, as it would not unpickle; None if not even those pickle), its type,
    message and traceback as text, and what the call printed: plain data, so the pool or Dask
    always brings it back whole. The parent rebuilds the original exception from it.
    """

    def __init__(
        self,
        payload: bytes | None,
        by_state: bool,
        reason: str,
        type_name: str,
        message: str,
        traceback: str,
        output: Output,
    ) -> None:
        super().__init__(payload, by_state, reason, type_name, message, traceback, output)
        self.payload = payload
        self.by_state = by_state
        self.reason = reason  # why the exception itself could not be sent
        self.type_name = type_name
        self.message = message
        self.traceback = traceback
        self.output = output

    def __str__(self) -> str:
        # Short: Dask rebuilds an exception whose text is over 10,000 characters with other
        # arguments (distributed.core.truncate_exception), which this class would not accept.
        return f"{self.type_name}: {shorten(self.message)}"

    def __repr__(self) -> str:
        return f"{self.type_name}({shorten(self.message)!r})"


def shorten(text: str) -> str:
    """``text`` cut to a length fit for a one-line error."""
    return text if len(text) <= _SHOWN else text[: _SHOWN - 3] + "..."


class _Discard:
    def write(self, data: bytes) -> int:
        return len(data)


def _out_of_band(buffer: pickle.PickleBuffer) -> None:
    """Returning a false value leaves large buffers (NumPy arrays) out: the check copies none."""


def _pickler(pickler: str) -> Callable[..., Any]:
    if pickler == CLOUDPICKLE:
        try:
            import cloudpickle

            return cloudpickle.CloudPickler  # type: ignore[no-any-return]
        except ImportError:  # pragma: no cover - loky and distributed both require it
            pass
    return pickle.Pickler


def check_picklable(obj: object, pickler: str) -> None:
    """Raise what pickling ``obj`` would raise, without keeping the bytes."""
    _pickler(pickler)(_Discard(), protocol=5, buffer_callback=_out_of_band).dump(obj)


def dumps(obj: object, pickler: str, buffers: list[pickle.PickleBuffer] | None = None) -> bytes:
    """``obj`` pickled; large buffers (NumPy arrays') go to ``buffers`` if given."""
    callback = None if buffers is None else buffers.append
    if pickler == CLOUDPICKLE:
        try:
            import cloudpickle

            return cloudpickle.dumps(obj, protocol=5, buffer_callback=callback)  # type: ignore[no-any-return]
        except ImportError:  # pragma: no cover - loky and distributed both require it
            pass
    return pickle.dumps(obj, protocol=5, buffer_callback=callback)


def type_name(obj: object) -> str:
    cls = type(obj)
    module = getattr(cls, "__module__", None)
    qualname = getattr(cls, "__qualname__", cls.__name__)
    return qualname if module in (None, "builtins") else f"{module}.{qualname}"


def _message(exc: BaseException) -> str:
    try:
        return str(exc)
    except Exception:
        return f"<{type(exc).__name__} object (str() failed)>"


def _failure(exc: BaseException, pickler: str, output: Output) -> RemoteFailure:
    """Describe ``exc`` as plain data; its traceback text starts at the user's function."""
    tb = exc.__traceback__
    if tb is not None and tb.tb_frame.f_code is run_remote.__code__:
        tb = tb.tb_next
    try:
        text = "".join(traceback.format_exception(type(exc), exc, tb))
    except Exception as error:  # pragma: no cover - format_exception guards str() itself
        text = f"(traceback unavailable: {error!r})\n"
    payload, reason, by_state = None, "", False
    try:
        payload = dumps(exc, pickler)
        pickle.loads(payload)
    except Exception as error:
        # Pickles, but does not unpickle (an __init__ taking other arguments than it gives
        # super().__init__), or does not pickle: send its class, args and attributes, to be
        # rebuilt without calling __init__ (as tblib does for Dask).
        reason = f"{type(error).__name__}: {_message(error)}"
        try:
            payload = dumps((type(exc), exc.args, getattr(exc, "__dict__", {})), pickler)
            by_state = True
        except Exception:
            payload = None
    return RemoteFailure(payload, by_state, reason, type_name(exc), _message(exc), text, output)


def run_remote(
    name: str,
    func: Callable[..., Any],
    args: Any,
    kwargs: Any,
    pickler: str,
    out_of_band: bool = False,
) -> Outcome:
    """Call ``func`` on a worker: return its result pickled, its type name and its output,
    or raise a ``RemoteFailure`` describing its exception.

    ``out_of_band``: the pool sends ``pickle.PickleBuffer`` objects (loky does, with protocol
    5); the standard library's pool (protocol 4) and Dask's serialization refuse them.
    """
    _capture_start()
    error: BaseException | None = None
    packed, value, buffers = False, None, list[pickle.PickleBuffer]()
    try:
        result = value = no_coroutine(name, func(*args, **kwargs))
    except BaseException as exc:  # KeyboardInterrupt, SystemExit too: a failure, as in threads
        error = exc
    else:
        try:
            if type(result) not in _PLAIN:
                # Large buffers (NumPy's) travel apart where the pool can carry them, as
                # they would have inside the result: no extra copy.
                value = dumps(result, pickler, buffers if out_of_band else None)
                packed = True
        except Exception as exc:
            error = TypeError(
                f"the result of {name} cannot be pickled to send it back from the worker "
                f"({exc}); return picklable data"
            )
    output = _capture_stop()
    if error is not None:
        failure = _failure(error, pickler, output)
        del error
        # Raised outside the except block: no __context__ ties it to the original exception,
        # which Dask would otherwise try to pickle along with it.
        raise failure
    return packed, value, buffers, type_name(result), output


class _Capture:
    """A call's output, bounded like a task's own (``OutputBuffer``): the last
    ``OUTPUT_LIMIT`` characters, split by stream, and how many were dropped before them.

    Threads the call starts write to it too; once the call has returned (``open`` False),
    what they print passes through to the worker's own streams.
    """

    __slots__ = ("chunks", "dropped", "lock", "open", "size")

    def __init__(self) -> None:
        self.chunks: deque[tuple[str, str]] = deque()
        self.size = 0
        self.dropped = 0
        self.open = True
        self.lock = threading.Lock()

    def add(self, stream: str, text: str) -> bool:
        with self.lock:
            if not self.open:
                return False
            self.chunks.append((stream, text))
            self.size += len(text)
            if self.size > 2 * OUTPUT_LIMIT:  # trimmed in batches: cheap per write
                self.trim()
            return True

    def trim(self) -> None:
        excess = self.size - OUTPUT_LIMIT
        while excess > 0:
            stream, text = self.chunks[0]
            cut = min(excess, len(text))
            if cut == len(text):
                self.chunks.popleft()
            else:
                self.chunks[0] = (stream, text[cut:])
            self.size -= cut
            self.dropped += cut
            excess -= cut

    def close(self) -> None:
        with self.lock:
            self.open = False
            self.trim()


_local = threading.local()  # the capture of the call running in this worker thread


class _WorkerStream(RoutingStream):
    """On ``sys.stdout``/``sys.stderr`` of a worker: a capturing thread's text is kept for its
    call (Dask runs several calls in threads of one process), the rest passes through."""

    def route(self, text: str) -> bool:
        capture: _Capture | None = getattr(_local, "capture", None)
        return capture is not None and capture.add(self.stream_name, text)


# Threads a call starts print as the call, as in the notebook (see ``_output``): while a call
# runs in this process, Thread.start and ThreadPoolExecutor.submit carry its capture along.
_running = 0  # calls capturing in this process
_hooks: dict[str, Callable[..., Any]] = {}  # the originals, kept (see _output)
_hooks_lock = threading.Lock()


def _start(self: threading.Thread) -> None:
    capture = None if getattr(_local, "submitting", False) else getattr(_local, "capture", None)
    if capture is not None:
        run = self.run

        def run_captured() -> None:
            _local.capture = capture
            try:
                run()
            finally:
                _local.capture = None
                self.__dict__.pop("run", None)

        self.run = run_captured  # type: ignore[method-assign]
    _hooks["start"](self)


def _submit(self: Executor, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Any:
    capture = getattr(_local, "capture", None)
    if capture is not None:
        fn = partial(_call_captured, capture, fn)
    was = getattr(_local, "submitting", False)
    _local.submitting = True  # the pool's own worker threads carry nothing
    try:
        return _hooks["submit"](self, fn, *args, **kwargs)
    finally:
        _local.submitting = was


_thread_hooks = ThreadHooks(_start, _submit, _hooks)


def _call_captured(capture: _Capture, fn: Callable[..., Any], /, *args: Any, **kw: Any) -> Any:
    was = getattr(_local, "capture", None)
    _local.capture = capture
    try:
        return fn(*args, **kw)
    finally:
        _local.capture = was


def _capture_start() -> None:
    global _running
    install_streams(_WorkerStream)
    _local.capture = _Capture()
    with _hooks_lock:
        _running += 1
        if _running == 1:
            _thread_hooks.install()


def _release_hooks() -> None:
    global _running
    with _hooks_lock:
        _running -= 1
        if _running:
            return
        _thread_hooks.remove()


def _capture_stop() -> Output:
    """End this thread's capture; consecutive writes to one stream are joined."""
    capture: _Capture | None = getattr(_local, "capture", None)
    _local.capture = None
    _release_hooks()
    merged: list[tuple[str, list[str]]] = []
    if capture is None:
        return [], 0
    capture.close()
    for stream, text in capture.chunks:
        if merged and merged[-1][0] == stream:
            merged[-1][1].append(text)
        else:
            merged.append((stream, [text]))
    return [(stream, "".join(parts)) for stream, parts in merged], capture.dropped
