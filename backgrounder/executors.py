"""Where sync tasks run: the shared process pool, and the executors ``executor=`` accepts.

Sync tasks run in the library's worker threads unless given an executor, per task
(``Task(f).options(executor=...)``) or per group (``Tasks(..., executor=...)``): any
``concurrent.futures.Executor``, a Dask ``distributed.Client``, or :func:`process_pool`.
"""

from __future__ import annotations

import atexit
import threading
from concurrent.futures import Executor
from functools import partial

__all__ = ["close_process_pool", "process_pool"]

_pool: Executor | None = None
_pool_workers: int | None = None
_lock = threading.Lock()
_atexit_registered = False


def process_pool(max_workers: int | None = None) -> Executor:
    """The library's shared process pool (loky), created on first use and closed at exit.

    Every call returns the same pool, so tasks share its warm worker processes. Functions
    and arguments are sent with cloudpickle: functions defined in a notebook work.
    ``max_workers`` defaults to the number of CPUs; asking for another size replaces the pool
    (the old one finishes the work it has, then its processes exit).
    """
    global _pool, _pool_workers, _atexit_registered
    if max_workers is not None and (
        isinstance(max_workers, bool) or not isinstance(max_workers, int) or max_workers < 1
    ):
        raise ValueError(f"max_workers must be a positive int or None, got {max_workers!r}")
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
        if not _atexit_registered:
            # loky registers its exit hook when the first pool starts working: make it do so
            # now, so that ours, registered after it, runs before it.
            _pool.submit(int)
            _register_exit_hook()
            _atexit_registered = True
        return _pool


def close_process_pool(*, wait: bool = True) -> None:
    """Shut the shared pool down now, ending its worker processes (running calls included).

    Done at interpreter exit too; the next :func:`process_pool` call starts a new pool.
    """
    global _pool, _pool_workers
    with _lock:
        pool, _pool, _pool_workers = _pool, None, None
    if pool is not None:
        pool.shutdown(wait=wait, kill_workers=True)  # type: ignore[call-arg]


def _register_exit_hook() -> None:
    """Close the pool at exit, killing calls still running (a script that did not wait for
    its tasks must not hang on them, as the library's daemon threads would not).

    loky's own exit hook runs before ``atexit`` ones and waits for running calls (a 30 s call
    held exit for 30 s); threading's exit hooks run last-registered first, so ours is taken
    there, before loky's, where available.
    """
    register = getattr(threading, "_register_atexit", None)
    if register is None:  # pragma: no cover - CPython has it since 3.9
        atexit.register(close_process_pool)
        return
    register(partial(close_process_pool, wait=True))


def _broken(pool: Executor) -> bool:
    """A pool whose worker died (a crash, the OOM killer) refuses new work: replace it."""
    flags = getattr(pool, "_flags", None)
    return bool(getattr(flags, "broken", False) or getattr(flags, "shutdown", False))
