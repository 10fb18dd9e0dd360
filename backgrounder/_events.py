"""Lifecycle events: what views (tables, text, history) subscribe to.

The core emits; it never knows who listens. Listeners may be called from any thread (sync
tasks finish in worker threads), so they must be quick and thread-safe: record, then redraw
later from a snapshot.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from enum import Enum
from typing import TYPE_CHECKING, Any, NamedTuple

if TYPE_CHECKING:
    from ._group import Tasks
    from ._task import Task

__all__ = ["EventKind", "Listener", "TaskEvent", "subscribe"]

_log = logging.getLogger("backgrounder")


class EventKind(str, Enum):
    QUEUED = "queued"
    STARTED = "started"
    PROGRESS = "progress"
    OUTPUT = "output"
    FINISHED = "finished"

    def __str__(self) -> str:
        return self.value


class TaskEvent(NamedTuple):
    """One thing that happened to a task, or to a group when ``task`` is a ``Tasks``.

    ``data`` is ``(done, total)`` for PROGRESS, ``(stream_name, text)`` for OUTPUT, else None.
    A named tuple: three are made per task run, and a frozen dataclass cost 3.5x as much.
    """

    kind: EventKind
    task: Task | Tasks
    data: Any = None


Listener = Callable[[TaskEvent], None]


class Listeners:
    """A copy-on-write set of callbacks; a raising callback is reported once and kept."""

    __slots__ = ("_items", "_reported")

    def __init__(self) -> None:
        self._items: tuple[Listener, ...] = ()
        self._reported: set[int] = set()

    def __bool__(self) -> bool:
        return bool(self._items)

    def add(self, listener: Listener) -> Callable[[], None]:
        if not callable(listener):
            raise TypeError(f"subscribe() needs a callable, got {type(listener).__name__}")
        self._items = (*self._items, listener)

        def unsubscribe() -> None:
            self._items = tuple(item for item in self._items if item is not listener)

        return unsubscribe

    def emit(self, event: TaskEvent) -> None:
        for listener in self._items:
            try:
                listener(event)
            except Exception:
                if id(listener) not in self._reported:
                    self._reported.add(id(listener))
                    _log.exception(
                        "backgrounder: listener %r failed; its later errors are silenced", listener
                    )


global_listeners = Listeners()


def subscribe(listener: Listener) -> Callable[[], None]:
    """Call ``listener(event)`` for every event of every task; returns the unsubscribe function."""
    return global_listeners.add(listener)
