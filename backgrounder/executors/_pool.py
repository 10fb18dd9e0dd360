"""The library's shared process pool (loky), made on first use and closed at exit."""

from __future__ import annotations

import threading
from concurrent.futures import Executor
from functools import partial

from .._loop import at_exit
from .._validate import check_positive_int

__all__ = ["close_process_pool", "process_pool"]

_pool: Executor | None = None
_pool_workers: int | None = None
_lock = threading.Lock()  # guards the three names around it: one pool at a time
_exit_hook = False


def process_pool(max_workers: int | None = None) -> Executor:
    """The library's shared process pool (loky), created on first use and closed at exit.

    Every call returns the same pool, so tasks share its warm worker processes. Functions
    and arguments are sent with cloudpickle: functions defined in a notebook work.
    ``max_workers`` defaults to the number of CPUs; asking for another size replaces the pool
    (the old one finishes the work it has, then its processes exit).
    """
    global _pool, _pool_workers, _exit_hook
    if max_workers is not None:
        check_positive_int(max_workers, "max_workers")
    with _lock:
        pool = _pool
        resize = max_workers is not None and max_workers != _pool_workers
        if pool is not None and not resize and not _broken(pool):
            return pool
        from loky import ProcessPoolExecutor, cpu_count

        if pool is not None:
            pool.shutdown(wait=False)
        workers = max_workers or cpu_count()
        _pool = ProcessPoolExecutor(max_workers=workers)
        _pool_workers = workers
        if not _exit_hook:
            # loky registers its exit hook when the first pool starts working: make it do so
            # now, so that ours, registered after it, runs before it. loky's own hook waits
            # for running calls (a 30 s call held exit for 30 s): ours closes the pool first,
            # killing them, as the library's daemon threads would not hold exit either.
            _pool.submit(int)
            at_exit(partial(close_process_pool, wait=True), early=True)
            _exit_hook = True
        return _pool


def close_process_pool(*, wait: bool = True) -> None:
    """Shut the shared pool down now, ending its worker processes (running calls included).

    Done at interpreter exit too; the next ``process_pool()`` call starts a new pool.
    """
    global _pool, _pool_workers
    with _lock:
        pool, _pool, _pool_workers = _pool, None, None
    if pool is not None:
        pool.shutdown(wait=wait, kill_workers=True)  # type: ignore[call-arg]


def _broken(pool: Executor) -> bool:
    """A pool whose worker died (a crash, the OOM killer) refuses new work: replace it."""
    flags = getattr(pool, "_flags", None)
    return bool(getattr(flags, "broken", False) or getattr(flags, "shutdown", False))
