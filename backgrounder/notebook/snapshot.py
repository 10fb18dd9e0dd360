"""Immutable readings of tasks and groups: what every view (widget, text, HTML) draws from.

Views never read a live ``Task`` while drawing: they take a snapshot (cheap, bounded) and
render it, so a task that changes state mid-draw cannot produce a torn row. Tasks are read
through their public properties only.
"""

from __future__ import annotations

import time
import weakref
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import TYPE_CHECKING

from .. import TaskState
from .._validate import safe_repr

if TYPE_CHECKING:
    from .. import Task

__all__ = [
    "OUTPUT_TAIL",
    "GroupSnapshot",
    "RowSnapshot",
    "error_line",
    "group_state",
    "short_repr",
    "snapshot_task",
    "wall_elapsed",
    "result_names",
]

OUTPUT_TAIL = 4_000  # characters of a task's output shown in its row (the tail)
_PENDING, _RUNNING, _DONE, _FAILED, _CANCELLED = TaskState

result_names: weakref.WeakKeyDictionary[Task, str] = weakref.WeakKeyDictionary()
"""The name ``%background -o NAME`` binds each task's result to: its row says so."""


def short_repr(value: object, limit: int = 80) -> str:
    """A one-line repr for a preview; never raises, never longer than ``limit``."""
    text = safe_repr(value).replace("\n", " ")
    return text if len(text) <= limit else text[: limit - 1] + "…"


def error_line(exc: BaseException | None, limit: int = 200) -> str | None:
    """``TypeName: message`` on one line, like the last line of a traceback."""
    if exc is None:
        return None
    try:
        message = str(exc)
    except Exception:
        message = "(str() of the exception failed)"
    name = type(exc).__name__
    text = f"{name}: {message}" if message else name
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def wall_elapsed(started: datetime | None, ended: datetime | None, now: float) -> float | None:
    """Seconds from ``started`` to ``ended`` (or to ``now``, wall-clock seconds, if running)."""
    if started is None:
        return None
    end = ended.timestamp() if ended is not None else now
    return max(0.0, end - started.timestamp())


@dataclass(frozen=True)
class RowSnapshot:
    """One task as a view shows it."""

    id: int
    name: str
    state: TaskState
    elapsed: float | None
    progress: tuple[float, float | None] | None
    result: str | None  # short repr of the result, once done
    error: str | None  # one line, once failed
    traceback: str | None
    output: str  # the tail of what the task printed
    output_dropped: int  # characters not shown before ``output``
    cancel_requested: bool
    thread_alive: bool = False  # a sync run's thread still executes (after cancel or timeout)
    attempt: int = 0  # which attempt the run is on (1: the first try)
    max_attempts: int = 1  # 1 plus the retries the run allows
    retry_in: float | None = None  # seconds until the next attempt, while it waits for it
    attempt_errors: tuple[tuple[int, str, str], ...] = ()  # (attempt, error line, traceback)
    bound_to: str | None = None  # %background -o NAME, until the task ends
    task: Task | None = field(default=None, compare=False, repr=False)  # for buttons only

    @property
    def has_details(self) -> bool:
        return bool(self.traceback or self.output or self.output_dropped or self.attempt_errors)

    @property
    def cancellable(self) -> bool:
        """Whether its Cancel button is enabled: only while it may still run."""
        return not self.state.finished

    def frozen(self) -> RowSnapshot:
        """The same reading without the task (what a finished table keeps)."""
        return replace(self, task=None) if self.task is not None else self


@dataclass(frozen=True)
class GroupSnapshot:
    """A group (or a list of loose tasks) as a view shows it: counts and a window of rows.

    ``note`` says why a table stopped before its work did (the kernel shut down). ``more``:
    tasks beyond ``total`` may come, how many is not known yet (a map reading its inputs).
    """

    name: str
    state: TaskState
    elapsed: float | None
    total: int
    counts: dict[TaskState, int]
    rows: tuple[RowSnapshot, ...]
    error: str | None = None
    note: str | None = None
    more: bool = False

    @property
    def hidden(self) -> int:
        """How many tasks the window leaves out."""
        return self.total - len(self.rows)

    @property
    def finished(self) -> int:
        return self.counts[_DONE] + self.counts[_FAILED] + self.counts[_CANCELLED]

    def frozen(self, note: str | None = None) -> GroupSnapshot:
        """The same reading without any task (and with ``note``, if given)."""
        rows = tuple(row.frozen() for row in self.rows)
        return replace(self, rows=rows, note=note if note is not None else self.note)


def snapshot_task(task: Task, now: float | None = None) -> RowSnapshot:
    """Read one task once; safe from any thread, never raises for a task's odd values.

    ``now`` (``time.time()``) is the instant a running task's elapsed time is measured to:
    a whole table read at one instant shows one consistent clock.
    """
    state = task.state
    exc = task.exception if state is _FAILED else None
    output = task.output
    dropped = task.output_dropped
    if len(output) > OUTPUT_TAIL:
        dropped += len(output) - OUTPUT_TAIL
        output = output[-OUTPUT_TAIL:]
    retry_in = None
    if state is _RUNNING:
        now = time.time() if now is None else now
        elapsed = wall_elapsed(task.started_at, None, now)
        next_at = task.next_attempt_at
        if next_at is not None:
            retry_in = max(0.0, next_at.timestamp() - now)
    else:
        elapsed = task.elapsed
    attempt = task.attempt
    result = short_repr(task.result) if state is _DONE else None
    error = error_line(exc)
    bound = result_names.get(task)
    if bound is not None and state is _DONE:
        result = f"{bound} = {result}"
    elif bound is not None and state.finished:  # failed or cancelled: NAME was left alone
        said = f"result not bound to {bound}"
        error = f"{error} ({said})" if error else f"{said}: {state.value}"
    bound_to = bound if bound is not None and not state.finished else None
    return RowSnapshot(
        id=task.id,
        name=task.name,
        state=state,
        elapsed=elapsed,
        progress=task.progress,
        result=result,
        error=error,
        traceback=task.traceback if exc is not None else None,
        output=output,
        output_dropped=dropped,
        cancel_requested=task.cancel_requested,
        thread_alive=task.thread_alive,
        attempt=attempt,
        max_attempts=task.max_attempts,
        bound_to=bound_to,
        retry_in=retry_in,
        attempt_errors=tuple(
            (e.attempt, error_line(e.exception) or "", e.traceback) for e in task.attempt_errors
        ),
        task=task,
    )


def group_state(counts: dict[TaskState, int]) -> TaskState:
    """The state of a list of loose tasks, from their counts."""
    if counts[_RUNNING]:
        return _RUNNING
    if counts[_PENDING]:
        started = counts[_DONE] + counts[_FAILED] + counts[_CANCELLED]
        return _RUNNING if started else _PENDING
    if counts[_FAILED]:
        return _FAILED
    if counts[_CANCELLED]:
        return _CANCELLED
    return _DONE
