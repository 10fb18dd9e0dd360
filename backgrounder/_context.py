"""What code running inside a task can ask of it: am I cancelled, here is my progress."""

from __future__ import annotations

import weakref
from contextvars import ContextVar
from typing import TYPE_CHECKING

from ._validate import check_progress

if TYPE_CHECKING:
    from ._task import Task

__all__ = ["adopt", "cancelled", "current_task", "enter", "here", "progress"]

current: ContextVar[Task | None] = ContextVar("backgrounder_current_task", default=None)

Chain = tuple["weakref.ref[Task]", ...]
# The tasks around the code running here, innermost first, held weakly: for a task's own code
# (the first item names it), the tasks that started it, set by enter(); for a thread that a
# task started (first item None), that task and those around it (see _output's thread hooks).
# Weak, so that a long-lived thread started inside a task (a pool's worker) keeps no task.
enclosing: ContextVar[tuple[Task | None, Chain]] = ContextVar(
    "backgrounder_enclosing_tasks", default=(None, ())
)


def enter(task: Task) -> None:
    """Mark the code running in this context from now on as ``task``'s (its run begins).

    The task that was current here, if any, started it: it is remembered, with the tasks
    around it, so that what ``task`` prints can be shown in theirs too.
    """
    chain = here()
    if chain and chain[0]() is task:  # the same task again (its output replayed)
        chain = chain[1:]
    if chain or enclosing.get()[0] is not None:
        enclosing.set((task, chain))
    current.set(task)


def here() -> Chain:
    """The tasks the code running here belongs to, innermost first (weakly held)."""
    task = current.get()
    owner, chain = enclosing.get()
    if owner is not task:  # current was set without enter(): its chain is unknown
        chain = ()
    return chain if task is None else (weakref.ref(task), *chain)


def adopt(chain: Chain) -> None:
    """Mark the code running in this context (a new thread's) as belonging to ``chain``."""
    current.set(None)
    enclosing.set((None, chain))


def current_task() -> Task | None:
    """The task whose code is running here, if any: in its coroutine or worker thread, or in a
    thread it started while output capture is on (``threading.Thread``, a thread pool)."""
    task = current.get()
    if task is None:
        owner, chain = enclosing.get()
        if owner is None and chain:  # a thread a task started (adopt())
            task = chain[0]()
    return task


def cancelled() -> bool:
    """True once the running task was asked to stop (cancel, timeout, group failure).

    A thread cannot be killed: sync functions call this between steps and return early.
    Outside a task it is always False.
    """
    task = current_task()
    return task is not None and task.cancel_requested


def progress(done: float, total: float | None = None) -> None:
    """Report how far the running task is, e.g. ``progress(3, 10)``; ignored outside a task
    (a thread the task started counts as the task: see ``current_task``).

    ``done`` is a finite number >= 0 and ``total`` a finite number > 0, or None; anything else
    raises ``TypeError``/``ValueError`` here, naming the task, so no view is handed a value
    it cannot show.
    """
    task = current_task()
    checked = check_progress(
        done, total, "progress()" if task is None else f"progress() in {task.name}"
    )
    if task is not None:
        task._set_progress(*checked)
