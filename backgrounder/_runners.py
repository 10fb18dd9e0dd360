"""How a list of tasks is executed: an asyncio fast path and a generic anyio path (trio).

Both run tasks concurrently up to ``limit`` (``limit=1`` plus ``fail_fast`` is the sequential
mode), apply per-task and whole-run timeouts, and cancel what is left when asked, when a task
fails under ``fail_fast``, or when the awaiting coroutine is cancelled (Interrupt in a kernel).

The asyncio path does not spawn an anyio task and a ``to_thread`` call per task: an asyncio
task per async callable, a job on the daemon worker threads per sync one, and a single wake-up
of the awaiting coroutine when the last task finishes.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
import sys
import threading
from collections import deque
from collections.abc import Callable, Sequence
from functools import partial
from typing import TYPE_CHECKING, Any

import anyio
import anyio.lowlevel

from ._hops import call_in_loop, call_in_token, post_to_token, running_loop
from ._state import TaskState
from ._task import Run, Task
from ._threads import worker_threads
from .executors._submit import submit_to_executor

if TYPE_CHECKING:
    from ._group import Tasks

__all__ = [
    "CANCEL_GRACE",
    "AnyioRunner",
    "AsyncioRunner",
    "Runner",
    "check_tasks",
    "make_runner",
]

# How long a cancelled run waits for its async tasks to unwind (their `finally` blocks)
# before it gives up on the ones that ignore cancellation.
CANCEL_GRACE = 5.0
_log = logging.getLogger("backgrounder")


class Runner:
    """One execution of a list of tasks; ``cancel()`` may be called from any thread.

    The runner owns each task's ``Run`` record for the run (its canceller, its limit slot,
    its timeout); the task owns its state and ends the run itself, then calls back
    ``_child_finished``, from whatever thread ended it, and ``_release`` once the run has
    ended and its body stopped. A limit slot is freed only then: a sync body cancelled or
    timed out still runs in its thread, and ``limit`` bounds the bodies running at once.
    """

    def __init__(
        self,
        tasks: Sequence[Task],
        group: Tasks | None = None,
        *,
        limit: int | None = None,
        task_timeout: float | None = None,
        timeout: float | None = None,
        fail_fast: bool = False,
        stop_on_cancel: bool = False,
    ) -> None:
        self.tasks = tasks
        self.group = group
        self.limit = limit
        self.task_timeout = task_timeout
        self.timeout = timeout
        self.fail_fast = fail_fast
        self.stop_on_cancel = stop_on_cancel
        # a map's inputs not read yet: the run pulls a task from them whenever room frees
        # (its tasks join ``group.tasks``, the list ``tasks`` is then)
        self.feed = group._feed if group is not None else None
        self._more = self.feed is not None  # the feed may still make tasks
        self._callbacks: tuple[
            Callable[[Task, Run, bool], None],
            Callable[[Task, Run], None],
            Callable[[Task, Run], None] | None,
        ]
        self._checked = False
        self.cancelled = False
        self.timed_out = False

    async def run(self) -> None:
        """Run the tasks to their ends (or until cancelled)."""
        # A sync task running a group in its worker thread (asyncio.run(group()), nested
        # groups) waits meanwhile: its thread must not hold a place that the group's own sync
        # tasks need, or nested groups deadlock once every thread waits (Dask's secede).
        seceded = worker_threads.in_worker()
        if seceded:  # raises here, before any task is touched, if no thread may be added
            worker_threads.secede(self.group.name if self.group is not None else "a task")
        try:
            await self._run()
        finally:
            if seceded:
                worker_threads.rejoin()

    async def _run(self) -> None:
        raise NotImplementedError

    def cancel(self) -> None:
        self.cancelled = True  # from here on nothing new starts (nor is read from the feed)
        for task in self.tasks:  # pending first, so none of them slips into a freed slot
            if task.state is TaskState.PENDING:
                task.cancel()
        for task in self.tasks:
            task.cancel()

    def _expire(self) -> None:
        """The run's deadline is acted on: a timeout only if some task has not ended.

        A loop blocked past the deadline (a blocking cell) acts on it late: sync tasks that
        ended in their threads meanwhile ended in time, and keep their outcome.
        """
        if not self._more and all(task.state.finished for task in self.tasks):
            return
        self.timed_out = True
        self.cancel()

    def check(self) -> None:
        """Raise unless every task can run now: none twice, none held by another run."""
        check_tasks(self.tasks)
        self._checked = True

    def _prepare(
        self,
        on_finish: Callable[[Task, Run, bool], None],
        on_release: Callable[[Task, Run], None],
    ) -> None:
        if not self._checked:
            self.check()  # all or nothing: check before touching any task
        # an async task holds no thread and, without a limit, no slot: nothing to release
        # (a call saved per task: 10,000 no-op tasks, benchmarks/overhead.py)
        loop_release = on_release if self.limit is not None else None
        self._callbacks = (on_finish, on_release, loop_release)
        default = self.task_timeout
        for task in self.tasks:  # as _run_for does, inline: a call saved per task
            timeout = task.timeout if task.timeout is not None else default
            release = loop_release if task.on_loop else on_release
            task._prepare(self.group, Run(on_finish, timeout, release))

    def _run_for(self, task: Task) -> Run:
        """The runner's hold on ``task`` for this run (its timeout, who is told of its end)."""
        on_finish, on_release, loop_release = self._callbacks
        timeout = task.timeout if task.timeout is not None else self.task_timeout
        return Run(on_finish, timeout, loop_release if task.on_loop else on_release)

    def _pull(self) -> Task | None:
        """The feed's next task (the caller lets one thread at a time in); None: no more."""
        assert self.feed is not None and self.group is not None
        task = self.feed.pull(self.group)
        if task is None:
            self._more = False
        return task

    def _feed_done(self) -> None:
        """Nothing more comes from the feed: if its inputs raised, fail_fast stops the run."""
        if self.feed is not None and self.feed.error is not None and self.fail_fast:
            self.cancel()

    def _take(self, task: Task, slot: bool) -> Run | None:
        """Queue a task just pulled from the feed (it joined ``tasks``) as ``_prepare`` queued
        the others; None if the run was cancelled meanwhile (the task is then cancelled too)."""
        run = self._run_for(task)
        run.slot = slot
        task._prepare(self.group, run)
        if self.cancelled:  # cancel() may have gone through the tasks before this one joined
            task.cancel()
            return None
        return run

    def _close_feed(self) -> None:
        if self.feed is not None:
            self._more = False
            self.feed.close()

    def _note_abandoned(self, task: Task, run: Run, body_running: bool) -> None:
        """A run ended while its body runs on in one of the library's threads: that thread
        no longer counts against the pool, so it cannot starve new work (see _threads)."""
        if body_running and task.executor is None and not task.on_loop:
            run.abandoned = True
            worker_threads.abandon()

    @staticmethod
    def _reclaim(run: Run) -> None:
        if run.abandoned:
            run.abandoned = False
            worker_threads.reclaim()

    def _cancel_early(self) -> None:
        """Cancel the members cancelled while the group's start was pending (see Task.cancel)."""
        group = self.group
        early = group._take_early_cancels() if group is not None else None
        if early:
            for task in self.tasks:
                if task.id in early:
                    task.cancel()

    def _should_stop(self, task: Task) -> bool:
        """Whether ``task`` ending this way cancels the rest of the run."""
        state = task.state
        return (
            (state is TaskState.FAILED and self.fail_fast)
            or (state is TaskState.CANCELLED and self.stop_on_cancel)
        ) and not self.cancelled


