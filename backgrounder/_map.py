"""``Tasks.map``: one task per input, made only when a run has room for it.

With a ``limit`` (or one after another) a run pulls the next input when a slot frees, so a
generator of a million inputs starts at once and at most about ``limit`` tasks wait ahead
of the ones that ended. Without a limit every task starts at once anyway: they are made
up front.
"""

from __future__ import annotations

import inspect
import threading
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

from ._retry import add_note
from ._task import Task
from ._validate import check_task, safe_repr
from .executors._submit import apply_group_executor

if TYPE_CHECKING:
    from ._group import Tasks

__all__ = ["Feed", "inputs_of", "make_feed"]


class Feed:
    """The inputs of a map not read yet; ``pull`` makes the next task (one thread at a time).

    ``length`` is how many inputs there are in all when the iterable tells (a list, a
    range), else None. An iterable that raises ends the feed and keeps the error, which the
    run raises with its own (``error``).
    """

    def __init__(self, func: Callable[..., Any], items: Iterator[Any], length: int | None) -> None:
        self.func = func
        self.length = length
        self.made = 0
        self.done = False  # nothing more will be read: exhausted, failed or closed
        self.unread = False  # closed before the inputs ran out (the run was stopped)
        self.error: BaseException | None = None
        self._items: Iterator[Any] | None = items
        self._lock = threading.Lock()  # a generator must not be resumed by two threads at once

    def pull(self, group: Tasks) -> Task | None:
        """The next input's task, added to ``group.tasks``; None once there is none (or the
        inputs raised)."""
        with self._lock:
            items = self._items
            if items is None:
                return None
            try:
                item = next(items)
            except StopIteration:
                self._items = None
            except BaseException as exc:  # the inputs' own error: the run raises it
                self._items, self.error = None, exc
                add_note(exc, f"raised while reading input {self.made + 1} of {group.name}")
            else:
                self.made += 1
                task = Task(self.func, item)
                apply_group_executor((task,), group.executor)
                group.tasks.append(task)  # under the lock: the tasks keep the inputs' order
                return task
            self.done = True
            return None

    def close(self) -> None:
        """The run ended: read no more; a generator's ``finally`` runs now, not at exit."""
        with self._lock:
            items, self._items = self._items, None
            self.done = True
            self.unread = items is not None
        close = getattr(items, "close", None)
        if close is not None:
            close()


def inputs_of(iterable: object) -> tuple[Iterator[Any], int | None]:
    """An iterator over ``iterable`` and its length if it has one; one-line TypeError if none."""
    if isinstance(iterable, (str, bytes)):
        raise TypeError(
            f"Tasks.map() takes an iterable of inputs, got the {type(iterable).__name__} "
            f"{safe_repr(iterable)}: pass [text] for one input, or list(text) for its characters"
        )
    try:
        items = iter(iterable)  # type: ignore[call-overload]
    except TypeError:
        raise TypeError(
            f"Tasks.map() takes an iterable of inputs, got {type(iterable).__name__} "
            f"{safe_repr(iterable)}"
        ) from None
    length = None
    if items is not iterable:  # a container, not an iterator: its length is its inputs'
        try:
            length = len(iterable)  # type: ignore[arg-type]
        except TypeError:
            pass
    return items, length


def make_feed(func: Any, iterable: object) -> Feed:
    """Check ``func`` (once, as a task of one input) and wrap the inputs; nothing is read."""
    if inspect.iscoroutine(func):
        name = getattr(func, "__qualname__", type(func).__name__)
        func.close()  # it will never run: spare the user a "never awaited" RuntimeWarning
        raise TypeError(
            f"Tasks.map() needs a function, but got the coroutine object {name}(...): did you "
            f"mean Tasks.map({name}, inputs) instead of Tasks.map({name}(...), inputs)?"
        )
    try:
        check_task(func, (None,), {})  # not callable, or it cannot take one input
    except TypeError as exc:
        raise TypeError(f"Tasks.map(): {exc}") from None
    items, length = inputs_of(iterable)
    return Feed(func, items, length)
