"""Running sync tasks on a ``concurrent.futures.Executor`` (process pools, Dask clients)."""

from __future__ import annotations

import contextvars
from concurrent.futures import Executor, Future
from typing import TYPE_CHECKING, Any

from ._state import TaskState

if TYPE_CHECKING:
    from ._task import Task

__all__ = ["check_executor", "submit_to_executor"]


def check_executor(executor: object, task: Task) -> Executor:
    if not isinstance(executor, Executor) and not callable(getattr(executor, "submit", None)):
        raise TypeError(
            f"executor for {task.name} must be a concurrent.futures.Executor "
            f"(or have submit()), got {type(executor).__name__}"
        )
    if task.is_async:
        raise TypeError(f"{task.name} is async: executors run sync callables only")
    return executor  # type: ignore[return-value]


def submit_to_executor(task: Task, context: contextvars.Context) -> None:
    """Submit ``task`` to its executor; the future's callback records the outcome."""
    if not task._begin():
        return
    assert task.executor is not None
    try:
        future = context.run(task.executor.submit, task.func, *task.args, **task.kwargs)
    except BaseException as exc:
        task._finish(TaskState.FAILED, exc=exc)
        return
    task._canceller = lambda: _cancel(future)
    future.add_done_callback(lambda done: _record(task, done))


def _record(task: Task, future: Future[Any]) -> None:
    if future.cancelled():
        task._finish(TaskState.CANCELLED)
        return
    exc = future.exception()
    if exc is not None:
        task._finish(TaskState.FAILED, exc=exc)
    else:
        task._finish(TaskState.DONE, future.result())


def _cancel(future: Future[Any]) -> None:
    future.cancel()  # a running future is not stopped: the task is marked cancelled anyway
