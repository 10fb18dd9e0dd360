"""``Tasks``: a group of tasks run one after another or concurrently, with one outcome."""

from __future__ import annotations

import asyncio
import itertools
import threading
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable, Iterator
from datetime import datetime
from typing import TYPE_CHECKING, Any, ParamSpec

from ._completed import Completed
from ._errors import BaseExceptionGroup, TaskCancelled
from ._events import EventKind, Listener, Listeners, TaskEvent, global_listeners
from ._map import Feed, make_feed
from ._retry import check_retries, check_retry_delay, check_retry_on
from ._runners import Runner, check_tasks, make_runner
from ._state import TaskState
from ._task import _WALL_OFFSET, Task
from ._validate import (
    callable_name,
    check_executor,
    check_flag,
    check_name,
    check_positive_int,
    check_timeout,
    safe_repr,
)
from .executors._submit import apply_group_executor

if TYPE_CHECKING:
    from concurrent.futures import Executor

    from ._handle import Handle

__all__ = ["Tasks"]

P = ParamSpec("P")
_ids = itertools.count(1)


class Tasks:
    """Tasks run by ``await tasks()``: in order by default, concurrently with ``as_group=True``.

    In order, the first task that fails (or is cancelled) stops the rest, which end
    cancelled; a failure is raised as is. As a group, every task runs to its end and the
    failures are raised together in an ``ExceptionGroup``; ``fail_fast=True`` cancels the rest
    at the first failure instead. If nothing failed but a task was cancelled, ``await`` raises
    ``TaskCancelled`` (the other results stay in ``results``). ``limit`` caps how many run at
    once, ``task_timeout`` bounds each task and ``timeout`` the whole run. ``executor`` runs
    the sync tasks that have none of their own there (see ``backgrounder.executors``).
    ``retries``, ``retry_on`` and ``retry_delay`` are the members' defaults for the options
    of the same names (see ``Task.options``).
    ``await tasks()`` returns the results in the order the tasks were added.
    """

    _feed: Feed | None = None  # the inputs a map has not read yet (see ``map``)

    def __init__(
        self,
        tasks: Iterable[Task] | None = None,
        as_group: bool = False,
        *,
        limit: int | None = None,
        timeout: float | None = None,
        task_timeout: float | None = None,
        fail_fast: bool = False,
        name: str | None = None,
        executor: Executor | None = None,
        retries: int | None = None,
        retry_on: type[Exception] | tuple[type[Exception], ...] | None = None,
        retry_delay: float | None = None,
    ) -> None:
        __tracebackhide__ = True
        items = list(tasks) if tasks is not None else []
        for item in items:
            if not isinstance(item, Task):
                raise TypeError(
                    f"Tasks() takes Task objects, got {type(item).__name__} {safe_repr(item)}; "
                    f"use Task(func, *args) or tasks.add_task(func, *args)"
                )
        if limit is not None:
            check_positive_int(limit, "limit")
        if name is not None:
            check_name(name)
        self.timeout = None if timeout is None else check_timeout(timeout)
        """Seconds the whole run may take; then what has not ended is cancelled (TimeoutError)."""
        self.task_timeout = None if task_timeout is None else check_timeout(task_timeout)
        """Seconds each task may take, unless it has a timeout of its own."""
        if executor is not None:
            check_executor(executor, name or "Tasks")
        self.executor = executor
        """Where sync tasks without an executor of their own run (None: the library threads)."""
        self.retries = None if retries is None else check_retries(retries)
        """How many times a member without ``retries`` of its own is tried again; None: 0."""
        self.retry_on = None if retry_on is None else check_retry_on(retry_on)
        """The exceptions retried for members without their own; None: ``Exception``."""
        self.retry_delay = None if retry_delay is None else check_retry_delay(retry_delay)
        """Seconds before a member's first retry, unless it has its own; None: 1 s."""
        self.tasks: list[Task] = items
        """The tasks, in the order they were added (and their results are returned in)."""
        self.as_group = check_flag(as_group, "as_group")
        """True: run concurrently, failures raised together; False: one after another."""
        self.limit = limit
        """How many tasks run at once at most (a group); None: no limit."""
        self.fail_fast = check_flag(fail_fast, "fail_fast")
        """True: a group cancels the rest at its first failure."""
        self.id = next(_ids)
        """A number unique in this process."""
        self.name = name or f"Tasks #{self.id}"
        """Shown in the table's header and in error messages."""
        self._listeners = Listeners()
        # Guards the run's begin and end (state, runner, times) and the early cancels: a
        # member can be cancelled from any thread while the run begins or ends.
        self._lock = threading.Lock()
        self._runner: Runner | None = None
        self._starting: Handle | None = None  # set by start() until the run begins
        self._cancelled_early: set[int] = set()  # ids of members cancelled meanwhile
        self._state = TaskState.PENDING
        self._t_start: float | None = None
        self._t_end: float | None = None
        self._exception: BaseException | None = None

    @classmethod
    def map(
        cls,
        func: Callable[[Any], Awaitable[Any]] | Callable[[Any], Any],
        inputs: Iterable[Any],
        *,
        as_group: bool = True,
        limit: int | None = None,
        timeout: float | None = None,
        task_timeout: float | None = None,
        fail_fast: bool = False,
        name: str | None = None,
        executor: Executor | None = None,
        **options: Any,
    ) -> Tasks:
        """A group of ``Task(func, item)`` for each item of ``inputs``; ``await`` returns the
        results in input order.

        With a ``limit`` (or ``as_group=False``: one after another) the inputs are read only
        as room frees up, so a long generator starts at once and at most about ``limit``
        tasks wait ahead of those that ended; until the inputs run out, ``len()`` counts the
        tasks made so far and ``total`` is None (unless ``inputs`` has a length). Without a
        limit every task starts at once: they are all made here. If reading the inputs
        raises, the run raises that error with its own once the started tasks end.
        ``options``: any other option of ``Tasks()``.
        """
        __tracebackhide__ = True
        feed = make_feed(func, inputs)
        group = cls(
            as_group=as_group,
            limit=limit,
            timeout=timeout,
            task_timeout=task_timeout,
            fail_fast=fail_fast,
            name=name or f"map({callable_name(func)})",
            executor=executor,
            **options,
        )
        if limit is not None or not as_group:
            group._feed = feed
            return group
        while feed.pull(group) is not None:
            pass
        if feed.error is not None:
            raise feed.error
        return group

    def add_task(
        self,
        func: Callable[P, Awaitable[Any]] | Callable[P, Any],
        *args: P.args,
        **kwargs: P.kwargs,
    ) -> Task:
        """Append ``Task(func, *args, **kwargs)`` and return it."""
        __tracebackhide__ = True
        return self.add(Task(func, *args, **kwargs))

    def add(self, task: Task) -> Task:
        """Append an existing task and return it."""
        __tracebackhide__ = True
        if not isinstance(task, Task):
            raise TypeError(
                f"add() takes a Task, got {type(task).__name__}; use add_task(func, *args)"
            )
        self._check_idle("add tasks to")
        self.tasks.append(task)
        return task

    def subscribe(
        self, listener: Listener, kinds: Iterable[EventKind] | None = None
    ) -> Callable[[], None]:
        """Call ``listener(event)`` for this group's events (or those of ``kinds``).

        Returns the unsubscribe function.
        """
        return self._listeners.add(listener, kinds)

    # -- what users read -------------------------------------------------------------------

    @property
    def state(self) -> TaskState:
        """The state of the (last) run: running while it runs, then done, failed or cancelled."""
        return self._state

    @property
    def running(self) -> bool:
        """True while a run is under way."""
        return self._runner is not None

    @property
    def exception(self) -> BaseException | None:
        """What the last run raised (an ExceptionGroup, TimeoutError or TaskCancelled)."""
        return self._exception

    @property
    def results(self) -> list[Any]:
        """Each task's result, in order (None for a task that did not finish done)."""
        return [task.result for task in self.tasks]

    @property
    def started_at(self) -> datetime | None:
        """When the last run began (local time), or None."""
        return (
            None if self._t_start is None else datetime.fromtimestamp(self._t_start + _WALL_OFFSET)
        )

    @property
    def elapsed(self) -> float | None:
        """Seconds the last run has taken so far (or in all, once ended); None before it begins."""
        if self._t_start is None:
            return None
        return (self._t_end if self._t_end is not None else time.monotonic()) - self._t_start

    @property
    def total(self) -> int | None:
        """How many tasks a run has in all: ``len()``, but for a map still reading its
        inputs, their length if they have one, else None (not known yet)."""
        feed = self._feed
        if feed is None or feed.done:
            return len(self.tasks)
        return feed.length

    def counts(self) -> dict[TaskState, int]:
        """How many tasks are in each state, every state listed."""
        counted = Counter(task._state for task in self.tasks)
        return {state: counted.get(state, 0) for state in TaskState}

    def __len__(self) -> int:
        return len(self.tasks)

    def __iter__(self) -> Iterator[Task]:
        return iter(self.tasks)

    def __repr__(self) -> str:
        mode = "group" if self.as_group else "sequence"
        return f"<Tasks {self.name!r} {mode} of {len(self.tasks)} {self._state.value}>"

    # -- what users do -----------------------------------------------------------------------

    async def __call__(self) -> list[Any]:
        """Run the tasks and return their results in order; see the class for failures."""
        __tracebackhide__ = True  # IPython and pytest: the traceback starts in the user's code
        self._check_idle("run")
        runner = make_runner(
            self.tasks,
            self,
            limit=self.limit if self.as_group else 1,
            task_timeout=self.task_timeout,
            timeout=self.timeout,
            fail_fast=self.fail_fast or not self.as_group,
            stop_on_cancel=not self.as_group,
        )
        runner.check()  # a task twice, or busy in another run: raise before anything changes
        apply_group_executor(self.tasks, self.executor)
        self._begin(runner)
        try:
            await runner.run()
        except BaseException as exc:  # the awaiting coroutine was cancelled (e.g. Interrupt)
            # or, an Exception: the run could not begin (a worker thread may not wait here)
            self._end(TaskState.FAILED if isinstance(exc, Exception) else TaskState.CANCELLED, exc)
            if isinstance(exc, asyncio.CancelledError):
                self._say_interrupted(exc)
            raise
        failure = self._failure(runner)
        if failure is None:
            self._end(TaskState.DONE, None)
            return self.results
        self._end(
            TaskState.CANCELLED if isinstance(failure, TaskCancelled) else TaskState.FAILED, failure
        )
        raise failure

    def _say_interrupted(self, exc: BaseException, cancelled: int | None = None) -> None:
        """Interrupt (Ctrl-C, the Interrupt button) cancelled the awaiting cell: IPython shows
        one line saying so, not a traceback through asyncio and the runner. The exception
        stays asyncio's own CancelledError (``asyncio.timeout`` tells its own by its type).
        ``cancelled``: how many, when the run has not counted them yet (see as_completed)."""
        if cancelled is None:
            cancelled = self.counts()[TaskState.CANCELLED]
        line = f"{self.name} interrupted: {cancelled} task{'' if cancelled == 1 else 's'} cancelled"
        try:
            exc._render_traceback_ = lambda: [line]  # type: ignore[attr-defined]
            exc.__context__ = None  # IPython shows a whole traceback when a context is set
        except Exception:  # an exception type that takes no attributes: the usual traceback
            pass

    def as_completed(self, *, cancel_on_exit: bool = False) -> Completed:
        """Each task of a run as it ends (done, failed or cancelled), in the order they end.

        ``async for task in tasks.as_completed():`` in async code, ``for`` in a thread with no
        running event loop (the run then goes on the library's loop thread). It starts the
        run, or joins the one under way; after the last task it raises what ``await tasks()``
        would. Leaving the loop early leaves the run going unless ``cancel_on_exit``; the
        iterating code being cancelled (Interrupt) cancels a run it started.
        """
        return Completed(self, cancel_on_exit)

    def start(self, *, thread_loop: bool = False) -> Handle:
        """Start the run in the background and return its handle at once (see ``Task.start``)."""
        from ._handle import start  # a late import: handles build on Tasks

        return start(self, thread_loop=thread_loop)

    def cancel(self) -> bool:
        """Cancel every unfinished task of the current run; False if none is running."""
        starting = self._starting
        if starting is not None:  # started, but its run has not begun
            return starting.cancel()
        runner = self._runner
        if runner is None:
            return False
        runner.cancel()
        return True

    def _check_startable(self) -> None:
        """Raise unless a run could begin now: start() refuses at once, changing nothing."""
        self._check_idle("start")
        if self._starting is not None:
            raise RuntimeError(
                f"cannot start {self.name}: it was already started and its run begins at the "
                f"next turn of its loop; await its handle first"
            )
        check_tasks(self.tasks)

    def _set_starting(self, handle: Handle | None) -> None:
        """``start()`` scheduled a run (``handle``), or the run began (None)."""
        with self._lock:
            self._starting = handle
            if handle is not None:
                self._cancelled_early.clear()
        if handle is not None:
            for task in self.tasks:  # so that cancelling a member finds the group's handle
                task.group = self

    def _cancel_early(self, task: Task) -> bool:
        """A member is cancelled between ``start()`` and the run: the run cancels it first."""
        with self._lock:
            if task.id in self._cancelled_early:
                return False
            self._cancelled_early.add(task.id)
            return True

    def _take_early_cancels(self) -> set[int]:
        with self._lock:
            early, self._cancelled_early = self._cancelled_early, set()
            return early

    def _cancel_unstarted(self) -> None:
        """A handle was cancelled before the run began: show a run whose tasks were cancelled."""
        if self._runner is not None:
            return
        self._begin(None)
        for task in self.tasks:
            task._cancel_unstarted(self)
        self._end(TaskState.CANCELLED, TaskCancelled(f"{self.name} was cancelled"))

    def _abandon(self, reason: str) -> None:
        """Its loop was closed mid-run (see ``Handle``): end the run as cancelled."""
        runner = self._runner
        if runner is None:
            return
        runner.cancel()
        for task in self.tasks:
            task._abandon()
        self._end(TaskState.CANCELLED, TaskCancelled(reason))

    # -- internals -----------------------------------------------------------------------------

    def _check_idle(self, doing: str) -> None:
        if self._runner is not None:
            raise RuntimeError(
                f"cannot {doing} {self.name} while it runs; await it (or its handle) first"
            )

    def _failure(self, runner: Runner) -> BaseException | None:
        counts = self.counts()
        feed = self._feed
        # a map that stopped before reading all its inputs: its total is not known
        total = f"{len(self.tasks)}{'+' if feed is not None and feed.unread else ''}"
        finished = counts[TaskState.DONE]
        failed = [task for task in self.tasks if task._state is TaskState.FAILED]
        errors = [task._exception for task in failed if task._exception is not None]
        if feed is not None and feed.error is not None:  # a map's inputs raised
            if not failed and not runner.timed_out:
                return feed.error
            errors.append(feed.error)
        if runner.timed_out:
            timeout = TimeoutError(
                f"{self.name} timed out after {self.timeout} s, "
                f"with {finished} of {total} tasks done"
                + "".join(
                    f", {counts[state]} {state.value}"
                    for state in (TaskState.FAILED, TaskState.CANCELLED)
                    if counts[state]
                )
            )
            if not errors:
                return timeout
            # the failures travel with the timeout: `except* ValueError` still sees them
            both: BaseException = BaseExceptionGroup(
                f"{len(errors)} of {total} tasks failed in {self.name}, "
                f"and it timed out after {self.timeout} s",
                [*errors, timeout],
            )
            return both
        if errors:
            if not self.as_group:
                first: BaseException = errors[0]
                return first.with_traceback(failed[0]._tb)
            # an ExceptionGroup, unless a task raised a BaseException such as SystemExit
            group: BaseException = BaseExceptionGroup(
                f"{len(failed)} of {total} tasks failed in {self.name}"
                + (", and reading its inputs raised" if len(errors) > len(failed) else ""),
                errors,
            )
            return group
        if runner.cancelled or counts[TaskState.CANCELLED]:
            return TaskCancelled(f"{self.name} was cancelled with {finished} of {total} tasks done")
        return None

    def _begin(self, runner: Runner | None) -> None:
        """The one way a run begins (``runner`` is None for a run cancelled before it began)."""
        with self._lock:
            self._runner = runner
            self._state = TaskState.RUNNING
            self._t_start, self._t_end, self._exception = time.monotonic(), None, None
        self._emit(EventKind.STARTED)

    def _end(self, state: TaskState, exc: BaseException | None) -> None:
        """The one way a run ends."""
        with self._lock:
            self._state, self._exception = state, exc
            self._t_end = time.monotonic()
            self._runner = None
        self._emit(EventKind.FINISHED)

    def _emit(self, kind: EventKind) -> None:
        if global_listeners or self._listeners:
            event = TaskEvent(kind, self)
            global_listeners.emit(event)
            self._listeners.emit(event)
