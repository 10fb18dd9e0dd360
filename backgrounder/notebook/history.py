"""Every task this kernel ran, for ``%tasks``: failures of background work never vanish."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable

from .. import EventKind, Task, TaskEvent, TaskState, subscribe
from .snapshot import GroupSnapshot, group_state, snapshot_task
from .sources import cancel_task
from .tracker import Tracker

__all__ = ["History"]

LIST_LIMIT = 100  # rows %tasks lists before it summarises (failed and running come first)


class History:
    """Remembers each task from its first event on, in the order they were first queued."""

    def __init__(self) -> None:
        self._tasks: OrderedDict[int, Task] = OrderedDict()
        self._lock = threading.Lock()
        self._unsubscribe: Callable[[], None] | None = None

    def start(self) -> None:
        if self._unsubscribe is None:
            # STARTED or FINISHED (a task cancelled before it began): not QUEUED, which would
            # make an event per task of every group just to learn what STARTED says
            self._unsubscribe = subscribe(self._on_event, (EventKind.STARTED, EventKind.FINISHED))

    def stop(self) -> None:
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None

    def _on_event(self, event: TaskEvent) -> None:
        task = event.task
        kind = event.kind
        if (
            kind in (EventKind.STARTED, EventKind.FINISHED)
            and isinstance(task, Task)
            and task.id not in self._tasks
        ):
            with self._lock:
                self._tasks.setdefault(task.id, task)

    def add(self, task: Task) -> None:
        """Remember a task before its first event (a magic just started it)."""
        with self._lock:
            self._tasks.setdefault(task.id, task)

    def tasks(self) -> list[Task]:
        with self._lock:
            return list(self._tasks.values())

    def get(self, task_id: int) -> Task | None:
        return self._tasks.get(task_id)

    def cancel_all(self) -> int:
        """Cancel every unfinished task; how many were asked to stop."""
        return sum(cancel_task(task) for task in self.tasks())

    def clear(self) -> int:
        """Forget the finished tasks; how many were forgotten."""
        with self._lock:
            finished = [tid for tid, task in self._tasks.items() if task.state.finished]
            for tid in finished:
                del self._tasks[tid]
        return len(finished)

    def snapshot(self, limit: int = LIST_LIMIT) -> GroupSnapshot:
        tasks = self.tasks()
        counts, chosen = Tracker(tasks, window=limit).read()
        rows = tuple(snapshot_task(task) for task in chosen)
        return GroupSnapshot(
            name="Tasks started in this session",
            state=group_state(counts) if tasks else TaskState.DONE,
            elapsed=None,
            total=len(tasks),
            counts=counts,
            rows=rows,
        )
