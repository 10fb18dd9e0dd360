"""Running sync tasks on a ``concurrent.futures.Executor``: a process pool, a Dask client, ...

How a call is submitted depends on the executor (Dask is recognised by its module name, so
the core never imports it):

- in-process executors (``ThreadPoolExecutor``): the call runs in the task's context, so
  ``progress()``, ``cancelled()`` and per-task output work as in the library's own threads;
- process pools (stdlib, loky) and Dask: the function and arguments are pickled once first, so
  that a failure names the task; on the worker ``_run_remote`` captures what the call prints
  and checks its result can be sent back; the output is replayed into the task at the end;
- any other executor: ``executor.submit(func, *args, **kwargs)``.
"""

from __future__ import annotations

import asyncio
import contextvars
import inspect
import pickle
import sys
import threading
import uuid
import weakref
from collections import deque
from collections.abc import Callable, Iterable
from concurrent.futures import Executor, ProcessPoolExecutor, ThreadPoolExecutor
from functools import partial
from typing import TYPE_CHECKING, Any

from . import _context
from ._output import OUTPUT_LIMIT, RoutingStream
from ._state import TaskState
from ._validate import callable_name

if TYPE_CHECKING:
    from ._task import Task

__all__ = ["apply_group_executor", "check_executor", "check_submit", "submit_to_executor"]

_LOCAL, _PICKLE, _CLOUDPICKLE, _DASK, _OTHER = "local", "pickle", "cloudpickle", "dask", "other"
_OUTPUT_ATTR = "_backgrounder_output"  # what a failed remote call printed, on its exception
Chunks = list[tuple[str, str]]  # (stream name, text) in the order written


def check_submit(executor: object, owner: str) -> None:
    """Raise unless ``executor`` can run work (it has a ``submit`` method)."""
    if not isinstance(executor, Executor) and not callable(getattr(executor, "submit", None)):
        raise TypeError(
            f"executor for {owner} must be a concurrent.futures.Executor or a Dask Client "
            f"(anything with submit()), got {type(executor).__name__}"
        )


def check_executor(executor: object, task: Task) -> Executor:
    check_submit(executor, task.name)
    if task.is_async:
        raise TypeError(
            f"{task.name} is async: executors run sync callables only; it runs on the event loop"
        )
    return executor  # type: ignore[return-value]


def apply_group_executor(tasks: Iterable[Task], executor: Executor | None) -> None:
    """Give a group's executor to its sync tasks that have none (async ones stay on the loop)."""
    if executor is None:
        return
    for task in tasks:
        if task.executor is None and not task.is_async:
            task.executor = executor


def _kind(executor: object) -> str:
    module = type(executor).__module__ or ""
    if module.partition(".")[0] == "distributed":
        # A Client; its other executors (get_executor()) return concurrent.futures futures.
        return _DASK if hasattr(executor, "gather") else _CLOUDPICKLE
    if module.partition(".")[0] == "loky" or ".loky" in module:
        return _CLOUDPICKLE
    if isinstance(executor, ThreadPoolExecutor):
        return _LOCAL
    if isinstance(executor, ProcessPoolExecutor):
        return _PICKLE
    return _OTHER


# -- the parent side ---------------------------------------------------------------------------


def submit_to_executor(task: Task, context: contextvars.Context) -> None:
    """Submit ``task`` to its executor; the future's callback records the outcome."""
    if not task._begin():
        return
    executor = task.executor
    assert executor is not None
    kind = _kind(executor)
    run = task._t_start  # identifies this run: a late callback must not end a later one
    task._thread_alive = kind != _LOCAL  # a local call sets it where it runs
    try:
        future = _submit(task, executor, kind, context)
    except BaseException as exc:
        task._thread_alive = False
        task._finish(TaskState.FAILED, exc=exc)
        return
    task._canceller = partial(_cancel, future)
    if task._state.finished:  # cancelled while being submitted
        _cancel(future)
    future.add_done_callback(partial(_record, task, run, kind, context))


