"""``Task`` and ``Tasks`` at upstream backgrounder 0.2's module path.

``from backgrounder.tasks import Task, Tasks`` keeps working; these are the very objects
``backgrounder`` exports (``backgrounder.tasks.Task is backgrounder.Task``). New code can
import from ``backgrounder`` directly.
"""

from __future__ import annotations

from ._group import Tasks
from ._task import Task

__all__ = ["Task", "Tasks"]
