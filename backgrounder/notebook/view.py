"""What a person should see in a live table: a pure function of a snapshot.

``table_view`` turns a reading of the work (``GroupSnapshot``) and which rows are expanded
into every value the widgets must show: the header, the rows' text (one string for the
whole window), the details panel, and which Cancel buttons are enabled. The table's
renderer only makes the widgets equal to it; tests compute the same view from the tasks
themselves and compare it with what the frontend received.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

from .render import details_html, header_html, rows_html
from .snapshot import GroupSnapshot

__all__ = ["TableView", "table_view"]


@dataclass(frozen=True)
class TableView:
    """Every value of a live table's widgets, and the row each button acts on."""

    header: str  # the header's HTML: name, bar, counts, elapsed, note, error, hidden rows
    rows: str  # the HTML of every row of the window, in order (one widget's value)
    details: str  # the HTML of the expanded rows' traceback and output
    ids: tuple[int, ...]  # the task id of each row, in order (what each row's buttons act on)
    cancellable: tuple[bool, ...]  # each row's Cancel enabled
    cancel_all: bool  # "Cancel all" enabled
    ended: bool  # the work ended: this is the final view


def table_view(snap: GroupSnapshot, expanded: Collection[int] = ()) -> TableView:
    """The live table for ``snap``, with the rows whose ids are in ``expanded`` opened."""
    rows = snap.rows
    ended = snap.state.finished or snap.note is not None
    return TableView(
        header=header_html(snap),
        rows=rows_html(rows),
        details=details_html(tuple(row for row in rows if row.id in expanded)),
        ids=tuple(row.id for row in rows),
        cancellable=tuple(row.cancellable and not ended for row in rows),
        cancel_all=not ended and (snap.more or snap.finished < snap.total),
        ended=ended,
    )
