"""``Tasks.as_completed()``: the tasks of a run as they end, for ``async for`` and ``for``.

The iterator listens to the group's FINISHED events: every task's comes before the group's
own, so the group's marks the end, after which the iterator raises what the run raised.
It starts the run through ``start()`` (so the run goes on whatever the loop does) or joins
one under way; it holds no reference the group keeps, so dropping it stops listening.
"""

from __future__ import annotations

import asyncio
import threading
from collections import deque
from collections.abc import Callable
from functools import partial
from types import TracebackType
from typing import TYPE_CHECKING

import anyio
import anyio.lowlevel

from ._events import EventKind, TaskEvent
from ._hops import call_in_loop, post_to_token, resolve_soon, running_loop, trio_running
from ._task import Task
from ._threads import worker_threads
from ._validate import check_flag

if TYPE_CHECKING:
    from ._group import Tasks

__all__ = ["Completed"]


class _Inbox:
    """Ended tasks, in the order their events came, then the group itself (the end).

    ``put`` is the group's listener (any thread); one consumer takes, waking at most once
    per wait: a quick run does not cost a hop per task.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._items: deque[Task | Tasks] = deque()
        self._caught: set[int] = set()  # ids of tasks taken by catch_up, whose events may follow
        self._wake: Callable[[], object] | None = None

    def put(self, event: TaskEvent) -> None:
        item = event.task
        with self._lock:
            if self._caught and isinstance(item, Task) and item.id in self._caught:
                self._caught.discard(item.id)
                return
            self._items.append(item)
            wake, self._wake = self._wake, None
        if wake is not None:
            wake()

    def clear(self) -> None:
        with self._lock:
            self._items.clear()
            self._caught.clear()

    def catch_up(self, group: Tasks) -> None:
        """Joining a run under way: its tasks that ended already come first, by end time."""
        begun = group._t_start
        ended = sorted(
            (t for t in list(group.tasks) if t._t_end is not None and begun and t._t_end >= begun),
            key=lambda t: t._t_end or 0.0,
        )
        with self._lock:
            queued = {item.id for item in self._items if isinstance(item, Task)}
            early = [task for task in ended if task.id not in queued]
            self._caught = {task.id for task in early}
            self._items.extendleft(reversed(early))

    def _take(self, wake: Callable[[], object]) -> Task | Tasks | None:
        """The next item, or None after arranging ``wake()`` for when one comes."""
        with self._lock:
            if self._items:
                return self._items.popleft()
            self._wake = wake
            return None

    def _forget_waker(self) -> None:
        with self._lock:
            self._wake = None

    async def get(self) -> Task | Tasks:
        loop, thread = running_loop(), threading.get_ident()
        while True:
            wake: Callable[[], object]
            if loop is not None:
                woken = loop.create_future()
                wake = partial(resolve_soon, loop, woken)
            else:  # trio: set the event from its run (without blocking the thread that ends)
                event = anyio.Event()
                token = anyio.lowlevel.current_token()
                wake = partial(post_to_token, token, event.set, thread=thread)
            item = self._take(wake)
            if item is not None:
                return item
            try:
                await (woken if loop is not None else event.wait())
            except BaseException:
                self._forget_waker()
                raise

    def get_blocking(self, what: str) -> Task | Tasks:
        while True:
            event = threading.Event()
            item = self._take(event.set)
            if item is not None:
                return item
            try:
                # a sync task iterating another group secedes: it must not hold a worker
                # thread that group's sync tasks need (see Handle.result)
                with worker_threads.waiting(what):
                    event.wait()
            except BaseException:
                self._forget_waker()
                raise


class Completed:
    """The tasks of one run of a ``Tasks``, each as it ends; made by ``Tasks.as_completed``.

    ``async for`` in async code; ``for`` in a thread with no running event loop. ``close()``
    (or leaving a ``with`` block, or dropping the iterator) stops listening: the run goes on,
    unless ``cancel_on_exit`` was given.
    """

    def __init__(self, group: Tasks, cancel_on_exit: bool = False) -> None:
        self.group = group
        """The ``Tasks`` whose run is iterated."""
        self.cancel_on_exit = check_flag(cancel_on_exit, "cancel_on_exit")
        """Whether leaving before the end cancels what has not ended."""
        self._inbox = _Inbox()
        self._unsubscribe: Callable[[], None] | None = None
        self._began = self._over = False
        self._owned = False  # this iterator started the run (an interrupt then cancels it)

    # -- async for ---------------------------------------------------------------------------

    def __aiter__(self) -> Completed:
        return self

    async def __anext__(self) -> Task:
        __tracebackhide__ = True  # IPython and pytest: the traceback starts in the user's code
        if self._over:
            raise StopAsyncIteration
        if not self._began:
            self._begin(thread_loop=False)
        try:
            item = await self._inbox.get()
        except BaseException as exc:  # the iterating code was cancelled (Interrupt)
            self._interrupted(exc)
            raise
        if isinstance(item, Task):
            return item
        self._end()
        raise StopAsyncIteration

    # -- for -----------------------------------------------------------------------------------

    def __iter__(self) -> Completed:
        self._check_sync()
        return self

    def __next__(self) -> Task:
        __tracebackhide__ = True
        if self._over:
            raise StopIteration
        if not self._began:
            self._check_sync()
            self._begin(thread_loop=True)
        try:
            item = self._inbox.get_blocking(self.group.name)
        except BaseException as exc:  # Ctrl-C in a script
            self._interrupted(exc)
            raise
        if isinstance(item, Task):
            return item
        self._end()
        raise StopIteration

    # -- leaving early -------------------------------------------------------------------------

    def close(self) -> None:
        """Stop iterating; the run goes on (its table stays live) unless ``cancel_on_exit``."""
        self._close(self.group.cancel)

    def _close(self, cancel: Callable[[], object]) -> None:
        if self._over:
            return
        self._over = True
        self._stop_listening()
        if self._began and self.cancel_on_exit:
            cancel()

    def __enter__(self) -> Completed:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    async def __aenter__(self) -> Completed:
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def __del__(self) -> None:
        # `break` out of `for task in tasks.as_completed(cancel_on_exit=True)` drops the
        # iterator at once (CPython frees it by reference counting): that is the exit.
        # The cancel is handed to the run's loop: a cyclic collection may run this in any
        # thread, even one holding the runner's lock, which cancelling takes.
        try:
            self._close(self._cancel_soon)
        except Exception:  # at interpreter exit, or a loop already closed
            pass

    def __repr__(self) -> str:
        return f"<as_completed of {self.group.name!r}>"

    # -- internals -----------------------------------------------------------------------------

    def _check_sync(self) -> None:
        if running_loop() is not None or trio_running():
            raise RuntimeError(
                f"cannot iterate {self.group.name}.as_completed() with `for` here: this thread "
                f"runs an event loop, which waiting would block; use `async for`"
            )

    def _begin(self, thread_loop: bool) -> None:
        """Listen, then start the run, or join the run under way (or about to begin)."""
        group = self.group
        self._unsubscribe = group.subscribe(self._inbox.put, (EventKind.FINISHED,))
        try:
            if group.running:
                self._inbox.catch_up(group)
            elif group._starting is None:
                self._inbox.clear()  # a run that ended before we looked: not ours
                group.start(thread_loop=thread_loop)
                self._owned = True
        except BaseException:
            self._stop_listening()
            self._over = True
            raise
        self._began = True

    def _end(self) -> None:
        """The group's run ended: raise what ``await tasks()`` would have, or stop."""
        __tracebackhide__ = True
        self._over = True
        self._stop_listening()
        exc = self.group.exception
        if exc is not None:
            raise exc

    def _interrupted(self, exc: BaseException) -> None:
        self._over = True
        self._stop_listening()
        if self._owned or self.cancel_on_exit:
            group = self.group
            # counted now: the cancelled coroutines end at their next turn, after this line
            unfinished = sum(not task.state.finished for task in list(group.tasks))
            if group.cancel() and isinstance(exc, asyncio.CancelledError):
                group._say_interrupted(exc, unfinished)

    def _cancel_soon(self) -> None:
        loop = getattr(self.group._runner, "_loop", None)  # an asyncio run's
        if loop is None or not call_in_loop(loop, self.group.cancel):
            self.group.cancel()  # a trio run's (it takes no lock), or no run any more

    def _stop_listening(self) -> None:
        unsubscribe, self._unsubscribe = self._unsubscribe, None
        if unsubscribe is not None:
            unsubscribe()
