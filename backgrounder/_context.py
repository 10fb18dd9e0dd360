"""What code running inside a task can ask of it: am I cancelled, here is my progress."""

from __future__ import annotations

from contextvars import ContextVar
from typing import TYPE_CHECKING

from ._validate import check_progress

if TYPE_CHECKING:
    from ._task import Task

__all__ = ["cancelled", "current_task", "progress"]

current: ContextVar[Task | None] = ContextVar("backgrounder_current_task", default=None)


def current_task() -> Task | None:
    """The task whose code is running here (in its coroutine or its worker thread), if any."""
    return current.get()


def cancelled() -> bool:
    """True once the running task was asked to stop (cancel, timeout, group failure).

    A thread cannot be killed: sync functions call this between steps and return early.
    Outside a task it is always False.
    """
    task = current.get()
    return task is not None and task.cancel_requested


def progress(done: float, total: float | None = None) -> None:
    """Report how far the running task is, e.g. ``progress(3, 10)``; ignored outside a task.

    ``done`` is a finite number >= 0 and ``total`` a finite number > 0, or None; anything else
    raises ``TypeError``/``ValueError`` here, naming the task, so no view is handed a value
    it cannot show.
    """
    task = current.get()
    checked = check_progress(
        done, total, "progress()" if task is None else f"progress() in {task.name}"
    )
    if task is not None:
        task._set_progress(*checked)