def _submit(task: Task, executor: Any, kind: str, context: contextvars.Context) -> Any:
    func, args, kwargs = task.func, task.args, task.kwargs
    if kind == _LOCAL:
        return executor.submit(context.run, _call_local, task)
    if kind == _OTHER:
        return context.run(executor.submit, func, *args, **kwargs)
    pickler = _PICKLE if kind == _PICKLE else _CLOUDPICKLE
    try:
        _check_picklable((func, args, kwargs), pickler)
    except Exception as exc:
        raise TypeError(
            f"cannot send {task.name} to {type(executor).__name__}: its function or arguments "
            f"cannot be pickled ({exc}); pass picklable arguments, or run it in threads"
        ) from exc
    call = (task.name, func, args, kwargs, pickler)
    if kind == _DASK:
        # A fresh key per run: Dask's default (pure=True) would reuse the result of an earlier
        # call with equal arguments, and the key names the function on the dashboard.
        key = f"{callable_name(func)}-{uuid.uuid4().hex}"
        return executor.submit(_run_remote, *call, key=key, pure=False)
    return executor.submit(_run_remote, *call)


def _call_local(task: Task) -> Any:
    """The body of a task on an in-process executor (runs inside the task's context)."""
    _context.current.set(task)
    task._thread_alive = True
    try:
        return _no_coroutine(task.name, task.func(*task.args, **task.kwargs))
    finally:
        task._thread_alive = False


def _record(
    task: Task, run: float | None, kind: str, context: contextvars.Context, future: Any
) -> None:
    """The future's done callback (any thread): fetch the outcome, then end the task's run."""
    if task._t_start is not run:
        return
    if kind != _LOCAL:
        task._thread_alive = False
    if future.cancelled():  # by Task.cancel() or a timeout (which says which)
        task._finish_cancelled()
        return
    settle = partial(_settle, task, run, kind, context)
    if kind == _DASK:
        _dask_fetcher(future.client).add(future, settle)
        return
    exc = future.exception()
    settle(None if exc is not None else future.result(), exc)


def _settle(
    task: Task,
    run: float | None,
    kind: str,
    context: contextvars.Context,
    value: Any,
    exc: BaseException | None,
) -> None:
    """Replay what a remote call printed, then end the task's run with its outcome."""
    if task._t_start is not run:
        return
    remote = kind not in (_LOCAL, _OTHER)
    if exc is not None:
        if remote and kind != _DASK:
            _trim_remote_traceback(exc)
        chunks = getattr(exc, "__dict__", {}).pop(_OUTPUT_ATTR, None)
        if chunks:
            _replay(task, context, chunks)
        task._finish(TaskState.FAILED, exc=exc)
        return
    if remote:
        value, chunks = value
        if chunks:
            _replay(task, context, chunks)
    task._finish(TaskState.DONE, value)


class _DaskFetcher:
    """Fetches finished Dask futures' outcomes on the client's own loop, in batches.

    ``future.result()`` in the done callback would cost one blocking round trip per task, in
    Dask's single callback thread: 300 tiny tasks took 1.8x as long as ``client.gather``.
    One ``gather`` for whatever finished meanwhile brings that back to the direct figure.
    """

    def __init__(self, client: Any) -> None:
        self._client = client
        self._lock = threading.Lock()
        self._pending: list[tuple[Any, Callable[[Any, BaseException | None], None]]] = []
        self._scheduled = False

    def add(self, future: Any, settle: Callable[[Any, BaseException | None], None]) -> None:
        with self._lock:
            self._pending.append((future, settle))
            if self._scheduled:
                return
            self._scheduled = True
        self._client.loop.add_callback(self._flush)

    async def _flush(self) -> None:
        with self._lock:
            batch, self._pending, self._scheduled = self._pending, [], False
        client = self._client
        done = [(f, settle) for f, settle in batch if f.status == "finished"]
        try:
            values = await client.gather([f for f, _ in done], asynchronous=True)
        except Exception:  # one of them was lost: fetch them one by one
            values = None
        for i, (future, settle) in enumerate(done):
            try:
                value = (
                    values[i]
                    if values is not None
                    else await client.gather(future, asynchronous=True)
                )
            except Exception as lost:
                settle(None, lost)
            else:
                settle(value, None)
        for future, settle in batch:
            if future.status != "finished":
                try:
                    exc = await future.exception(asynchronous=True)
                    tb = await future.traceback(asynchronous=True)
                except Exception as error:  # cancelled or lost meanwhile
                    exc, tb = error, None
                if exc is None:
                    exc = RuntimeError(f"Dask future {future.key} ended as {future.status}")
                # Dask keeps the worker's traceback apart from the exception.
                settle(None, exc.with_traceback(_skip_wrapper_frames(tb)) if tb else exc)


