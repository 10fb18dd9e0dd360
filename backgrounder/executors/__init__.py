"""Where sync tasks run: the shared process pool, and the executors ``executor=`` accepts.

Sync tasks run in the library's worker threads unless given an executor, per task
(``Task(f).options(executor=...)``) or per group (``Tasks(..., executor=...)``): any
``concurrent.futures.Executor``, a Dask ``distributed.Client``, or ``process_pool()``.
"""

from __future__ import annotations

from ._pool import close_process_pool, process_pool
from ._submit import RemoteError

__all__ = ["RemoteError", "close_process_pool", "process_pool"]

# Public names report this package as their home, not the private module defining them.
RemoteError.__module__ = __name__
