"""Does a widget comm message show a given task as done? (Follows the table's row HTML.)"""

from __future__ import annotations

from typing import Any


def shows_done(data: dict[str, Any], name: str) -> bool:
    """True if a widget state in ``data`` is the row of ``name`` with the done mark."""
    from backgrounder import TaskState
    from backgrounder.notebook.render import MARKS

    done = MARKS[TaskState.DONE]
    label = f">{name}<"  # the row's name cell; exact, so "row-1" does not match "row-12"
    state = data.get("state") or {}
    return any(
        isinstance(value, str) and label in value and done in value for value in state.values()
    )
