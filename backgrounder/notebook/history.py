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
# Finished tasks kept for %tasks, failed ones apart (they are what a person comes back for):
# each holds its result and output, and a notebook running 100 groups of 1,000 tasks kept
# 67 MB before this bound. The oldest are forgotten first; the journal keeps their records.
KEEP_FINISHED = 1_000
KEEP_FAILED = 1_000


class History:
    """Remembers each task from its first event on, in the order they were first queued.

    Unfinished tasks are all kept; of the finished ones, the most recent ``keep_finished``
    (done or cancelled) and ``keep_failed`` (failed) ones.
    """

    def __init__(self, keep_finished: int = KEEP_FINISHED, keep_failed: int = KEEP_FAILED) -> None:
        self._tasks: OrderedDict[int, Task] = OrderedDict()
        self._lock = threading.Lock()
        self._unsubscribe: Callable[[], None] | None = None
        self._keep = {False: keep_finished, True: keep_failed}
        # ids of finished tasks, oldest end first: (failed?) -> ids
        self._ended: dict[bool, OrderedDict[int, None]] = {
            False: OrderedDict(),
            True: OrderedDict(),
        }
        self.forgotten = 0
        """How many finished tasks were forgotten to stay within the bound (not by clear)."""

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
        if not isinstance(task, Task):
            return
        if event.kind is EventKind.STARTED:
            if task.id not in self._tasks:
                with self._lock:
                    self._tasks.setdefault(task.id, task)
        elif event.kind is EventKind.FINISHED:
            with self._lock:
                self._tasks.setdefault(task.id, task)
                self._ended_now(task)

    def _ended_now(self, task: Task) -> None:
        """With the lock held: ``task`` ended; forget the oldest ended beyond the bound."""
        failed = task.state is TaskState.FAILED
        self._ended[not failed].pop(task.id, None)  # a re-run that ended the other way
        ended = self._ended[failed]
        ended[task.id] = None
        ended.move_to_end(task.id)
        while len(ended) > self._keep[failed]:
            old, _ = ended.popitem(last=False)
            kept = self._tasks.get(old)
            if kept is not None and kept.state.finished:  # not running again meanwhile
                del self._tasks[old]
                self.forgotten += 1

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
            for ended in self._ended.values():
                ended.clear()
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
            note=(
                f"{self.forgotten} older finished tasks are no longer listed "
                f"(the {self._keep[False]:,} most recent and the {self._keep[True]:,} most recent "
                "failed are kept)"
                if self.forgotten
                else None
            ),
        )
