"""Running sync tasks on a ``concurrent.futures.Executor``: a process pool, a Dask client, ...

The parent side; what runs inside a worker process is in ``_remote``. How a call is
submitted depends on the executor (Dask is recognised by its module name, so the core never
imports it):

- in-process executors (``ThreadPoolExecutor``): the task's own thread body runs there, in
  the task's context, so ``progress()``, ``cancelled()`` and per-task output work as in the
  library's own threads;
- process pools (stdlib, loky) and Dask: the function and arguments are pickled once first, so
  that a failure names the task; on the worker ``run_remote`` captures what the call prints
  and sends the result, or the exception, back pickled as bytes, which are rebuilt here (so a
  value that cannot be rebuilt fails its task alone, never the pool); the output is replayed
  into the task at the end;
- any other executor: ``executor.submit(func, *args, **kwargs)``.
"""

from __future__ import annotations

import asyncio
import contextvars
import inspect
import pickle
import threading
import uuid
import weakref
from collections.abc import Callable, Iterable
from concurrent.futures import Executor, ProcessPoolExecutor, ThreadPoolExecutor
from functools import partial
from typing import TYPE_CHECKING, Any

from .._output import write_as
from .._retry import add_note
from .._state import TaskState
from .._validate import callable_name
from ._remote import (
    CLOUDPICKLE,
    PICKLE,
    Output,
    RemoteFailure,
    check_picklable,
    run_remote,
    shorten,
)

if TYPE_CHECKING:
    from .._task import Run, Task

__all__ = ["RemoteError", "RemoteTraceback", "apply_group_executor", "submit_to_executor"]

_LOCAL, _DASK, _OTHER = "local", "dask", "other"


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
        return _DASK if hasattr(executor, "gather") else CLOUDPICKLE
    if module.partition(".")[0] == "loky" or ".loky" in module:
        return CLOUDPICKLE
    if isinstance(executor, ThreadPoolExecutor):
        return _LOCAL
    if isinstance(executor, ProcessPoolExecutor):
        return PICKLE
    return _OTHER


def submit_to_executor(task: Task, run: Run, context: contextvars.Context) -> None:
    """Begin ``task``'s run on its executor and set ``run.canceller`` to stop the future;
    the future's done callback ends the run with its outcome."""
    if not task._begin():
        return
    assert task.executor is not None
    # ``started`` identifies this run: a late callback must not end a later one
    _attempt(task, run, _kind(task.executor), task._t_start, context)


def _attempt(
    task: Task, run: Run, kind: str, started: float | None, context: contextvars.Context
) -> None:
    """Submit one attempt of the run. An in-process pool's thread retries in place (see
    ``Task._call_body``); for the others, a failed attempt is resubmitted from here."""
    if kind != _LOCAL and not task._set_thread_alive(True):  # a local body says so itself
        return  # the run ended (cancelled) while the next attempt was due
    try:
        future = _submit(task, task.executor, kind, context)
    except BaseException as exc:
        task._set_thread_alive(False)
        task._finish(TaskState.FAILED, exc=exc)
        return
    run.canceller = partial(_cancel, future)
    if task.state.finished:  # cancelled while being submitted
        _cancel(future)
    future.add_done_callback(partial(_record, task, started, kind, context))


def _submit(task: Task, executor: Any, kind: str, context: contextvars.Context) -> Any:
    func, args, kwargs = task.func, task.args, task.kwargs
    if kind == _LOCAL:
        return executor.submit(context.run, task._call_in_thread)
    if kind == _OTHER:
        return context.run(executor.submit, func, *args, **kwargs)
    pickler = PICKLE if kind == PICKLE else CLOUDPICKLE
    try:
        check_picklable((func, args, kwargs), pickler)
    except Exception as exc:
        raise TypeError(
            f"cannot send {task.name} to {type(executor).__name__}: its function or arguments "
            f"cannot be pickled ({exc}); pass picklable arguments, or run it in threads"
        ) from exc
    loky = "loky" in (type(executor).__module__ or "")
    call = (task.name, func, args, kwargs, pickler, loky)
    if kind == _DASK:
        # A fresh key per run: Dask's default (pure=True) would reuse the result of an earlier
        # call with equal arguments, and the key names the function on the dashboard.
        key = f"{callable_name(func)}-{uuid.uuid4().hex}"
        return executor.submit(run_remote, *call, key=key, pure=False)
    return executor.submit(run_remote, *call)


