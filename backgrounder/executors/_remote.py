"""The part of an executor call that runs inside a worker process (a pool's or Dask's).

Kept apart from the parent side (``_submit``): this module is what a worker unpickles and
imports, so it needs nothing but the standard library and the output streams.
"""

from __future__ import annotations

import pickle
import threading
from collections import deque
from collections.abc import Callable
from typing import Any

from .._output import OUTPUT_LIMIT, RoutingStream, install_streams
from .._validate import no_coroutine

__all__ = ["OUTPUT_ATTR", "CLOUDPICKLE", "PICKLE", "Chunks", "check_picklable", "run_remote"]

PICKLE, CLOUDPICKLE = "pickle", "cloudpickle"
OUTPUT_ATTR = "_backgrounder_output"  # what a failed remote call printed, on its exception
Chunks = list[tuple[str, str]]  # (stream name, text) in the order written


class _Discard:
    def write(self, data: bytes) -> int:
        return len(data)


def _out_of_band(buffer: pickle.PickleBuffer) -> None:
    """Returning a false value leaves large buffers (NumPy arrays) out: the check copies none."""


def check_picklable(obj: object, pickler: str) -> None:
    """Raise what pickling ``obj`` would raise, without keeping the bytes."""
    cls: Callable[..., Any] = pickle.Pickler
    if pickler == CLOUDPICKLE:
        try:
            import cloudpickle

            cls = cloudpickle.CloudPickler
        except ImportError:  # pragma: no cover - loky and distributed both require it
            pass
    cls(_Discard(), protocol=5, buffer_callback=_out_of_band).dump(obj)


def run_remote(
    name: str, func: Callable[..., Any], args: Any, kwargs: Any, pickler: str
) -> tuple[Any, Chunks]:
    """Call ``func`` on a worker; return its result and what it printed."""
    _capture_start()
    try:
        result = no_coroutine(name, func(*args, **kwargs))
    except BaseException as exc:
        try:
            setattr(exc, OUTPUT_ATTR, _capture_stop())
        except Exception:  # an exception type without __dict__: its output is lost
            pass
        raise
    chunks = _capture_stop()
    try:
        check_picklable(result, pickler)
    except Exception as exc:
        raise TypeError(
            f"the result of {name} cannot be pickled to send it back from the worker ({exc}); "
            f"return picklable data"
        ) from None
    return result, chunks


class _Capture:
    __slots__ = ("chunks", "size")

    def __init__(self) -> None:
        self.chunks: deque[tuple[str, str]] = deque()
        self.size = 0


_local = threading.local()  # the capture of the task running in this worker thread


class _WorkerStream(RoutingStream):
    """On ``sys.stdout``/``sys.stderr`` of a worker: a capturing thread's text is kept for its
    task (Dask runs several tasks in threads of one process), the rest passes through."""

    def route(self, text: str) -> bool:
        capture: _Capture | None = getattr(_local, "capture", None)
        if capture is None:
            return False
        capture.chunks.append((self.stream_name, text))
        capture.size += len(text)
        while capture.size > OUTPUT_LIMIT and len(capture.chunks) > 1:
            capture.size -= len(capture.chunks.popleft()[1])
        return True


def _capture_start() -> None:
    install_streams(_WorkerStream)
    _local.capture = _Capture()


def _capture_stop() -> Chunks:
    """End this thread's capture; consecutive writes to one stream are joined."""
    capture: _Capture | None = getattr(_local, "capture", None)
    _local.capture = None
    merged: list[tuple[str, list[str]]] = []
    if capture is not None:
        for stream, text in capture.chunks:
            if merged and merged[-1][0] == stream:
                merged[-1][1].append(text)
            else:
                merged.append((stream, [text]))
    return [(stream, "".join(parts)) for stream, parts in merged]
