"""Attach the notebook layer's status table to a group, in-process, with no frontend.

ipywidgets without a kernel uses a dummy comm, so the table does all its work (listening,
tracking, snapshots, coalesced redraws on the library's loop thread) and only the sending
is skipped.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from backgrounder import Tasks


def table_available() -> bool:
    try:
        import backgrounder.notebook.table  # noqa: F401
    except ImportError:
        return False
    return True


def attach_table(tasks: Tasks) -> Callable[[], None]:
    """Give ``tasks`` a live table; returns the untimed clean-up: wait for the final
    redraw (it comes up to one redraw interval later: latency, not cost) and close."""
    from backgrounder.notebook.sources import GroupSource
    from backgrounder.notebook.table import LiveTable

    table: Any = LiveTable(GroupSource(tasks))

    def close() -> None:
        table.wait_idle(10)
        table.close()

    return close


def creation_seconds(tasks: Tasks, repeat: int = 5) -> float:
    """Median time to build a table for ``tasks`` (its widgets): a constant per table."""
    import statistics
    import time

    from backgrounder.notebook.sources import GroupSource
    from backgrounder.notebook.table import LiveTable

    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        table: Any = LiveTable(GroupSource(tasks))
        times.append(time.perf_counter() - start)
        table.close()
    return statistics.median(times)