def check_tasks(tasks: Sequence[Task]) -> None:
    """Raise unless every task can run now: none twice, none held by another run."""
    if len(tasks) > 1 and len(set(map(id, tasks))) != len(tasks):
        twice = next(t for i, t in enumerate(tasks) if any(u is t for u in tasks[:i]))
        raise ValueError(f"{twice!r} appears twice in one run; make a second Task instead")
    for task in tasks:
        task._check_startable()


class AsyncioRunner(Runner):
    """The asyncio fast path: an asyncio task per async callable, a job on the daemon worker
    threads per sync one, and one wake-up of the awaiting coroutine when the last ends.

    Threads: ``run`` and the async tasks run on the loop's thread; ``_child_finished``,
    ``_release`` and ``_fill`` also run on worker threads (a sync body ending starts the next
    one there). ``_lock`` guards the queue of pending tasks, the counts (``_remaining``,
    ``_active``) and the slots; timers and the asyncio tasks are touched only on the loop's
    thread.
    """

    def __init__(self, tasks: Sequence[Task], group: Tasks | None = None, **options: Any) -> None:
        super().__init__(tasks, group, **options)
        self._loop = asyncio.get_running_loop()
        self._thread = threading.get_ident()
        self._context = contextvars.copy_context()
        self._lock = threading.Lock()
        self._pending: deque[Task] = deque()
        self._remaining = 0
        self._active = 0
        self._done: asyncio.Future[None] | None = None
        self._aio_tasks: dict[asyncio.Task[None], asyncio.TimerHandle | None] = {}
        self._sync_timers: dict[Task, asyncio.TimerHandle] = {}
        self._runs: dict[Task, Run] = {}  # this run's records, for the slots and the timers

    async def _run(self) -> None:
        self._prepare(self._child_finished, self._release)
        self._runs = {task: task._run for task in self.tasks if task._run is not None}
        self._pending.extend(self.tasks)
        self._remaining = len(self.tasks)
        if not self._remaining and not self._more:
            return
        self._done = self._loop.create_future()
        timer = self._loop.call_later(self.timeout, self._expire) if self.timeout else None
        try:
            self._cancel_early()
            self._fill()
            if self._remaining or self._more:
                await self._done
        except asyncio.CancelledError:
            self.cancel()
            await self._drain()
            raise
        finally:
            if timer is not None:
                timer.cancel()
            self._close_feed()

    async def _drain(self) -> None:
        if self._remaining:
            self._done = self._loop.create_future()
            await asyncio.wait([self._done], timeout=CANCEL_GRACE)

    def _fill(self) -> None:
        """Start pending tasks while the limit allows (from the loop or a worker thread);
        once none is pending, pull the next ones from the feed (a map's inputs)."""
        limit = self.limit
        while True:
            pulled = None
            with self._lock:
                if self.cancelled or (limit is not None and self._active >= limit):
                    return
                if self._pending:
                    task = self._pending.popleft()
                    held = self._runs.pop(task, None)  # popped: a finished task is not kept
                    if held is None or task.state is not TaskState.PENDING:
                        continue
                    run = held
                    if limit is not None:
                        run.slot = True
                        self._active += 1
                elif not self._more:
                    return
                else:
                    pulled = self._pull()  # under the lock: one thread reads the inputs
                    if pulled is None:
                        ended = not self._remaining
                        break
                    self._remaining += 1
                    if limit is not None:
                        self._active += 1
            if pulled is None:
                self._start(task, run)
                continue
            taken = self._take(pulled, limit is not None)
            if taken is None:
                return
            self._start(pulled, taken)
        self._feed_done()
        if ended:
            self._call_soon(self._wake)

    def _start(self, task: Task, run: Run) -> None:
        if task.on_loop:
            if threading.get_ident() == self._thread:
                self._start_async(task, run)
            else:
                self._call_soon(partial(self._start_async, task, run))
            return
        if run.timeout is not None:
            self._call_soon(partial(self._arm, task, run.timeout))
        if task.executor is not None:
            submit_to_executor(task, run, self._context.copy())
        else:
            worker_threads.submit(partial(self._context.copy().run, task._run_sync))

    def _start_async(self, task: Task, run: Run) -> None:
        if task.state is not TaskState.PENDING:
            return
        # In the run's context, not the caller's: a slot freed by an ending task starts the
        # next one from inside that task's context, which would leak its ContextVars (and
        # its chain of enclosing tasks, one more per task: 114 us/task at 100,000 in a map
        # with limit=8, 41 at 20,000) into the next.
        coro = task._run_async(asyncio.CancelledError)
        if sys.version_info >= (3, 11):
            aio_task = self._loop.create_task(coro, context=self._context.copy())
        else:  # pragma: no cover - Python 3.10
            aio_task = self._context.copy().run(self._loop.create_task, coro)
        # While it runs, ``run.canceller`` holds the asyncio task strongly (asyncio only
        # holds it weakly). Only a timer needs a done callback: one per task costs 15% of a
        # group of no-op tasks (3.0x -> 2.6x asyncio.gather, benchmarks/overhead.py).
        run.canceller = partial(self._cancel_async, task, aio_task)
        if run.timeout is not None:
            self._keep(aio_task, self._loop.call_later(run.timeout, task._expire))

    def _keep(self, aio_task: asyncio.Task[None], timer: asyncio.TimerHandle | None) -> None:
        """Hold ``aio_task`` (and its timer) until it is done."""
        self._aio_tasks[aio_task] = timer
        aio_task.add_done_callback(self._async_done)

    def _cancel_async(self, task: Task, aio_task: asyncio.Task[None]) -> None:
        """Cancel a running async task (any thread); give up on it after ``CANCEL_GRACE``."""
        if self._loop.is_closed() or not self._call_soon(
            partial(self._cancel_on_loop, task, aio_task)
        ):  # nothing will ever run it again: it ends here
            task._finish_cancelled()

    def _cancel_on_loop(self, task: Task, aio_task: asyncio.Task[None]) -> None:
        aio_task.cancel()
        self._loop.call_later(CANCEL_GRACE, self._give_up, task, aio_task, task._t_start)

    def _give_up(self, task: Task, aio_task: asyncio.Task[None], run: float | None) -> None:
        """A coroutine that swallows CancelledError must not hold its run (or exit) forever:
        asyncio cancels once, not again at each ``await`` as trio does."""
        if aio_task.done() or task._t_start is not run or task.state.finished:
            return
        _log.warning(
            "backgrounder: %s ignored cancellation for %s s; it is marked %s, "
            "but its coroutine still runs",
            task.name,
            CANCEL_GRACE,
            "failed (timeout)" if task._timed_out else "cancelled",
        )
        if aio_task not in self._aio_tasks:
            self._keep(aio_task, None)  # ending the task drops its canceller's reference
        task._finish_cancelled()

    def _async_done(self, aio_task: asyncio.Task[None]) -> None:
        timer = self._aio_tasks.pop(aio_task, None)
        if timer is not None:
            timer.cancel()

    def _arm(self, task: Task, timeout: float) -> None:
        """Start a sync task's timeout (on the loop), unless it already ended."""
        if not task.state.finished:
            self._sync_timers[task] = self._loop.call_later(timeout, task._expire)

    def _disarm(self, task: Task) -> None:
        timer = self._sync_timers.pop(task, None)
        if timer is not None:
            timer.cancel()

    def _child_finished(self, task: Task, run: Run, body_running: bool) -> None:
        if body_running:
            self._note_abandoned(task, run, body_running)
        with self._lock:
            self._remaining -= 1
            last = self._remaining == 0 and not self._more
        if self._should_stop(task):
            self.cancel()
        if run.timeout is not None and not task.on_loop:
            self._call_soon(partial(self._disarm, task))
        if last:
            self._call_soon(self._wake)

    def _release(self, task: Task, run: Run) -> None:
        """The run ended and its body stopped: free its slot and start the next task."""
        if run.abandoned:
            self._reclaim(run)
        if self.limit is None:
            # without a limit the first _fill() starts them all: worker threads helping it
            # only fight over the lock (sync time per task grew 2x from 1,000 to 100,000)
            return
        with self._lock:
            if not run.slot:
                return
            run.slot = False
            self._active -= 1
        if self._pending or self._more:
            self._fill()

    def cancel(self) -> None:
        super().cancel()
        if self._more:  # no more is read: the run ends when the tasks it made do
            with self._lock:
                self._more = False
                ended = not self._remaining
            if ended:
                self._call_soon(self._wake)

    def _wake(self) -> None:
        done = self._done
        if done is not None and not done.done():
            done.set_result(None)

    def _call_soon(self, callback: Callable[[], object]) -> bool:
        return call_in_loop(self._loop, callback, thread=self._thread)


