"""Does a widget comm message show a given task as done? (Follows the table's row HTML.)"""

from __future__ import annotations

from typing import Any


def shows_done(data: dict[str, Any], name: str) -> bool:
    """True if a widget state in ``data`` holds the row of ``name`` in the done state.

    The live table sends every row of its window in one HTML value: each row is a
    ``<div class="bg-row" data-state=...>`` with its name in a cell of its own.
    """
    label = f">{name}<"  # the row's name cell; exact, so "row-1" does not match "row-12"
    state = data.get("state") or {}
    for value in state.values():
        if not isinstance(value, str) or label not in value:
            continue
        for row in value.split('<div class="bg-row"')[1:]:
            if label in row and row.startswith(' data-state="done"'):
                return True
    return False
