"""The states a task or a group goes through."""

from __future__ import annotations

from enum import Enum

__all__ = ["TaskState"]


class TaskState(str, Enum):
    """Where a task is in its life; compares equal to its value (``state == "done"``)."""

    PENDING = "pending"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"
    CANCELLED = "cancelled"

    @property
    def finished(self) -> bool:
        """True once the state can no longer change (until the work is run again)."""
        return self in _FINISHED

    def __str__(self) -> str:
        return self.value


_FINISHED = frozenset({TaskState.DONE, TaskState.FAILED, TaskState.CANCELLED})
