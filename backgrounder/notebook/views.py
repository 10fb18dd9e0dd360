"""Display helpers shared by the session, the tables and the magics (no widgets here).

``display`` is IPython's, imported when first used. ``static_bundle`` is what an ended
table leaves in the notebook: text and HTML, readable without a kernel. ``TextView`` is the
table of terminals and logs, read afresh at each display.

``cell_context`` tells the table's writer (on the library's loop thread) the context of
the cell that runs now, if any: a display updated under it reaches clients that only read
the messages of the running cell (nbclient, nbconvert, papermill), while JupyterLab routes
the update to the output by its display id whatever the cell.
"""

from __future__ import annotations

import contextvars
from collections.abc import Callable
from typing import Any

from .. import Task, Tasks
from .render import group_html, group_text, row_text
from .snapshot import GroupSnapshot
from .sources import GroupSource, LooseSource

__all__ = ["TextView", "cell_context", "display", "set_cell_context", "static_bundle"]


def display(obj: object, **kwargs: Any) -> Any:
    """``IPython.display.display``, imported when first used."""
    from IPython.display import display as ipython_display

    return ipython_display(obj, **kwargs)  # type: ignore[no-untyped-call]


def static_bundle(snap: GroupSnapshot) -> dict[str, Any]:
    """The text and static HTML of a table: what an ended table's displays keep."""
    return {"text/plain": group_text(snap), "text/html": group_html(snap)}


_cell_context: Callable[[], contextvars.Context | None] = lambda: None  # noqa: E731


def set_cell_context(provider: Callable[[], contextvars.Context | None]) -> None:
    """Install what ``cell_context`` asks (the extension's session does, when loaded)."""
    global _cell_context
    _cell_context = provider


def cell_context() -> contextvars.Context | None:
    """A copy of the context of the cell that runs now, or None between cells."""
    return _cell_context()


class TextView:
    """Text (and static HTML) of a group, a task or a loose list, for terminals and logs.

    A single task's text is its row alone: a header above it would name it twice.
    """

    def __init__(self, work: Task | Tasks | LooseSource) -> None:
        self.work = work

    def snapshot(self) -> GroupSnapshot:
        work = self.work
        if isinstance(work, Tasks):
            return GroupSource(work).snapshot()
        if isinstance(work, Task):
            return LooseSource(work.name, [work]).snapshot()
        return LooseSource(work.name, work.tasks).snapshot()

    def _repr_mimebundle_(self, **_: Any) -> dict[str, Any]:
        snap = self.snapshot()
        return {"text/plain": self._text(snap), "text/html": group_html(snap)}

    def __repr__(self) -> str:
        return self._text(self.snapshot())

    def _text(self, snap: GroupSnapshot) -> str:
        if isinstance(self.work, Task) and snap.rows:
            return row_text(snap.rows[0])
        return group_text(snap)
