"""The worker threads that run sync tasks.

Daemon threads, unlike ``ThreadPoolExecutor``'s and anyio's: a function that never returns
must not keep a script or a kernel from exiting. Jobs are queued on a ``SimpleQueue`` (C,
lock-free for our purposes) so a group of thousands of tiny functions costs little more than
``ThreadPoolExecutor.map``.

Two kinds of thread do not count against ``max_threads``, so that they cannot starve new work:
a thread stuck in the body of a task that was cancelled or timed out (Python cannot stop it:
the runner *abandons* it), and a thread whose task waits for other work, such as a sync task
awaiting a sub-group (it *secedes* while it waits, as in Dask's ``secede``/``rejoin``). For each
of them the pool may start one more thread, up to ``max_extra`` in all; past that, abandoned
threads count again (new work waits, and a warning says why) and a wait that would secede
raises at once instead of deadlocking.
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import os
import threading
from collections.abc import Callable, Iterator
from queue import Empty, SimpleQueue
from typing import NamedTuple

__all__ = [
    "DEFAULT_EXTRA_THREADS",
    "DEFAULT_THREADS",
    "ThreadStats",
    "WorkerThreads",
    "thread_stats",
    "worker_threads",
]

DEFAULT_THREADS = 40  # anyio's default thread limit
# Threads beyond DEFAULT_THREADS for abandoned bodies and waiting tasks: nested sync groups
# five levels deep with fan-out 3 keep 121 threads waiting; a thread's stack is virtual
# memory, touched only as deep as it runs.
DEFAULT_EXTRA_THREADS = 1000
_log = logging.getLogger("backgrounder")


def _EXIT() -> None:
    """Queued when there is a thread too many: the idle thread that takes it exits."""


class ThreadStats(NamedTuple):
    """How the library's worker threads are used right now (see ``thread_stats``)."""

    threads: int
    """Worker threads started and not exited."""
    abandoned: int
    """Threads still in the body of a cancelled or timed-out task (a thread cannot be stopped)."""
    waiting: int
    """Running tasks that wait for other work (a nested group), their place given up meanwhile."""
    max_threads: int
    """How many threads may run tasks at once."""
    max_extra: int
    """How many more may be started beyond that for abandoned and waiting threads."""