class AnyioRunner(Runner):
    """The same semantics on any anyio backend, through task groups and cancel scopes.

    Everything runs on the event loop's thread but ``_child_finished`` and ``_release``,
    which hand their part to it; the limit's slots (``_active``) are counted there.
    """

    def __init__(self, tasks: Sequence[Task], group: Tasks | None = None, **options: Any) -> None:
        super().__init__(tasks, group, **options)
        self._token = anyio.lowlevel.current_token()
        self._thread = threading.get_ident()
        self._wakers: dict[int, anyio.Event] = {}
        self._active = 0
        self._slot_freed: anyio.Event | None = None

    async def _run(self) -> None:
        self._prepare(self._child_finished, self._release)
        self._cancel_early()
        if self.timeout is None:
            await self._run_all()
            return
        # A watcher, not a cancel scope's deadline: at the deadline, only what has not ended
        # is cut short (a scope would also cancel the waits for tasks that ended in time).
        async with anyio.create_task_group() as watching:
            watching.start_soon(self._watch, anyio.current_time() + self.timeout)
            try:
                await self._run_all()
            finally:
                watching.cancel_scope.cancel()

    async def _watch(self, deadline: float) -> None:
        await anyio.sleep_until(deadline)
        self._expire()

    async def _run_all(self) -> None:
        limit = self.limit
        tasks = self.tasks if self.feed is None else list(self.tasks)  # the feed's join it
        index = 0
        try:
            async with anyio.create_task_group() as tg:
                while True:
                    if limit is not None:
                        while self._active >= limit and not self.cancelled:
                            self._slot_freed = anyio.Event()
                            await self._slot_freed.wait()
                    if self.cancelled:
                        break  # cancel() ended every task not started yet
                    if index < len(tasks):
                        task = tasks[index]
                        index += 1
                    elif self._more:
                        pulled = self._next_pulled()
                        if pulled is None:
                            break
                        task = pulled
                    else:
                        break
                    run = task._run
                    if run is None or task.state is not TaskState.PENDING:
                        continue
                    if limit is not None:
                        run.slot = True
                        self._active += 1
                    tg.start_soon(self._one, task, run)
        finally:
            self._close_feed()
            if not all(task.state.finished for task in self.tasks):
                self.cancel()  # the awaiting coroutine was cancelled: none may stay pending

    def _next_pulled(self) -> Task | None:
        """The feed's next task, queued; None once it is done (its error may stop the run)."""
        task = self._pull()
        if task is None:
            self._feed_done()
            return None
        self._take(task, False)
        return task

    async def _one(self, task: Task, run: Run) -> None:
        try:
            await self._execute(task, run)
        finally:
            if not task.state.finished:
                task.cancel()

    async def _execute(self, task: Task, run: Run) -> None:
        if task.state is not TaskState.PENDING or self.cancelled:
            return
        cancel_exc = anyio.get_cancelled_exc_class()
        with anyio.CancelScope() as scope:
            run.canceller = partial(self._call_soon, scope.cancel)
            if run.timeout is not None:
                deadline = scope.deadline = anyio.current_time() + run.timeout
                run.deadline_passed = lambda: anyio.current_time() >= deadline
            if task.on_loop:
                await task._run_async(cancel_exc)
                return
            finished = self._wakers[task.id] = anyio.Event()
            context = contextvars.copy_context()
            if task.executor is not None:
                submit_to_executor(task, run, context)  # its canceller stops the future
            else:
                worker_threads.submit(partial(context.run, task._run_sync))
            try:
                await finished.wait()
            except cancel_exc:
                task._finish_cancelled()
                raise
            finally:
                self._wakers.pop(task.id, None)

    def cancel(self) -> None:
        super().cancel()
        self._post(self._wake_slot_waiter)  # nothing more will start: stop waiting

    def _child_finished(self, task: Task, run: Run, body_running: bool) -> None:
        if body_running:
            self._note_abandoned(task, run, body_running)
        if self._should_stop(task):
            self.cancel()
        waker = self._wakers.pop(task.id, None)
        if waker is not None:
            self._call_soon(waker.set)

    def _release(self, task: Task, run: Run) -> None:
        if run.abandoned:
            self._reclaim(run)
        if self.limit is not None:  # run.slot is read on the loop: it is written there
            self._post(partial(self._free_slot, run))

    def _free_slot(self, run: Run) -> None:
        if run.slot:
            run.slot = False
            self._active -= 1
            self._wake_slot_waiter()

    def _wake_slot_waiter(self) -> None:
        waiter = self._slot_freed
        if waiter is not None:
            waiter.set()

    def _call_soon(self, callback: Callable[[], object]) -> bool:
        return call_in_token(self._token, callback, thread=self._thread)

    def _post(self, callback: Callable[[], object]) -> None:
        """Run ``callback`` on the loop without waiting for it: a body may end after the run,
        while the loop's thread blocks on that very thread (``pool.shutdown(wait=True)``)."""
        post_to_token(self._token, callback, thread=self._thread)


def make_runner(tasks: Sequence[Task], group: Tasks | None = None, **options: Any) -> Runner:
    """The runner for the running event loop: the asyncio fast path, else anyio's."""
    if running_loop() is not None:
        return AsyncioRunner(tasks, group, **options)
    return AnyioRunner(tasks, group, **options)
