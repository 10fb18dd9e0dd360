"""What a table shows: a ``Tasks`` group, a list of loose tasks, or the last reading of either.

Every source answers the same small protocol (``Source``), so the table never asks which
kind it has. Event intake (``update``) may run on any thread and is O(1); ``snapshot`` is
called by the table's writer.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Protocol

from .. import EventKind, Task, TaskEvent, TaskState, running_handles, subscribe
from .._events import Listener
from .snapshot import GroupSnapshot, error_line, group_state, snapshot_task, wall_elapsed
from .tracker import WINDOW, Tracker

if TYPE_CHECKING:
    from .. import Tasks

__all__ = [
    "TABLE_KINDS",
    "FinalSource",
    "GroupSource",
    "LooseSource",
    "Source",
    "cancel_task",
]

# What a table listens to. Not QUEUED: a group's STARTED already counts every task pending.
TABLE_KINDS = (
    EventKind.STARTED,
    EventKind.PROGRESS,
    EventKind.OUTPUT,
    EventKind.FINISHED,
    EventKind.RETRY,  # an attempt failed: the row shows the retry and its error
    EventKind.THREAD_ENDED,  # a cancelled row's thread returned: it stops saying it runs
)
_PENDING, _RUNNING, _DONE, _FAILED, _CANCELLED = TaskState
_STARTED, _FINISHED = EventKind.STARTED, EventKind.FINISHED


class Source(Protocol):
    """What a table needs from the work it shows."""

    @property
    def name(self) -> str: ...

    @property
    def ended(self) -> bool:
        """No task of it is pending or running (its final table can be drawn)."""
        ...

    def subscribe(self, listener: Listener) -> Callable[[], None]:
        """Call ``listener`` for the events of its tasks; returns the unsubscribe function."""
        ...

    def update(self, event: TaskEvent) -> bool:
        """Fold one event in (any thread, O(1)); True if it may have ended the work."""
        ...

    def snapshot(self, now: float | None = None) -> GroupSnapshot: ...

    def find(self, task_id: int) -> Task | None:
        """The task of a row, for its Cancel button (None once the work has ended)."""
        ...

    def add(self, task: Task) -> bool:
        """Show one more task (loose tables only); False if this source takes none."""
        ...

    def cancel(self) -> None:
        """Cancel every unfinished task (the Cancel all button)."""
        ...


class GroupSource:
    """A ``Tasks`` group."""

    def __init__(self, group: Tasks, window: int = WINDOW) -> None:
        self.group = group
        self.tracker = Tracker(group.tasks, window)
        self._note = self.tracker.update

    @property
    def name(self) -> str:
        return self.group.name

    @property
    def ended(self) -> bool:
        return self.group.state.finished

    def subscribe(self, listener: Listener) -> Callable[[], None]:
        unsubscribe = self.group.subscribe(listener, TABLE_KINDS)
        self.tracker.rescan(self.group.tasks)  # after subscribing: no event falls in between
        return unsubscribe

    def update(self, event: TaskEvent) -> bool:
        """QUEUED needs nothing (see ``TABLE_KINDS``); PROGRESS and OUTPUT change no state.

        The group's STARTED comes before any task's event and restarts the count; its
        FINISHED comes after every task's own.
        """
        kind = event.kind
        if kind is _STARTED or kind is _FINISHED:
            item = event.task
            if item.__class__ is Task or isinstance(item, Task):
                self._note(item)
            elif kind is _STARTED:
                self.tracker.restart(self.group.tasks)
            else:
                return True
        return False

    def snapshot(self, now: float | None = None) -> GroupSnapshot:
        group = self.group
        state = group.state  # before the tasks: a group ends after all of them
        now = time.time() if now is None else now
        total = group.total  # before the tracker: a map's made tasks only grow
        counts, tasks = self.tracker.read()
        made = self.tracker.total
        if total is not None and total > made:  # a map's inputs not read yet are pending
            counts[_PENDING] += total - made
        rows = tuple(snapshot_task(task, now) for task in tasks)
        elapsed = group.elapsed
        if state is _RUNNING:
            elapsed = wall_elapsed(group.started_at, None, now)
        return GroupSnapshot(
            name=group.name,
            state=state,
            elapsed=elapsed,
            total=max(made, total or 0),
            counts=counts,
            rows=rows,
            error=error_line(group.exception) if state is _FAILED else None,
            more=total is None,
        )

    def find(self, task_id: int) -> Task | None:
        return next((task for task in self.group.tasks if task.id == task_id), None)

    def add(self, task: Task) -> bool:
        return False  # a group's tasks are its own

    def cancel(self) -> None:
        if not self.group.cancel():  # not running yet: its handle can still stop it
            _cancel_handles_of([self.group])


class LooseSource:
    """Tasks run one by one (``%background``, ``task.start()``) shown as one table."""

    def __init__(self, name: str, tasks: Sequence[Task] = (), window: int = WINDOW) -> None:
        self._name = name
        self.tracker = Tracker(list(tasks), window)
        self._listeners: list[Listener] = []
        self._lock = threading.Lock()  # guards _listeners (tasks join from the main thread)

    @property
    def name(self) -> str:
        return self._name

    @property
    def tasks(self) -> list[Task]:
        return self.tracker.tasks

    @property
    def ended(self) -> bool:
        counts = self.tracker.counts()
        return not counts[_PENDING] and not counts[_RUNNING]

    def add(self, task: Task) -> bool:
        with self._lock:
            listeners = list(self._listeners)
        for listener in listeners:
            _routes.add(task.id, listener)
        self.tracker.add(task)
        return True

    def subscribe(self, listener: Listener) -> Callable[[], None]:
        with self._lock:
            self._listeners.append(listener)
        for task in self.tasks:
            _routes.add(task.id, listener)
        self.tracker.rescan(self.tasks)

        def unsubscribe() -> None:
            with self._lock:
                if listener in self._listeners:
                    self._listeners.remove(listener)
            for task in self.tasks:
                _routes.remove(task.id, listener)

        return unsubscribe

    def update(self, event: TaskEvent) -> bool:
        if isinstance(event.task, Task) and event.kind in (_STARTED, _FINISHED):
            self.tracker.update(event.task)
            return event.kind is _FINISHED
        return False

    def snapshot(self, now: float | None = None) -> GroupSnapshot:
        now = time.time() if now is None else now
        counts, chosen = self.tracker.read()
        rows = tuple(snapshot_task(task, now) for task in chosen)
        starts, ends = [], []
        for task in self.tasks:
            started, ended = task.started_at, task.ended_at
            if started is not None:
                starts.append(started.timestamp())
            if ended is not None:
                ends.append(ended.timestamp())
        elapsed = None
        if starts:
            still = counts[_RUNNING] or counts[_PENDING]
            last = max(ends) if ends and not still else now
            elapsed = max(0.0, last - min(starts))
        return GroupSnapshot(
            name=self.name,
            state=group_state(counts),
            elapsed=elapsed,
            total=self.tracker.total,
            counts=counts,
            rows=rows,
        )

    def find(self, task_id: int) -> Task | None:
        return next((task for task in self.tasks if task.id == task_id), None)

    def cancel(self) -> None:
        tasks = [task for task in self.tasks if not task.state.finished]
        _cancel_handles_of(tasks)
        for task in tasks:
            task.cancel()


class FinalSource:
    """What a table keeps of work that ended: its last reading, without the tasks.

    A table that kept its group or tasks would keep every result alive for as long as it
    is referenced; its snapshot is all it still needs to draw.
    """

    ended = True

    def __init__(self, snap: GroupSnapshot) -> None:
        self._snap = snap.frozen()

    @property
    def name(self) -> str:
        return self._snap.name

    def subscribe(self, listener: Listener) -> Callable[[], None]:
        return lambda: None

    def update(self, event: TaskEvent) -> bool:
        return False

    def snapshot(self, now: float | None = None) -> GroupSnapshot:
        return self._snap

    def find(self, task_id: int) -> Task | None:
        return None

    def add(self, task: Task) -> bool:
        return False

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
    wanted = {id(work) for work in works}
    for handle in running_handles():
        if id(handle.work) in wanted:
            handle.cancel()


class _Routes:
    """Events of loose tasks reach their tables through one global subscription."""

    def __init__(self) -> None:
        self._by_task: dict[int, tuple[Listener, ...]] = {}
        self._unsubscribe: Callable[[], None] | None = None
        self._lock = threading.Lock()  # guards _by_task's writes and the subscription

    def add(self, task_id: int, listener: Listener) -> None:
        with self._lock:
            self._by_task[task_id] = (*self._by_task.get(task_id, ()), listener)
            if self._unsubscribe is None:
                self._unsubscribe = subscribe(self._dispatch, TABLE_KINDS)

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
