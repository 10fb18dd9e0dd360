"""``Task``: one callable with its arguments, and the record of its last run."""

from __future__ import annotations

import itertools
import os
import threading
import time
import traceback as tb_module
from collections import deque
from collections.abc import Awaitable, Callable, Generator
from datetime import datetime
from types import TracebackType
from typing import TYPE_CHECKING, Any, ParamSpec

import anyio

from . import _context
from ._errors import TaskCancelled
from ._events import EventKind, TaskEvent, global_listeners
from ._output import OutputBuffer
from ._retry import (
    KEEP_ERRORS,
    AttemptError,
    RetryPolicy,
    add_note,
    attempt_error,
    check_retries,
    check_retry_delay,
    check_retry_on,
)
from ._state import TaskState
from ._validate import (
    call_text,
    check_executor,
    check_name,
    check_task,
    check_timeout,
    no_coroutine,
)

if TYPE_CHECKING:
    from concurrent.futures import Executor

    from ._group import Tasks
    from ._handle import Handle

__all__ = ["Run", "Task"]

P = ParamSpec("P")

_ids = itertools.count(1)
# Every state change of every task goes through this lock: a sync task can finish in its
# worker thread at the moment the loop cancels it or its timeout fires.
_transition = threading.Lock()
# monotonic() for durations, plus this offset to show wall-clock times.
_WALL_OFFSET = time.time() - time.monotonic()
_PACKAGE = os.path.dirname(os.path.abspath(__file__)) + os.sep
_NONE: tuple[None, None, None] = (None, None, None)  # no group: no retry defaults


def _from_user_code(tb: TracebackType | None) -> TracebackType | None:
    """Skip the library's leading frames (the task bodies): tracebacks start in user code."""
    start = tb
    while tb is not None and tb.tb_frame.f_code.co_filename.startswith(_PACKAGE):
        tb = tb.tb_next
    return tb if tb is not None else start


class Run:
    """A runner's hold on a task for one run: written by the runner that owns the run.

    The task reads it to cancel the run (``canceller``), to tell a timeout from a cancel
    (``deadline_passed``, ``timeout``) and to report the run's end (``on_finish``, with
    whether the body still runs: a thread cannot be stopped) and, once the run has ended
    and its body stopped, the end of its hold (``on_release``: a ``limit`` slot is free).
    """

    __slots__ = (
        "abandoned",
        "canceller",
        "deadline_passed",
        "on_finish",
        "on_release",
        "slot",
        "timeout",
    )

    def __init__(
        self,
        on_finish: Callable[[Task, Run, bool], None] | None,
        timeout: float | None,
        on_release: Callable[[Task, Run], None] | None = None,
    ) -> None:
        self.on_finish = on_finish
        self.on_release = on_release
        self.timeout = timeout
        self.canceller: Callable[[], object] | None = None  # stops the running body
        self.deadline_passed: Callable[[], bool] | None = None  # anyio path: past the timeout?
        self.slot = False  # counts against the runner's limit
        self.abandoned = False  # the run ended while its body ran on in a library thread