def _record(
    task: Task, started: float | None, kind: str, context: contextvars.Context, future: Any
) -> None:
    """The future's done callback (any thread): fetch the outcome, then end the task's run."""
    if task._t_start is not started:
        return
    if future.cancelled():  # by Task.cancel() or a timeout (which says which)
        task._set_thread_alive(False)
        task._finish_cancelled()
        return
    if kind == _LOCAL:  # the body ended the run itself, in the executor's thread
        return
    task._set_thread_alive(False)
    settle = partial(_settle, task, started, kind, context)
    if kind == _DASK:
        _dask_fetcher(future.client).add(future, settle)
        return
    exc = future.exception()
    settle(None if exc is not None else future.result(), exc)


def _settle(
    task: Task,
    started: float | None,
    kind: str,
    context: contextvars.Context,
    value: Any,
    exc: BaseException | None,
) -> None:
    """Rebuild a remote call's outcome, replay what it printed, then end the task's run."""
    if task._t_start is not started:
        return
    if kind == _OTHER:
        if exc is not None:
            if not _retry(task, started, kind, context, exc):
                task._finish(TaskState.FAILED, exc=exc)
        else:
            task._finish(TaskState.DONE, value)
        return
    if exc is not None:
        if isinstance(exc, RemoteFailure):
            _replay(task, context, exc.output)
            exc = _rebuild_error(task.name, exc)
        # else the call never ended on the worker (the pool broke, the Dask worker died)
        if not _retry(task, started, kind, context, exc):
            task._finish(TaskState.FAILED, exc=exc)
        return
    packed, result, buffers, result_type, output = value
    _replay(task, context, output)
    try:
        if packed:
            result = pickle.loads(result, buffers=buffers)
    except Exception as error:
        failed = TypeError(
            f"the result of {task.name} ({result_type}) was pickled on the worker but cannot "
            f"be rebuilt here ({type(error).__name__}: {error}); return plain data, or fix "
            f"its class's pickling (__reduce__)"
        )
        failed.__cause__ = error
        task._finish(TaskState.FAILED, exc=failed)
        return
    task._finish(TaskState.DONE, result)


def _retry(
    task: Task,
    started: float | None,
    kind: str,
    context: contextvars.Context,
    exc: BaseException,
) -> bool:
    """Resubmit after the backoff if ``exc`` is retried (False: it ends the run). The wait
    is a timer thread (a done callback must not block) that a cancel or timeout stops."""
    delay = task._retry_after(exc)
    if delay is None:
        return False
    timer = threading.Timer(delay, _resubmit, (task, started, kind, context))
    timer.daemon = True
    run = task._run
    if run is not None:
        run.canceller = timer.cancel
    timer.start()
    if task.state.finished:  # cancelled meanwhile (with the previous canceller)
        timer.cancel()
    return True


def _resubmit(task: Task, started: float | None, kind: str, context: contextvars.Context) -> None:
    run = task._run
    if task._t_start is started and run is not None and task._next_attempt():
        _attempt(task, run, kind, started, context)