class WorkerThreads:
    """Run callables on up to ``max_threads`` daemon threads, started as work arrives."""

    def __init__(
        self,
        max_threads: int = DEFAULT_THREADS,
        name: str = "backgrounder-worker",
        max_extra: int = DEFAULT_EXTRA_THREADS,
    ):
        self.max_threads = max_threads
        self.max_extra = max_extra
        self._name = name
        self._jobs: SimpleQueue[Callable[[], object]] = SimpleQueue()
        self._idle = threading.Semaphore(0)
        self._threads: set[threading.Thread] = set()
        self._numbers = itertools.count()
        self._lock = threading.Lock()  # guards the thread set and the two counts below
        self._abandoned = 0
        self._seceded = 0
        self._warned = False
        self._local = threading.local()

    def submit(self, job: Callable[[], object]) -> None:
        self._jobs.put(job)
        if self._idle.acquire(blocking=False):
            return
        if len(self._threads) >= self._allowed() and not (self._abandoned and not self._warned):
            # every thread busy: a group of thousands queues most of its jobs here, so
            # without the lock (abandon() and secede() start threads for queued jobs)
            return
        with self._lock:
            if len(self._threads) < self._allowed():
                self._start()
            elif self._abandoned and not self._warned:
                self._warned = True
                _log.warning(
                    "backgrounder: %d worker threads are stuck in cancelled tasks that do not "
                    "check cancelled(); new sync work waits for a free thread",
                    self._abandoned,
                )

    def stats(self) -> ThreadStats:
        with self._lock:
            return ThreadStats(
                len(self._threads),
                self._abandoned,
                self._seceded,
                self.max_threads,
                self.max_extra,
            )

    def in_worker(self) -> bool:
        """True in one of these threads."""
        return getattr(self._local, "worker", False)

    # -- threads that do not count ---------------------------------------------------------------

    def abandon(self) -> None:
        """The task running in one of these threads ended (cancelled); its body runs on."""
        with self._lock:
            self._abandoned += 1
            self._start_for_queued()

    def reclaim(self) -> None:
        """An abandoned body returned: its thread counts again."""
        with self._lock:
            self._abandoned -= 1
            self._trim()

    def secede(self, what: str) -> None:
        """A task in one of these threads waits for other work: its thread stops counting.

        Raises RuntimeError at once if no thread may be added for the work it waits for.
        Pair with ``rejoin()``; ``waiting()`` does both.
        """
        with self._lock:
            if self._abandoned + self._seceded >= self.max_extra:
                raise RuntimeError(
                    f"cannot wait for {what} in a worker thread: {self._seceded} worker threads "
                    f"already wait for other work and {self._abandoned} are stuck in cancelled "
                    f"tasks (at most {self.max_extra}); flatten the nesting, or await from async "
                    f"code"
                )
            self._seceded += 1
            self._start_for_queued()

    def rejoin(self) -> None:
        with self._lock:
            self._seceded -= 1
            self._trim()

    @contextlib.contextmanager
    def waiting(self, what: str) -> Iterator[None]:
        """``secede`` and ``rejoin`` around a wait, in one of these threads only."""
        if not self.in_worker():
            yield
            return
        self.secede(what)
        try:
            yield
        finally:
            self.rejoin()

    # -- internals ---------------------------------------------------------------------------------

    def _allowed(self) -> int:
        extra = min(self._abandoned + self._seceded, self.max_extra)
        return self.max_threads + extra

    def _start_for_queued(self) -> None:
        """With the lock held: a thread stopped counting, so start one for queued work."""
        if not self._jobs.empty() and len(self._threads) < self._allowed():
            self._start()

    def _trim(self) -> None:
        """With the lock held: one thread too many now; the next idle one exits."""
        if len(self._threads) > self._allowed():
            self._jobs.put(_EXIT)

    def _start(self) -> None:
        thread = threading.Thread(
            target=self._work, name=f"{self._name}-{next(self._numbers)}", daemon=True
        )
        self._threads.add(thread)
        thread.start()

    def _work(self) -> None:
        self._local.worker = True
        me = threading.current_thread()
        idle = False  # this thread said it was idle: its permit is out
        while True:
            # A job already queued is taken without saying "idle": a permit given for it
            # would be stale (no thread idle behind it) and a later submit() would count on
            # it instead of starting a thread; with every other thread stuck, forever.
            if idle:
                job = self._jobs.get()
            else:
                try:
                    job = self._jobs.get_nowait()
                except Empty:
                    self._idle.release()
                    idle = True
                    job = self._jobs.get()
            if job is _EXIT:
                with self._lock:
                    # idle, it must take its permit back, unless a submitter counts on it
                    if len(self._threads) > self._allowed() and (
                        not idle or self._idle.acquire(blocking=False)
                    ):
                        self._threads.discard(me)
                        return
                continue  # still idle (or not) as it was
            idle = False  # a submitter took its permit for this job
            try:
                job()
            except BaseException:  # a job is a task body that records its own errors
                _log.exception("backgrounder: a worker job failed")
            del job
            if len(self._threads) > self._allowed():  # read unlocked: once per job
                with self._lock:
                    if len(self._threads) > self._allowed():  # extra, no longer needed
                        self._threads.discard(me)
                        if self._abandoned < self.max_extra:
                            self._warned = False
                        return

    def _forget(self) -> None:
        """After ``fork()`` the threads are gone from the child: start new ones as needed."""
        self.__init__(self.max_threads, self._name, self.max_extra)  # type: ignore[misc]


worker_threads = WorkerThreads()
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=worker_threads._forget)


def thread_stats() -> ThreadStats:
    """How the library's worker threads are used: in all, abandoned, waiting, and the bounds.

    ``abandoned`` counts threads still running the body of a sync task that was cancelled or
    timed out (a thread cannot be stopped); they do not hold up new work, up to ``max_extra``.
    """
    return worker_threads.stats()