class Task:
    """A callable and its arguments, run with ``await task()``; sync callables run in a thread.

    After (or during) a run, the task tells its ``state``, ``result``, ``exception``,
    ``traceback``, timing and ``progress``. Library options (name, timeout, executor) are set
    with ``options()``, so every keyword given here goes to ``func``.
    """

    __slots__ = (
        "__weakref__",
        "_attempt",
        "_attempt_errors",
        "_body_run",
        "_cancel_requested",
        "_exception",
        "_name",
        "_output",
        "_progress",
        "_result",
        "_retry_at",
        "_retry_wait",
        "_run",
        "_starting",
        "_state",
        "_t_end",
        "_t_start",
        "_tb",
        "_tb_text",
        "_thread_alive",
        "_timed_out",
        "args",
        "executor",
        "func",
        "group",
        "id",
        "is_async",
        "kwargs",
        "retries",
        "retry_delay",
        "retry_on",
        "timeout",
    )

    def __init__(
        self,
        func: Callable[P, Awaitable[Any]] | Callable[P, Any],
        *args: P.args,
        **kwargs: P.kwargs,
    ) -> None:
        __tracebackhide__ = True
        self.is_async = check_task(func, args, kwargs)
        """True for an ``async def`` callable (run on the loop), False for a sync one (a thread)."""
        self.func = func
        """The callable, as given."""
        self.args = args
        """The positional arguments ``func`` is called with."""
        self.kwargs = kwargs
        """The keyword arguments ``func`` is called with (all of them: none is the library's)."""
        self.id = next(_ids)
        """A number unique in this process, shown in tables and taken by ``%tasks cancel ID``."""
        self.group: Tasks | None = None
        """The ``Tasks`` whose run holds (or last held) this task, if any."""
        self.timeout: float | None = None
        """Seconds each run may take (set by ``options(timeout=...)``); None: no bound."""
        self.executor: Executor | None = None
        """Where a sync callable runs instead of the library threads (options(executor=...))."""
        self.retries: int | None = None
        """How many times a failed run is tried again (options(retries=...)); None: its
        group's ``retries``, else none."""
        self.retry_on: tuple[type[BaseException], ...] | None = None
        """The exception classes that are retried; None: its group's, else ``Exception``."""
        self.retry_delay: float | None = None
        """Seconds before the first retry (then doubling); None: its group's, else 1 s."""
        self._retry_wait: threading.Event | None = None  # a sync body waiting to retry
        self._name: str | None = None
        self._output: OutputBuffer | None = None
        self._starting: Handle | None = None  # set by start() until the run begins
        self._run: Run | None = None  # the runner's hold while a run has it
        self._body_run: Run | None = None  # a run that ended while its body still runs
        self._thread_alive = False
        self._clear()

    @property
    def on_loop(self) -> bool:
        """True if runs await it on the event loop (async, no executor), else it runs in a
        thread or on its executor."""
        return self.is_async and self.executor is None

    def _clear(self) -> None:
        self._state = TaskState.PENDING
        self._result: Any = None
        self._exception: BaseException | None = None
        self._tb: TracebackType | None = None
        self._tb_text: str | None = None
        self._t_start: float | None = None
        self._t_end: float | None = None
        self._progress: tuple[float, float | None] | None = None
        self._cancel_requested = False
        self._timed_out = False
        self._attempt = 0
        self._attempt_errors: deque[AttemptError] | None = None
        self._retry_at: float | None = None

    def options(
        self,
        *,
        name: str | None = None,
        timeout: float | None = None,
        executor: Executor | None = None,
        retries: int | None = None,
        retry_on: type[Exception] | tuple[type[Exception], ...] | None = None,
        retry_delay: float | None = None,
    ) -> Task:
        """Set the library's own options and return the task: ``Task(f, 1).options(timeout=5)``.

        ``timeout`` bounds each run in seconds (all its attempts): past it the task fails
        with ``TimeoutError``. ``executor`` (a ``concurrent.futures.Executor``) runs a sync
        callable there instead of in the library's threads. ``retries`` tries a failed run
        again, up to that many times, when what it raised is an instance of ``retry_on``
        (default ``Exception``), after ``retry_delay`` seconds (default 1), doubling each time.
        """
        __tracebackhide__ = True
        name = None if name is None else check_name(name)
        timeout = None if timeout is None else check_timeout(timeout)
        retries = None if retries is None else check_retries(retries)
        retry_classes = None if retry_on is None else check_retry_on(retry_on)
        retry_delay = None if retry_delay is None else check_retry_delay(retry_delay)
        if executor is not None:
            check_executor(executor, self.name)
            if self.is_async:
                raise TypeError(
                    f"{self.name} is async: executors run sync callables only; "
                    f"it runs on the event loop"
                )
        # all checked: now set (bad input leaves the task as it was)
        if name is not None:
            self._name = name
        if timeout is not None:
            self.timeout = timeout
        if executor is not None:
            self.executor = executor
        if retries is not None:
            self.retries = retries
        if retry_classes is not None:
            self.retry_on = retry_classes
        if retry_delay is not None:
            self.retry_delay = retry_delay
        return self

    # -- what users read -------------------------------------------------------------------

    @property
    def name(self) -> str:
        """The function's name and a short summary of its arguments, unless set by options()."""
        if self._name is None:
            self._name = call_text(self.func, self.args, self.kwargs, limit=60)
        return self._name

    @property
    def state(self) -> TaskState:
        """Where the task is in its (last) run: pending, running, done, failed or cancelled."""
        return self._state

    @property
    def result(self) -> Any:
        """The return value of the last run; None until it is done."""
        return self._result

    @property
    def exception(self) -> BaseException | None:
        """What the last run raised, if it failed (``TimeoutError`` when it timed out)."""
        return self._exception

    @property
    def traceback(self) -> str | None:
        """The formatted traceback of ``exception``, from the user's code on (formatted once)."""
        exc = self._exception
        if exc is None:
            return None
        text = self._tb_text
        if text is None:
            text = "".join(tb_module.format_exception(type(exc), exc, self._tb))
            if self._state.finished:
                self._tb_text = text
        return text

    @property
    def started_at(self) -> datetime | None:
        """When the last run began (local time), or None before it does."""
        return (
            None if self._t_start is None else datetime.fromtimestamp(self._t_start + _WALL_OFFSET)
        )

    @property
    def ended_at(self) -> datetime | None:
        """When the last run ended (local time), or None while it runs."""
        return None if self._t_end is None else datetime.fromtimestamp(self._t_end + _WALL_OFFSET)

    @property
    def elapsed(self) -> float | None:
        """Seconds spent running so far (or in all, once finished); None before it starts."""
        if self._t_start is None:
            return None
        end = self._t_end if self._t_end is not None else time.monotonic()
        return end - self._t_start

    @property
    def progress(self) -> tuple[float, float | None] | None:
        """The last ``(done, total)`` the task reported through ``backgrounder.progress``."""
        return self._progress

    @property
    def attempt(self) -> int:
        """Which attempt the (last) run is on: 1 for the first try, 2 for the first retry;
        0 before it runs."""
        return self._attempt

    @property
    def max_attempts(self) -> int:
        """How many attempts a run may make: 1 plus the retries it allows (the task's own
        ``retries``, else its group's)."""
        policy = self._retry_policy()
        return 1 if policy is None else 1 + policy.retries

    @property
    def attempt_errors(self) -> tuple[AttemptError, ...]:
        """The errors of the (last) run's attempts that were tried again, oldest first
        (the latest 20 at most); the error that ended the run is ``exception``."""
        errors = self._attempt_errors
        if errors is None:
            return ()
        with _transition:  # a worker thread may be appending to it
            return tuple(errors)

    @property
    def next_attempt_at(self) -> datetime | None:
        """While the run waits to try again: when the next attempt begins (local time)."""
        at = self._retry_at
        return None if at is None else datetime.fromtimestamp(at + _WALL_OFFSET)

    @property
    def cancel_requested(self) -> bool:
        """True once the run was asked to stop (what ``cancelled()`` tells the task's own code)."""
        return self._cancel_requested

    @property
    def thread_alive(self) -> bool:
        """True while a sync run's body still executes (in its thread or worker process),
        even after cancel or timeout: with a finished ``state``, the run was cancelled or
        timed out and its body is still running (it holds its ``limit`` slot meanwhile)."""
        return self._thread_alive

    @property
    def output(self) -> str:
        """Text the task printed while output capture was on (the tail, if it was long)."""
        return "" if self._output is None else self._output.text

    @property
    def output_dropped(self) -> int:
        """How many characters of output were dropped to keep ``output`` bounded."""
        return 0 if self._output is None else self._output.dropped

    def __repr__(self) -> str:
        return f"<Task #{self.id} {self.name} {self._state.value}>"

    # -- what users do -----------------------------------------------------------------------

    async def __call__(self) -> Any:
        """Run the task and return its result; raise what it raised.

        Raises ``TaskCancelled`` if ``cancel()`` stopped it, ``TimeoutError`` past its timeout.
        """
        __tracebackhide__ = True  # IPython and pytest: the traceback starts in the user's code
        from ._runners import make_runner  # a late import: the runners build on Task

        await make_runner([self]).run()
        return self._outcome()

    def __await__(self) -> Generator[Any, None, Any]:
        """``await task`` is ``await task()``: the same run (upstream spells it the latter)."""
        return self().__await__()

    def start(self, *, thread_loop: bool = False) -> Handle:
        """Start the task in the background and return its handle at once.

        In a running event loop the work is scheduled on that loop; with none (or with
        ``thread_loop=True``) it runs on the library's own loop in a daemon thread.
        """
        from ._handle import start  # a late import: handles build on Task

        return start(self, thread_loop=thread_loop)

    def cancel(self) -> bool:
        """Ask the task to stop; False if it had already finished.

        Pending: it will not run. Async and running: cancelled at its next ``await``.
        Sync and running: marked cancelled at once and ``cancelled()`` turns True inside it,
        but its thread runs on until the function returns (a thread cannot be killed).
        """
        starting = self._starting
        if starting is not None:  # started, but its run has not begun: the handle knows how
            return starting.cancel()
        group = self.group
        if group is not None and group._starting is not None and not self._busy():
            # its group was started but its run has not begun: the run will cancel it first
            return group._cancel_early(self)
        with _transition:
            state = self._state
            if state.finished:
                return False
            self._cancel_requested = True
        run = self._run
        canceller = run.canceller if run is not None else None
        if state is TaskState.PENDING:
            self._finish(TaskState.CANCELLED)
        elif self.on_loop:  # its coroutine ends cancelled at its next await
            if canceller is not None:
                canceller()
        else:  # a thread cannot be stopped: the run ends now, the body when it returns
            if canceller is not None:
                canceller()
            self._finish(TaskState.CANCELLED)
        return True

    def _abandon(self) -> None:
        """Its loop was closed mid-run (see ``Handle``): end the run as cancelled."""
        self.cancel()
        if not self._state.finished:
            self._finish(TaskState.CANCELLED)

    def _set_starting(self, handle: Handle | None) -> None:
        """``start()`` scheduled a run (``handle``), or the run began (None)."""
        self._starting = handle

    # -- transitions: the only place where state changes ----------------------------------

    def _busy(self) -> bool:
        """True while a run holds the task: queued in a group, or running."""
        return self._state is TaskState.RUNNING or (
            self._run is not None and not self._state.finished
        )

    def _check_startable(self) -> None:
        if self._busy():
            raise RuntimeError(f"{self!r} is already running; wait for it before running it again")
        group = self.group
        if self._starting is not None or (group is not None and group._starting is not None):
            # start() returned, the run has not begun yet: it is as good as running
            raise RuntimeError(
                f"{self!r} was already started (its run begins at the next turn of its loop); "
                f"wait for it before running it again"
            )
        if self._thread_alive:
            raise RuntimeError(
                f"{self!r} still runs in its thread (a thread cannot be stopped); "
                f"wait until its thread_alive is False before running it again"
            )

    def _prepare(self, group: Tasks | None, run: Run | None) -> None:
        """A run takes the task: clear the last run's record and queue it."""
        self._check_startable()
        self._clear()
        self.group = group
        self._run = run
        self._emit(EventKind.QUEUED)

    def _cancel_unstarted(self, group: Tasks | None = None) -> None:
        """A handle was cancelled before its run began: show this run as queued, then cancelled."""
        if self._busy():
            return
        self._prepare(group, None)
        self.cancel()

    def _begin(self, body_here: bool = False) -> bool:
        """PENDING -> RUNNING; False if the run ended (cancelled) before it began.

        ``body_here``: the caller's thread runs the sync body next (``thread_alive``).
        """
        with _transition:
            if self._state is not TaskState.PENDING:
                return False
            self._state = TaskState.RUNNING
            self._t_start = time.monotonic()
            self._attempt = 1
            if body_here:
                self._thread_alive = True
        self._emit(EventKind.STARTED)
        return True

    def _finish(
        self, state: TaskState, result: Any = None, exc: BaseException | None = None
    ) -> bool:
        """End the run in ``state``; False if it had already ended (the first end wins)."""
        with _transition:
            if self._state.finished:
                return False
            run, body_running = self._end(state, result, exc)
        self._emit(EventKind.FINISHED)
        if run is not None:
            self._tell_runner(run, body_running)
        return True

    def _end(
        self, state: TaskState, result: Any, exc: BaseException | None
    ) -> tuple[Run | None, bool]:
        """With ``_transition`` held: record the end; the run and whether its body runs on."""
        self._t_end = time.monotonic()
        if self._t_start is None:
            self._t_start = self._t_end
        self._result = result
        if exc is not None:
            self._exception = exc
            self._tb = _from_user_code(exc.__traceback__)
        self._state = state
        if self._retry_at is not None:  # it was waiting to try again: it waits no more
            self._retry_at = None
            if self._retry_wait is not None:
                self._retry_wait.set()
        run, self._run = self._run, None
        return run, self._thread_alive

    def _tell_runner(self, run: Run, body_running: bool) -> None:
        """After ``_end``, without the lock: the run ended; and, unless its body runs on,
        its hold is released (else the body's end releases it, after this)."""
        if run.on_finish is not None:
            run.on_finish(self, run, body_running)
        if body_running:
            with _transition:
                if self._thread_alive:
                    self._body_run = run
                    return
            # the body returned since the end was recorded (the FINISHED event said it ran
            # on): tell the views, as its own end would have
            self._emit(EventKind.THREAD_ENDED)
        if run.on_release is not None:
            run.on_release(self, run)

    def _finish_cancelled(self) -> None:
        """The body was stopped: by its timeout (failed, TimeoutError) or by a cancel."""
        run = self._run
        deadline_passed = run.deadline_passed if run is not None else None
        expired = self._timed_out or (
            not self._cancel_requested and deadline_passed is not None and deadline_passed()
        )
        self._cancel_requested = True  # a sync body still running sees cancelled() turn True
        if expired:
            timeout = run.timeout if run is not None else self.timeout
            self._finish(
                TaskState.FAILED, exc=TimeoutError(f"{self.name} timed out after {timeout} s")
            )
        else:
            self._finish(TaskState.CANCELLED)

    def _expire(self) -> None:
        """The timeout fired (on the loop): fail the task and ask it to stop."""
        if self._state.finished:
            return
        self._timed_out = True
        self._cancel_requested = True
        run = self._run
        if run is not None and run.canceller is not None:
            run.canceller()
        if not self.on_loop:
            self._finish_cancelled()

    def _set_thread_alive(self, alive: bool) -> bool:
        """A thread (or a worker process) runs the body now, or no longer.

        Starting: False if the run ended first (cancelled meanwhile): the body must not run.
        Ending after its run ended: release the run (its ``limit`` slot) now.
        """
        with _transition:
            if alive:
                if self._state is not TaskState.RUNNING:
                    return False
                self._thread_alive = True
                return True
            self._thread_alive = False
            run, self._body_run = self._body_run, None
        self._released(run)
        return True

    def _released(self, run: Run | None) -> None:
        """The body of ``run``, which had ended (cancel, timeout), returned at last."""
        if run is not None:  # views may now drop "still running in its thread"
            self._emit(EventKind.THREAD_ENDED)
            if run.on_release is not None:
                run.on_release(self, run)

    # -- retries: each attempt that fails and may be retried goes through here -------------

    def _retry_policy(self) -> RetryPolicy | None:
        group = self.group
        return RetryPolicy.resolve(
            self.retries,
            self.retry_on,
            self.retry_delay,
            (group.retries, group.retry_on, group.retry_delay) if group is not None else _NONE,
        )

    def _retry_after(self, exc: BaseException) -> float | None:
        """An attempt failed with ``exc``: the seconds to wait before the next one (the
        error is recorded and RETRY emitted), or None if ``exc`` ends the run."""
        policy = self._retry_policy() if isinstance(exc, Exception) else None
        if policy is None:
            return None
        attempt = self._attempt
        if attempt > policy.retries or not isinstance(exc, policy.retry_on):
            if attempt > 1 and not self._cancel_requested:
                add_note(exc, self._last_note(attempt, policy, exc))
            return None
        record = attempt_error(attempt, exc, _from_user_code(exc.__traceback__))
        delay = policy.wait(attempt)
        with _transition:
            if self._state is not TaskState.RUNNING or self._cancel_requested:
                return None  # cancelled, or timed out, while the attempt ran
            if self._attempt_errors is None:
                self._attempt_errors = deque(maxlen=KEEP_ERRORS)
            self._attempt_errors.append(record)
            self._retry_at = time.monotonic() + delay
        exc.with_traceback(None)  # kept as text: its frames would hold the attempt's locals
        self._emit(EventKind.RETRY, record)
        return delay

    def _last_note(self, attempt: int, policy: RetryPolicy, exc: BaseException) -> str:
        if attempt > policy.retries:
            return f"{self.name} failed on each of its {attempt} attempts (see attempt_errors)"
        kinds = ", ".join(kind.__name__ for kind in policy.retry_on)
        return (
            f"{self.name} failed on attempt {attempt} and was not retried: "
            f"{type(exc).__name__} is not an instance of retry_on ({kinds})"
        )

    def _next_attempt(self) -> bool:
        """The wait is over: begin the next attempt; False if the run ended meanwhile."""
        with _transition:
            if self._state is not TaskState.RUNNING or self._cancel_requested:
                return False
            self._attempt += 1
            self._retry_at = None
            self._progress = None  # the new attempt reports its own
        return True

    def _wait_to_retry(self, delay: float) -> bool:
        """In the sync body's thread: wait ``delay`` seconds, cut short if the run ends
        (a cancel or a timeout sets the event), then begin the next attempt."""
        if delay > 0:
            with _transition:
                if self._retry_at is None:  # the run ended already
                    return False
                wait = self._retry_wait = threading.Event()
            wait.wait(delay)
            with _transition:
                self._retry_wait = None
        return self._next_attempt()

    def _set_progress(self, done: float, total: float | None) -> None:
        self._progress = (done, total)
        self._emit(EventKind.PROGRESS, self._progress)

    def _write_output(self, stream: str, text: str, dropped: int = 0) -> None:
        """Append printed text; ``dropped``: characters cut before it (in a worker process)."""
        if self._output is None:
            self._output = OutputBuffer()
        self._output.append(text, dropped)
        self._emit(EventKind.OUTPUT, (stream, text))

    def _emit(self, kind: EventKind, data: Any = None) -> None:
        group = self.group
        to_all = kind in global_listeners.wanted
        to_group = group is not None and kind in group._listeners.wanted
        if to_all or to_group:
            event = TaskEvent(kind, self, data)
            if to_all:
                global_listeners.emit(event)
            if to_group:
                group._listeners.emit(event)  # type: ignore[union-attr]

    def _outcome(self) -> Any:
        """The result of a finished run, or raise what ended it."""
        __tracebackhide__ = True
        if self._state is TaskState.DONE:
            return self._result
        if self._state is TaskState.FAILED:
            assert self._exception is not None
            raise self._exception.with_traceback(self._tb)
        if self._state is TaskState.CANCELLED:
            raise TaskCancelled(f"{self.name} was cancelled")
        raise RuntimeError(f"{self!r} has not finished")

    # -- the bodies the runners execute ----------------------------------------------------

    async def _run_async(self, cancel_exc: type[BaseException]) -> None:
        __tracebackhide__ = True  # a traceback goes from the awaiting line to the user's code
        if not self._begin():
            return
        _context.enter(self)
        while True:
            try:
                result = await self.func(*self.args, **self.kwargs)
            except cancel_exc:
                self._finish_cancelled()
                raise
            except BaseException as exc:  # KeyboardInterrupt/SystemExit must not kill the loop
                delay = self._retry_after(exc)
                if delay is None:
                    if not self._finish(TaskState.FAILED, exc=exc) and isinstance(
                        exc, GeneratorExit
                    ):
                        raise  # a run that already ended being closed (its loop closed)
                    return
            else:
                self._finish(TaskState.DONE, result)
                return
            try:  # the wait is cancelled like the attempts: by a cancel or the timeout
                await anyio.sleep(delay)
            except cancel_exc:
                self._finish_cancelled()
                raise
            if not self._next_attempt():
                return

    def _run_sync(self) -> None:
        """Run in a worker thread, inside a copy of the starting context."""
        if self._begin(body_here=True):
            self._call_body()

    def _call_in_thread(self) -> None:
        """Call the sync body here (an executor's thread; the run began elsewhere)."""
        if self._set_thread_alive(True):  # not if cancelled before its thread got to it
            self._call_body()

    def _call_body(self) -> None:
        """Call the sync body (``thread_alive`` is set) and end the run with its outcome.

        The body's end and the run's end share one lock: one acquisition per task, as many
        as before ``thread_alive`` was kept exactly (sync overhead, benchmarks/overhead.py).
        """
        __tracebackhide__ = True
        _context.enter(self)
        while True:
            exc: BaseException | None = None
            result: Any = None
            try:
                result = no_coroutine(self.name, self.func(*self.args, **self.kwargs))
            except BaseException as error:
                exc = error
                delay = self._retry_after(error)
                if delay is not None and self._wait_to_retry(delay):
                    continue
            break
        ended: tuple[Run | None, bool] | None = None
        with _transition:
            self._thread_alive = False  # before the end, which wakes whoever waits
            body_run, self._body_run = self._body_run, None
            if not self._cancel_requested and not self._state.finished:
                state = TaskState.DONE if exc is None else TaskState.FAILED
                ended = self._end(state, result, exc)
        self._released(body_run)
        if ended is not None:
            run, body_running = ended
            self._emit(EventKind.FINISHED)
            if run is not None:
                self._tell_runner(run, body_running)
        elif self._cancel_requested:  # cancel() or a timeout is ending it: no outcome kept
            self._finish_cancelled()
