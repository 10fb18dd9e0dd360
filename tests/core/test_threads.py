"""The worker threads that run sync tasks: daemon threads, bounded, reused, and not starved
by bodies that cannot be stopped or by tasks waiting for other work."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator

import pytest

from backgrounder import Task
from backgrounder._threads import ThreadStats, WorkerThreads, thread_stats


def wait_until(predicate: Callable[[], bool], timeout: float) -> bool:
    """Poll for threads exiting: no event of the pool says so."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True


@pytest.fixture
def pool() -> Iterator[WorkerThreads]:
    """A small pool of its own; its jobs are released at the end of the test."""
    threads = WorkerThreads(max_threads=3, name="test-worker", max_extra=2)
    yield threads


class Gate:
    """Jobs that say when they run, then wait until the gate opens."""

    def __init__(self) -> None:
        self.open = threading.Event()
        self.lock = threading.Condition()
        self.running = self.most = self.ran = 0
        self.threads: set[str] = set()
        self.daemons: set[bool] = set()

    def job(self) -> None:
        with self.lock:
            self.running += 1
            self.most = max(self.most, self.running)
            self.threads.add(threading.current_thread().name)
            self.daemons.add(threading.current_thread().daemon)
            self.lock.notify_all()
        self.open.wait(30)
        with self.lock:
            self.running -= 1
            self.ran += 1
            self.lock.notify_all()

    def wait_for(self, predicate: Callable[[], bool]) -> bool:
        with self.lock:
            return self.lock.wait_for(predicate, 10)


@pytest.fixture
def gate() -> Iterator[Gate]:
    made = Gate()
    yield made
    made.open.set()


def test_jobs_run_on_at_most_max_threads_daemon_threads(pool: WorkerThreads, gate: Gate) -> None:
    for _ in range(7):
        pool.submit(gate.job)
    assert gate.wait_for(lambda: gate.running == 3)
    assert pool.stats().threads == 3  # the others are queued, not given threads
    gate.open.set()
    assert gate.wait_for(lambda: gate.ran == 7)
    assert gate.most == 3
    assert gate.daemons == {True}  # a body that never returns cannot hold the process
    assert all(name.startswith("test-worker-") for name in gate.threads)


def test_threads_are_reused(pool: WorkerThreads, gate: Gate) -> None:
    gate.open.set()
    for wave in range(1, 4):
        for _ in range(3):
            pool.submit(gate.job)
        assert gate.wait_for(lambda wave=wave: gate.ran == 3 * wave)  # type: ignore[misc]
    assert pool.stats().threads <= 3


def test_a_failing_job_is_logged_and_its_thread_goes_on(
    pool: WorkerThreads, gate: Gate, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.ERROR)

    def broken() -> None:
        raise RuntimeError("the job broke")

    gate.open.set()
    pool = WorkerThreads(max_threads=1, name="test-single")
    pool.submit(broken)
    pool.submit(gate.job)
    assert gate.wait_for(lambda: gate.ran == 1)
    assert any("a worker job failed" in r.getMessage() for r in caplog.records)


def test_abandoned_threads_make_room_for_new_work_up_to_a_bound(
    pool: WorkerThreads, gate: Gate
) -> None:
    for _ in range(3):
        pool.submit(gate.job)
    assert gate.wait_for(lambda: gate.running == 3)
    later = Gate()
    later.open.set()
    pool.submit(later.job)  # queued: every thread is busy
    pool.abandon()  # a stuck body's thread stops counting: a thread starts for the queued job
    assert later.wait_for(lambda: later.ran == 1)
    assert pool.stats() == ThreadStats(
        threads=4, abandoned=1, waiting=0, max_threads=3, max_extra=2
    )
    for _ in range(3):
        pool.abandon()  # 4 abandoned, but at most 2 extra threads
    for _ in range(3):
        pool.submit(gate.job)
    assert gate.wait_for(lambda: gate.running == 5)  # the third waits: the bound holds
    assert pool.stats().threads == 5
    gate.open.set()  # the stuck bodies return...
    for _ in range(4):
        pool.reclaim()  # ...and their threads count again
    assert gate.wait_for(lambda: gate.ran == 6)
    assert wait_until(lambda: pool.stats().threads <= 3, 10)  # the extra threads exit
    assert pool.stats().abandoned == 0


def test_a_waiting_task_secedes_and_past_the_bound_fails_at_once(pool: WorkerThreads) -> None:
    outcomes: list[str] = []
    ready = threading.Event()
    release = threading.Event()

    def waiter() -> None:
        try:
            with pool.waiting("a sub-group"):
                outcomes.append("seceded")
                ready.set()
                release.wait(30)
        except RuntimeError as exc:
            outcomes.append(str(exc))
            ready.set()

    for expected in (1, 2):
        ready.clear()
        pool.submit(waiter)
        assert ready.wait(10)
        assert pool.stats().waiting == expected
    ready.clear()
    pool.submit(waiter)  # a third: the bound (max_extra=2) is reached
    assert ready.wait(10)
    assert outcomes[:2] == ["seceded", "seceded"]
    assert outcomes[2].startswith("cannot wait for a sub-group in a worker thread: 2 worker")
    release.set()
    assert wait_until(lambda: pool.stats().waiting == 0, 10)


def test_waiting_outside_a_worker_thread_changes_nothing(pool: WorkerThreads) -> None:
    with pool.waiting("anything"):
        assert pool.stats().waiting == 0
    assert not pool.in_worker()


def test_thread_stats_reports_the_librarys_threads() -> None:
    import asyncio

    assert asyncio.run(Task(threading.current_thread)()).name.startswith("backgrounder-worker")
    stats = thread_stats()
    assert stats.threads >= 1 and stats.max_threads == 40 and stats.max_extra == 1000
    assert stats.abandoned == 0 and stats.waiting == 0
