"""Attach the notebook layer's status table to a group, in-process, with no frontend.

ipywidgets without a kernel uses a dummy comm, so the widget does all its work (listening,
snapshots, coalesced redraws) and only the sending is skipped. The table lives in
``backgrounder.notebook``, built in parallel with these benchmarks: until it exists the
table rows are reported as skipped.
"""

from __future__ import annotations

from typing import Any

from backgrounder import Tasks


def _factory() -> Any:
    try:
        from backgrounder.notebook import table  # type: ignore[attr-defined]
    except ImportError:
        return None
    return getattr(table, "TaskTable", None)


def table_available() -> bool:
    return _factory() is not None


def attach_table(tasks: Tasks) -> Any:
    """A live table for ``tasks`` (keep a reference while the group runs)."""
    factory = _factory()
    if factory is None:
        raise RuntimeError("backgrounder.notebook has no table yet")
    return factory(tasks)
