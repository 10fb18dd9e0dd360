"""Which tasks a table shows, and how many are in each state, kept up to date from events.

The rule (``select_window``) is a pure function of the tasks' states: all tasks in their
order if they fit in the window; else the running ones (in task order), then the failed,
then the other finished ones (each most recently ended first), then the next pending ones
in order. ``Tracker`` computes the same answer incrementally, so that a 100,000-task group
costs one short update per event and a window-sized sort per redraw, not a scan of every
task ten times a second.
"""

from __future__ import annotations

import heapq
import threading
from collections import OrderedDict, deque
from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING

from .. import TaskState

if TYPE_CHECKING:
    from .. import Task

__all__ = ["WINDOW", "Tracker", "select_window"]

WINDOW = 50  # rows shown at most for one table; the rest are summarised by the counts
FOLD_AT = 1 << 16  # notes kept at most before the noting thread folds them itself
_PENDING, _RUNNING, _DONE, _FAILED, _CANCELLED = TaskState
_EPOCH = datetime.min


def _recency(task: Task) -> tuple[datetime, int]:
    """Sort key of finished tasks: when they ended, then their id (ties in one microsecond)."""
    return (task.ended_at or _EPOCH, task.id)


def select_window(tasks: Sequence[Task], window: int = WINDOW) -> list[Task]:
    """The tasks a table shows, read from their current states (the reference rule)."""
    if len(tasks) <= window:
        return list(tasks)
    states = [(task, task.state) for task in tasks]
    chosen = [task for task, state in states if state is _RUNNING][:window]
    for wanted in ((_FAILED,), (_DONE, _CANCELLED)):
        room = window - len(chosen)
        if room <= 0:
            break
        ended = [task for task, state in states if state in wanted]
        chosen += sorted(ended, key=_recency, reverse=True)[:room]
    room = window - len(chosen)
    if room > 0:
        chosen += [task for task, state in states if state is _PENDING][:room]
    return chosen


class Tracker:
    """Per-state counts and the window of rows (``select_window``), kept from events.

    Only tasks that left PENDING are recorded: a task the tracker has not heard of is
    pending, so pending is counted from the list's length and a run that re-queues every
    task is one ``restart``, not one update per task. ``update(task)`` may be called from
    any thread and only notes the task (a deque append: events come from the threads that
    run the work); whoever reads next (the table's writer) folds the notes in under
    ``_lock``, reading each task's state then, so whatever order events arrive in, the fold
    sees the latest state.

    Finished tasks are kept for the window ``KEEP`` times the window deep, in the order
    their events were folded, and sorted by when they ended at each reading: the window
    equals ``select_window`` unless more than that many events arrive out of order.
    """

    KEEP = 2

    def __init__(self, tasks: Sequence[Task] = (), window: int = WINDOW) -> None:
        self.window = window
        self._lock = threading.Lock()  # guards everything below but _noted (a deque)
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
            for task in tasks:
                if task.state is not _PENDING:
                    self._apply(task)

    def _reset(self, tasks: Sequence[Task]) -> None:
        self._tasks = tasks
        self._noted.clear()
        self._index: dict[int, int] | None = None  # id -> position, built when first needed
        self._known: dict[int, TaskState] = {}  # id -> state of the tasks that left PENDING
        self._counts = dict.fromkeys(TaskState, 0)  # PENDING is derived, see counts()
        self._running: dict[int, Task] = {}
        self._failed: OrderedDict[int, Task] = OrderedDict()
        self._recent: OrderedDict[int, Task] = OrderedDict()
        self._cursor = 0  # no pending task before this position

    def _positions(self) -> dict[int, int]:
        index, tasks = self._index, self._tasks
        if index is None:
            index = self._index = {task.id: i for i, task in enumerate(tasks)}
        elif len(index) < len(tasks):  # a map's tasks join its list as its inputs are read
            for i in range(len(index), len(tasks)):
                index[tasks[i].id] = i
        return index

    def add(self, task: Task) -> None:
        """Track one more task (a loose list grows)."""
        with self._lock:
            index = self._positions()
            if task.id in index:
                return
            index[task.id] = len(self._tasks)
            if isinstance(self._tasks, list):
                self._tasks.append(task)
            else:
                self._tasks = [*self._tasks, task]
            self._apply(task)

    def update(self, task: Task) -> None:
        noted = self._noted
        noted.append(task)
        if len(noted) > FOLD_AT:
            with self._lock:
                self._fold()

    def _fold(self) -> None:
        noted, apply = self._noted, self._apply
        while noted:
            apply(noted.popleft())

    def _apply(self, task: Task) -> None:
        new = task.state
        tid = task.id
        old = self._known.get(tid, _PENDING)
        if old is new:
            return
        counts = self._counts
        if old is not _PENDING:
            counts[old] -= 1
            self._running.pop(tid, None)
            self._failed.pop(tid, None)
            self._recent.pop(tid, None)
        if new is _PENDING:  # queued again (a loose task re-run): the window looks from the top
            del self._known[tid]
            self._cursor = 0
            return
        counts[new] += 1
        self._known[tid] = new
        keep = self.KEEP * self.window
        if new is _RUNNING:
            self._running[tid] = task
        elif new is _FAILED:
            self._failed[tid] = task
            if len(self._failed) > keep:
                self._failed.popitem(last=False)
        else:
            self._recent[tid] = task
            if len(self._recent) > keep:
                self._recent.popitem(last=False)

    @property
    def total(self) -> int:
        return len(self._tasks)

    @property
    def tasks(self) -> list[Task]:
        with self._lock:
            return list(self._tasks)

    def counts(self) -> dict[TaskState, int]:
        with self._lock:
            self._fold()
            return self._counted()

    def _counted(self) -> dict[TaskState, int]:
        counts = dict(self._counts)
        counts[_PENDING] = len(self._tasks) - len(self._known)
        return counts

    def read(self) -> tuple[dict[TaskState, int], list[Task]]:
        """The counts and the window's tasks (``select_window``), from one fold."""
        with self._lock:
            self._fold()
            return self._counted(), self._select()

    def select(self) -> list[Task]:
        return self.read()[1]

    def _select(self) -> list[Task]:
        tasks = self._tasks
        if len(tasks) <= self.window:
            return list(tasks)
        room = self.window
        index = self._positions()
        running = self._running
        chosen = [running[tid] for tid in heapq.nsmallest(room, running, key=index.__getitem__)]
        room -= len(chosen)
        for ended in (self._failed, self._recent):
            if room > 0:
                latest = heapq.nlargest(room, ended.values(), key=_recency)
                chosen += latest
                room -= len(latest)
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
