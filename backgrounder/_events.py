"""Lifecycle events: what views (tables, text, history) subscribe to.

The core emits; it never knows who listens. Listeners may be called from any thread (sync
tasks finish in worker threads), so they must be quick and thread-safe: record, then redraw
later from a snapshot.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from enum import Enum
from typing import TYPE_CHECKING, Any, NamedTuple

from ._validate import safe_repr

if TYPE_CHECKING:
    from ._group import Tasks
    from ._task import Task

__all__ = ["EventKind", "Listener", "TaskEvent", "subscribe"]

_log = logging.getLogger("backgrounder")


class EventKind(str, Enum):
    """What happened: a listener names the kinds it wants (``subscribe(f, kinds=...)``)."""

    QUEUED = "queued"
    """A run took the task (it is pending); not emitted for a group itself."""
    STARTED = "started"
    """The task's code began, or a group's run began (before any of its tasks' events)."""
    PROGRESS = "progress"
    """The task called ``progress(done, total)``; ``data`` is ``(done, total)``."""
    OUTPUT = "output"
    """The task printed (output capture on); ``data`` is ``(stream_name, text)``."""
    FINISHED = "finished"
    """The run ended: done, failed or cancelled (a group's comes after all its tasks')."""
    RETRY = "retry"
    """An attempt failed and the task will be tried again (it stays running meanwhile);
    ``data`` is the failed attempt's ``AttemptError``."""
    THREAD_ENDED = "thread_ended"
    """A cancelled or timed-out sync task's thread returned at last (``thread_alive`` False)."""

    def __str__(self) -> str:
        return self.value


class TaskEvent(NamedTuple):
    """One thing that happened to a task, or to a group when ``task`` is a ``Tasks``.

    ``data`` is ``(done, total)`` for PROGRESS, ``(stream_name, text)`` for OUTPUT, the
    failed attempt's ``AttemptError`` for RETRY, else None.
    A named tuple: three are made per task run, and a frozen dataclass cost 3.5x as much.
    """

    kind: EventKind
    """What happened."""
    task: Task | Tasks
    """To which task, or group."""
    data: Any = None
    """``(done, total)`` for PROGRESS, ``(stream_name, text)`` for OUTPUT, an ``AttemptError``
    for RETRY, else None."""


Listener = Callable[[TaskEvent], None]


_ALL_KINDS = frozenset(EventKind)


class Listeners:
    """A copy-on-write set of callbacks, each for some kinds of event; a raising callback is
    reported once and kept. ``wanted`` lets the emitter skip making events nobody takes."""

    __slots__ = ("_items", "_reported", "wanted")

    def __init__(self) -> None:
        self._items: tuple[tuple[Listener, frozenset[EventKind]], ...] = ()
        self._reported: set[int] = set()
        self.wanted: frozenset[EventKind] = frozenset()

    def __bool__(self) -> bool:
        return bool(self._items)

    def add(
        self, listener: Listener, kinds: Iterable[EventKind] | None = None
    ) -> Callable[[], None]:
        if not callable(listener):
            raise TypeError(f"subscribe() needs a callable, got {type(listener).__name__}")
        wanted = _ALL_KINDS if kinds is None else _check_kinds(kinds)
        self._set((*self._items, (listener, wanted)))

        def unsubscribe() -> None:
            self._set(tuple(item for item in self._items if item[0] is not listener))

        return unsubscribe

    def _set(self, items: tuple[tuple[Listener, frozenset[EventKind]], ...]) -> None:
        self._items = items
        self.wanted = frozenset().union(*(kinds for _, kinds in items))

    def emit(self, event: TaskEvent) -> None:
        for listener, kinds in self._items:
            if event.kind not in kinds:
                continue
            try:
                listener(event)
            except Exception:
                if id(listener) not in self._reported:
                    self._reported.add(id(listener))
                    _log.exception(
                        "backgrounder: listener %r failed; its later errors are silenced", listener
                    )


def _check_kinds(kinds: object) -> frozenset[EventKind]:
    """The kinds a listener wants: one kind (``"started"``) or an iterable of kinds."""
    if isinstance(kinds, str):  # an EventKind is a str too: one kind, not its letters
        kinds = (kinds,)
    try:
        items = list(kinds)  # type: ignore[call-overload]
    except TypeError:
        items = [kinds]
    wanted = []
    for kind in items:
        try:
            wanted.append(EventKind(kind))
        except ValueError:
            names = ", ".join(k.value for k in EventKind)
            raise ValueError(
                f"subscribe() kinds are EventKind values ({names}), got {safe_repr(kind)}"
            ) from None
    return frozenset(wanted)


global_listeners = Listeners()


def subscribe(listener: Listener, kinds: Iterable[EventKind] | None = None) -> Callable[[], None]:
    """Call ``listener(event)`` for every event (or those of ``kinds``) of every task.

    Returns the unsubscribe function. Naming the kinds you need is cheaper: an event nobody
    wants is never made (a group of 10,000 tasks makes 30,000).
    """
    return global_listeners.add(listener, kinds)
