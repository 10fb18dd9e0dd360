"""Immutable snapshots of tasks and groups: what every view (widget, text, HTML) draws from.

Views never read a live ``Task`` while drawing: they take a snapshot (cheap, bounded) and
render it, so a task that changes state mid-draw cannot produce a torn row. A ``Tracker``
keeps per-state counts and the bounded window of rows up to date from events, so that a
100,000-task group costs one short update per event and a 50-row snapshot per redraw.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

from .._events import EventKind, Listener, TaskEvent, subscribe
from .._state import TaskState
from .._task import Task
from .._validate import safe_repr

if TYPE_CHECKING:
    from .._group import Tasks

__all__ = [
    "OUTPUT_TAIL",
    "WINDOW",
    "GroupSnapshot",
    "FinalSource",
    "GroupSource",
    "LooseSource",
    "RowSnapshot",
    "Tracker",
    "error_line",
    "short_repr",
    "snapshot_task",
]

WINDOW = 50  # rows shown at most for one group; the rest are summarised by the counts
OUTPUT_TAIL = 4_000  # characters of a task's output shown in its row (the tail)
_PENDING, _RUNNING, _DONE, _FAILED, _CANCELLED = TaskState
_TASK_STARTED, _TASK_FINISHED = EventKind.STARTED, EventKind.FINISHED


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


_TABLE_KINDS = (EventKind.STARTED, EventKind.PROGRESS, EventKind.OUTPUT, EventKind.FINISHED)


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
    task: Task | None = field(default=None, compare=False, repr=False)  # for buttons only

    @property
    def has_details(self) -> bool:
        return bool(self.traceback or self.output or self.output_dropped)


@dataclass(frozen=True)
class GroupSnapshot:
    """A group (or a list of loose tasks) as a view shows it: counts and a window of rows."""

    name: str
    state: TaskState
    elapsed: float | None
    total: int
    counts: dict[TaskState, int]
    rows: tuple[RowSnapshot, ...]
    kind: str = "group"  # "group", "sequence" or "tasks"
    error: str | None = None

    @property
    def hidden(self) -> int:
        """How many tasks the window leaves out."""
        return self.total - len(self.rows)

    @property
    def finished(self) -> int:
        return self.counts[_DONE] + self.counts[_FAILED] + self.counts[_CANCELLED]


def snapshot_task(task: Task) -> RowSnapshot:
    """Read one task once; safe from any thread, never raises for a task's odd values."""
    state = task.state
    exc = task.exception if state is _FAILED else None
    output = task.output
    dropped = task.output_dropped
    if len(output) > OUTPUT_TAIL:
        dropped += len(output) - OUTPUT_TAIL
        output = output[-OUTPUT_TAIL:]
    return RowSnapshot(
        id=task.id,
        name=task.name,
        state=state,
        elapsed=task.elapsed,
        progress=task.progress,
        result=short_repr(task.result) if state is _DONE else None,
        error=error_line(exc),
        traceback=task.traceback if exc is not None else None,
        output=output,
        output_dropped=dropped,
        cancel_requested=task.cancel_requested,
        task=task,
    )


