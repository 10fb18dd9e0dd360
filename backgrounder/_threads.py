"""The worker threads that run sync tasks.

Daemon threads, unlike ``ThreadPoolExecutor``'s and anyio's: a function that never returns
must not keep a script or a kernel from exiting. Jobs are queued on a ``SimpleQueue`` (C,
lock-free for our purposes) so a group of thousands of tiny functions costs little more than
``ThreadPoolExecutor.map``.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable
from queue import SimpleQueue

__all__ = ["DEFAULT_THREADS", "WorkerThreads", "worker_threads"]

DEFAULT_THREADS = 40  # anyio's default thread limit
_log = logging.getLogger("backgrounder")


class WorkerThreads:
    """Run callables on up to ``max_threads`` daemon threads, started as work arrives."""

    def __init__(self, max_threads: int = DEFAULT_THREADS, name: str = "backgrounder-worker"):
        self.max_threads = max_threads
        self._name = name
        self._jobs: SimpleQueue[Callable[[], object]] = SimpleQueue()
        self._idle = threading.Semaphore(0)
        self._threads: list[threading.Thread] = []
        self._lock = threading.Lock()

    def submit(self, job: Callable[[], object]) -> None:
        self._jobs.put(job)
        if self._idle.acquire(blocking=False):
            return
        with self._lock:
            if len(self._threads) < self.max_threads:
                thread = threading.Thread(
                    target=self._work, name=f"{self._name}-{len(self._threads)}", daemon=True
                )
                self._threads.append(thread)
                thread.start()

    def _work(self) -> None:
        while True:
            job = self._jobs.get()
            try:
                job()
            except BaseException:  # a job is a task body that records its own errors
                _log.exception("backgrounder: a worker job failed")
            del job
            self._idle.release()

    def _forget(self) -> None:
        """After ``fork()`` the threads are gone from the child: start new ones as needed."""
        self.__init__(self.max_threads, self._name)  # type: ignore[misc]


worker_threads = WorkerThreads()
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=worker_threads._forget)
