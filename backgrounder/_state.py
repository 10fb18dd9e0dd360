"""The states a task or a group goes through."""

from __future__ import annotations

from enum import Enum

__all__ = ["TaskState"]


class TaskState(str, Enum):
    """Where a task is in its life; compares equal to its value (``state == "done"``)."""

    PENDING = "pending"
    """Not started yet: queued in a group, or its ``start()`` has not begun the run."""
    RUNNING = "running"
    """Its code runs (a sync task's thread may run on after a cancel: see ``thread_alive``)."""
    DONE = "done"
    """Returned: ``result`` holds what it returned."""
    FAILED = "failed"
    """Raised, or timed out (``TimeoutError``): ``exception`` and ``traceback`` say why."""
    CANCELLED = "cancelled"
    """Stopped by ``cancel()``, Interrupt, or its group's failure or timeout before it ended."""

    @property
    def finished(self) -> bool:
        """True once the state can no longer change (until the work is run again)."""
        return self in _FINISHED

    def __str__(self) -> str:
        return self.value


_FINISHED = frozenset({TaskState.DONE, TaskState.FAILED, TaskState.CANCELLED})