class Tracker:
    """Per-state counts and the candidates for the row window, kept up to date from events.

    Only tasks that left PENDING are recorded: a task the tracker has not heard of is
    pending, so pending is counted from the list's length and a run that re-queues every
    task is one ``restart``, not one update per task. ``update(task)`` may be called from
    any thread and only notes the task (a deque append: events come from the threads that
    run the work); the notes are folded in, in a batch, by whoever reads next (the writer,
    ten times a second), each reading the task's state then, under the lock, so whatever
    order events arrive in, the fold sees the latest state.
    """

    FOLD_AT = 1 << 16  # notes kept at most before the noting thread folds them itself

    def __init__(self, tasks: Sequence[Task] = (), window: int = WINDOW) -> None:
        self.window = window
        self._lock = threading.Lock()
        self._tasks: Sequence[Task] = ()
        self._noted: deque[Task] = deque()  # tasks whose events are not folded in yet
        self.rescan(tasks)

    def restart(self, tasks: Sequence[Task]) -> None:
        """A run begins: every task is queued again, whatever its last run left."""
        with self._lock:
            self._reset(tasks)

    def rescan(self, tasks: Sequence[Task]) -> None:
        """Start again from the tasks' current states (a view was made)."""
        with self._lock:
            self._reset(tasks)
            for task in [task for task in tasks if task._state is not _PENDING]:
                self._apply(task)

    def _reset(self, tasks: Sequence[Task]) -> None:
        self._tasks = tasks
        self._noted.clear()
        self._ids: set[int] | None = None  # built by the first add()
        self._known: dict[int, TaskState] = {}  # id -> state of the tasks that left PENDING
        self._counts = dict.fromkeys(TaskState, 0)  # PENDING is derived, see counts()
        self._running: dict[int, Task] = {}
        self._failed: OrderedDict[int, Task] = OrderedDict()
        self._recent: OrderedDict[int, Task] = OrderedDict()
        self._cursor = 0

    def add(self, task: Task) -> None:
        """Track one more task (a loose list grows)."""
        with self._lock:
            if self._ids is None:
                self._ids = {item.id for item in self._tasks}
            if task.id in self._ids:
                return
            self._ids.add(task.id)
            if isinstance(self._tasks, list):
                self._tasks.append(task)
            else:
                self._tasks = [*self._tasks, task]
            self._apply(task)

    def update(self, task: Task) -> None:
        noted = self._noted
        noted.append(task)
        if len(noted) > self.FOLD_AT:
            with self._lock:
                self._fold()

    def _fold(self) -> None:
        noted, apply = self._noted, self._apply
        while noted:
            apply(noted.popleft())

    def _apply(self, task: Task) -> None:
        new = task._state
        tid = task.id
        old = self._known.get(tid, _PENDING)
        if old is new:
            return
        counts = self._counts
        if old is _RUNNING:
            counts[old] -= 1
            self._running.pop(tid, None)
        elif old is _FAILED:
            counts[old] -= 1
            self._failed.pop(tid, None)
        elif old is not _PENDING:
            counts[old] -= 1
            self._recent.pop(tid, None)
        if new is _PENDING:  # queued again (a loose task re-run): the window looks from the top
            del self._known[tid]
            self._cursor = 0
            return
        counts[new] += 1
        self._known[tid] = new
        if new is _RUNNING:
            self._running[tid] = task
        elif new is _FAILED:
            self._failed[tid] = task
            if len(self._failed) > self.window:
                self._failed.popitem(last=False)
        else:
            self._recent[tid] = task
            if len(self._recent) > self.window:
                self._recent.popitem(last=False)

    @property
    def total(self) -> int:
        return len(self._tasks)

    def counts(self) -> dict[TaskState, int]:
        with self._lock:
            self._fold()
            counts = dict(self._counts)
            counts[_PENDING] = len(self._tasks) - len(self._known)
            return counts

    def select(self) -> list[Task]:
        """The tasks to show: all in order if they fit, else running, failed, recent, pending."""
        with self._lock:
            self._fold()
            tasks = self._tasks
            if len(tasks) <= self.window:
                return list(tasks)
            room = self.window
            chosen: list[Task] = list(self._running.values())[:room]
            room -= len(chosen)
            if room > 0:
                failed = list(self._failed.values())[-room:]
                chosen += reversed(failed)
                room -= len(failed)
            if room > 0:
                recent = list(self._recent.values())[-room:]
                chosen += reversed(recent)
                room -= len(recent)
            if room > 0:
                # the next pending tasks in order; the cursor skips those that have started
                known = self._known
                while self._cursor < len(tasks) and tasks[self._cursor].id in known:
                    self._cursor += 1
                i = self._cursor
                while room > 0 and i < len(tasks):
                    if tasks[i].id not in known:
                        chosen.append(tasks[i])
                        room -= 1
                    i += 1
            return chosen


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


class GroupSource:
    """A ``Tasks`` group as a view's source: its snapshot, its events, Cancel all."""

    def __init__(self, group: Tasks, window: int = WINDOW, *, scan: bool = True) -> None:
        self.group = group
        self.tracker = Tracker(group.tasks if scan else (), window)

    @property
    def name(self) -> str:
        return self.group.name

    @property
    def ended(self) -> bool:
        return self.group.state.finished

    def update(self, event: TaskEvent) -> None:
        """Fold one event into the tracker (any thread): O(1), and nothing for most kinds.

        QUEUED needs nothing: the group's STARTED, which comes before any task's event,
        restarts the tracker with every task pending. PROGRESS and OUTPUT change no state.
        The group's FINISHED comes after every task's own FINISHED.
        """
        kind = event.kind
        if kind is _TASK_STARTED or kind is _TASK_FINISHED:
            item = event.task
            if isinstance(item, Task):
                self.tracker.update(item)
            elif kind is _TASK_STARTED:
                self.tracker.restart(self.group.tasks)

    def refresh(self) -> None:
        self.tracker.rescan(self.group.tasks)

    def subscribe(self, listener: Listener) -> Callable[[], None]:
        # no QUEUED: the group's STARTED already counts every task pending (see update)
        return self.group.subscribe(listener, _TABLE_KINDS)

    def cancel(self) -> None:
        if not self.group.cancel():  # not running yet: its handle can still stop it
            _cancel_handles_of([self.group])

    def snapshot(self) -> GroupSnapshot:
        group = self.group
        rows = tuple(snapshot_task(task) for task in self.tracker.select())
        exc = group.exception
        return GroupSnapshot(
            name=group.name,
            state=group.state,
            elapsed=group.elapsed,
            total=self.tracker.total,
            counts=self.tracker.counts(),
            rows=rows,
            kind="group" if group.as_group else "sequence",
            error=error_line(exc) if group.state is _FAILED else None,
        )