class RemoteError(Exception):
    """A task's exception, raised in a worker process, that cannot be rebuilt here.

    A process pool or Dask sends an exception back pickled. One that pickles but cannot be
    unpickled (a custom exception whose ``__init__`` takes other arguments than it passes to
    ``super().__init__()``), or that does not pickle at all, arrives as this error instead:
    it names the task and keeps the original's type name, message and traceback text (also
    chained as its ``__cause__``, so the task's traceback shows the worker's frames).
    """

    def __init__(self, task_name: str, type_name: str, message: str, traceback: str, why: str):
        super().__init__(
            f"{task_name} raised {type_name}: {shorten(message)}; the exception {why}, so "
            f"it is described here instead (make it picklable to get it back as itself)"
        )
        self.task_name = task_name
        """The name of the task that raised it."""
        self.type_name = type_name
        """The original exception's type, with its module: ``"mylib.LockedError"``."""
        self.message = message
        """The original exception's message (its ``str()``), whole."""
        self.traceback = traceback
        """The worker's traceback of the original exception, as text."""
        self._why = why

    def __reduce__(self) -> tuple[Any, ...]:
        # Picklable itself (a journal, another process), unlike what it describes.
        args = (self.task_name, self.type_name, self.message, self.traceback, self._why)
        return type(self), args, self.__dict__


class RemoteTraceback(Exception):
    """The worker's traceback, as text: the ``__cause__`` of a remote task's exception."""

    def __init__(self, text: str) -> None:
        super().__init__(text)
        self.text = text

    def __str__(self) -> str:
        return f'\n"""\n{self.text}"""'


def _rebuild_error(task_name: str, failure: RemoteFailure) -> BaseException:
    """The original exception of a failed remote call (or a RemoteError describing it), with
    the worker's traceback text chained as its cause."""
    error: BaseException | None = None
    if failure.payload is None:
        why = f"could not be pickled on the worker ({failure.reason})"
    else:
        try:
            error = pickle.loads(failure.payload)
            if failure.by_state:
                error = _from_state(*error)  # type: ignore[misc]
                add_note(
                    error,
                    f"({task_name}: rebuilt from its args and attributes without calling "
                    f"__init__, as it pickles but does not unpickle: {failure.reason})",
                )
            if not isinstance(error, BaseException):
                raise TypeError(f"it unpickled as {type(error).__name__}")
        except Exception as problem:
            error = None
            why = f"cannot be rebuilt here ({type(problem).__name__}: {problem})"
    if error is None:
        error = RemoteError(task_name, failure.type_name, failure.message, failure.traceback, why)
    error.__cause__ = RemoteTraceback(failure.traceback)
    return error


def _from_state(cls: type[BaseException], args: tuple[Any, ...], state: dict[str, Any]) -> Any:
    error = cls.__new__(cls, *args)
    error.args = args
    if state:
        error.__dict__.update(state)
    return error


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
                except Exception as error:  # cancelled or lost meanwhile
                    exc = error
                if exc is None:
                    exc = RuntimeError(f"Dask future {future.key} ended as {future.status}")
                settle(None, exc)


_fetchers: weakref.WeakKeyDictionary[Any, _DaskFetcher] = weakref.WeakKeyDictionary()
_fetchers_lock = threading.Lock()


def _dask_fetcher(client: Any) -> _DaskFetcher:
    with _fetchers_lock:
        fetcher = _fetchers.get(client)
        if fetcher is None:
            fetcher = _fetchers[client] = _DaskFetcher(client)
        return fetcher


def _replay(task: Task, context: contextvars.Context, output: Output) -> None:
    """Write what a remote call printed as the task, in its context (see ``write_as``)."""
    chunks, dropped = output
    if chunks or dropped:
        context.copy().run(write_as, task, chunks, dropped)


def _cancel(future: Any) -> None:
    # A queued call is dropped. A running one cannot be stopped: a pool's process (or a Dask
    # worker's thread) runs the function to its end and its result is thrown away.
    pending = future.cancel()
    if inspect.isawaitable(pending):  # a Dask Client(asynchronous=True) returns a coroutine
        asyncio.run_coroutine_threadsafe(_awaited(pending), future.client.loop.asyncio_loop)


async def _awaited(awaitable: Any) -> None:
    await awaitable
