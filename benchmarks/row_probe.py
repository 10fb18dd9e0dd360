"""Does a widget comm message show a given task as finished? (Depends on the table's format.)"""

from __future__ import annotations

import json
from typing import Any


def shows_done(data: dict[str, Any], name: str) -> bool:
    text = json.dumps(data)
    at = text.find(name)
    return at >= 0 and "done" in text[at : at + 600]