_fetchers: weakref.WeakKeyDictionary[Any, _DaskFetcher] = weakref.WeakKeyDictionary()
_fetchers_lock = threading.Lock()


def _dask_fetcher(client: Any) -> _DaskFetcher:
    with _fetchers_lock:
        fetcher = _fetchers.get(client)
        if fetcher is None:
            fetcher = _fetchers[client] = _DaskFetcher(client)
        return fetcher


def _replay(task: Task, context: contextvars.Context, chunks: Chunks) -> None:
    """Print a remote call's output as the task, in its context: the output router (when on)
    sends it to the task's ``output``, else it goes where the task's own prints would go."""

    def write() -> None:
        _context.current.set(task)
        for stream, text in chunks:
            getattr(sys, stream).write(text)

    context.copy().run(write)


def _skip_wrapper_frames(tb: Any) -> Any:
    """The worker's traceback from the user's function on (Dask rebuilds it with tblib)."""
    frame = tb
    while frame is not None:
        if getattr(frame.tb_frame.f_code, "co_name", None) == _run_remote.__name__:
            return frame.tb_next
        frame = frame.tb_next
    return tb


def _trim_remote_traceback(exc: BaseException) -> None:
    """Drop the pool's and our frames from the worker traceback text that process pools put
    in ``__cause__`` (a ``_RemoteTraceback``), so that it starts at the user's function."""
    cause = exc.__cause__
    text = getattr(cause, "tb", None)
    if not isinstance(text, str):
        return
    lines = text.splitlines(keepends=True)
    try:
        header = next(i for i, line in enumerate(lines) if line.startswith("Traceback ("))
        ours = next(
            i
            for i, line in enumerate(lines)
            if line.startswith("  File ") and line.rstrip().endswith(f"in {_run_remote.__name__}")
        )
    except StopIteration:
        return
    end = ours + 1
    while end < len(lines) and lines[end].startswith("    "):
        end += 1
    if header < ours:
        cause.tb = "".join(lines[: header + 1] + lines[end:])  # type: ignore[union-attr]


def _cancel(future: Any) -> None:
    # A queued call is dropped. A running one cannot be stopped: a pool's process (or a Dask
    # worker's thread) runs the function to its end and its result is thrown away.
    pending = future.cancel()
    if inspect.isawaitable(pending):  # a Dask Client(asynchronous=True) returns a coroutine
        asyncio.run_coroutine_threadsafe(_awaited(pending), future.client.loop.asyncio_loop)


async def _awaited(awaitable: Any) -> None:
    await awaitable


def _no_coroutine(name: str, result: Any) -> Any:
    if inspect.iscoroutine(result):
        result.close()
        raise TypeError(f"{name} returned a coroutine: declare it `async def` to have it awaited")
    return result


# -- pickling checks ---------------------------------------------------------------------------


class _Discard:
    def write(self, data: bytes) -> int:
        return len(data)


def _out_of_band(buffer: pickle.PickleBuffer) -> None:
    """Returning a false value leaves large buffers (NumPy arrays) out: the check copies none."""


def _check_picklable(obj: object, pickler: str) -> None:
    cls: Callable[..., Any] = pickle.Pickler
    if pickler == _CLOUDPICKLE:
        try:
            import cloudpickle

            cls = cloudpickle.CloudPickler
        except ImportError:  # pragma: no cover - loky and distributed both require it
            pass
    cls(_Discard(), protocol=5, buffer_callback=_out_of_band).dump(obj)


# -- the worker side -------------------------------------------------------------------------------


def _run_remote(
    name: str, func: Callable[..., Any], args: Any, kwargs: Any, pickler: str
) -> tuple[Any, Chunks]:
    """Call ``func`` on a worker; return its result and what it printed."""
    _capture_start()
    try:
        result = _no_coroutine(name, func(*args, **kwargs))
    except BaseException as exc:
        try:
            setattr(exc, _OUTPUT_ATTR, _capture_stop())
        except Exception:  # an exception type without __dict__: its output is lost
            pass
        raise
    chunks = _capture_stop()
    try:
        _check_picklable(result, pickler)
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


_local = threading.local()
_install_lock = threading.Lock()


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
    for name in ("stdout", "stderr"):
        if not isinstance(getattr(sys, name), _WorkerStream):
            with _install_lock:
                current = getattr(sys, name)
                if not isinstance(current, _WorkerStream):
                    setattr(sys, name, _WorkerStream(name, current))
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