class LooseSource:
    """Tasks run one by one (``%background``, ``task.start()``) shown as one table."""

    def __init__(self, name: str, tasks: Sequence[Task] = (), window: int = WINDOW) -> None:
        self.name = name
        self.tracker = Tracker(list(tasks), window)
        self._listeners: list[Listener] = []

    @property
    def tasks(self) -> list[Task]:
        return list(self.tracker._tasks)

    @property
    def ended(self) -> bool:
        counts = self.tracker.counts()
        return not counts[_PENDING] and not counts[_RUNNING]

    def add(self, task: Task) -> None:
        self.tracker.add(task)
        for listener in self._listeners:
            _routes.add(task.id, listener)

    def refresh(self) -> None:
        self.tracker.rescan(self.tasks)

    def update(self, event: TaskEvent) -> None:
        if isinstance(event.task, Task):
            self.tracker.update(event.task)

    def subscribe(self, listener: Listener) -> Callable[[], None]:
        self._listeners.append(listener)
        for task in self.tasks:
            _routes.add(task.id, listener)

        def unsubscribe() -> None:
            self._listeners.remove(listener)
            for task in self.tasks:
                _routes.remove(task.id, listener)

        return unsubscribe

    def cancel(self) -> None:
        tasks = [task for task in self.tasks if not task.state.finished]
        _cancel_handles_of(tasks)
        for task in tasks:
            task.cancel()

    def snapshot(self) -> GroupSnapshot:
        counts = self.tracker.counts()
        rows = tuple(snapshot_task(task) for task in self.tracker.select())
        tasks = self.tasks
        starts = [t._t_start for t in tasks if t._t_start is not None]
        elapsed = None
        if starts:
            ends = [t._t_end for t in tasks if t._t_end is not None]
            still = counts[_RUNNING] or counts[_PENDING]
            last = max(ends) if ends and not still else time.monotonic()
            elapsed = last - min(starts)
        return GroupSnapshot(
            name=self.name,
            state=group_state(counts),
            elapsed=elapsed,
            total=self.tracker.total,
            counts=counts,
            rows=rows,
            kind="tasks",
        )


class FinalSource:
    """What a view keeps of a finished group: its last snapshot, without the tasks.

    A view that kept its ``GroupSource`` would keep every task (and its result) alive for
    as long as the view is shown; its snapshot is all it still needs to draw.
    """

    ended = True

    def __init__(self, snap: GroupSnapshot) -> None:
        self.name = snap.name
        self._snap = replace(snap, rows=tuple(replace(row, task=None) for row in snap.rows))

    def snapshot(self) -> GroupSnapshot:
        return self._snap

    def update(self, event: TaskEvent) -> None:
        pass

    def refresh(self) -> None:
        pass

    def cancel(self) -> None:
        pass


def cancel_task(task: Task) -> bool:
    """Cancel a task, through its handle if it was started alone (it may not have begun)."""
    if task.state.finished:
        return False
    _cancel_handles_of([task])
    task.cancel()
    return True


def _cancel_handles_of(works: Sequence[object]) -> None:
    from .._handle import running_handles

    wanted = {id(work) for work in works}
    for handle in running_handles():
        if id(handle.work) in wanted:
            handle.cancel()


class _Routes:
    """Events of loose tasks reach their views through one global subscription."""

    def __init__(self) -> None:
        self._by_task: dict[int, tuple[Listener, ...]] = {}
        self._unsubscribe: Callable[[], None] | None = None
        self._lock = threading.Lock()

    def add(self, task_id: int, listener: Listener) -> None:
        with self._lock:
            self._by_task[task_id] = (*self._by_task.get(task_id, ()), listener)
            if self._unsubscribe is None:
                self._unsubscribe = subscribe(self._dispatch)

    def remove(self, task_id: int, listener: Listener) -> None:
        with self._lock:
            left = tuple(item for item in self._by_task.get(task_id, ()) if item is not listener)
            if left:
                self._by_task[task_id] = left
            else:
                self._by_task.pop(task_id, None)

    def _dispatch(self, event: TaskEvent) -> None:
        task = event.task
        if isinstance(task, Task):
            for listener in self._by_task.get(task.id, ()):
                listener(event)


_routes = _Routes()
