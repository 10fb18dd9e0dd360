"""Rich's live displays (``rich.progress``, ``track``, ``Live``) inside tasks.

A ``Live`` on a console that animates (a terminal, or Jupyter) swaps ``sys.stdout`` and
``sys.stderr`` for the whole process while it runs and redraws from its own refresh thread,
which has no task context: inside a task its frames went to whichever cell was running
(issue 14, measured in ipykernel 7.4, where ``FORCE_COLOR=1`` makes Rich's console a
terminal once ``get_ipython`` is out of the builtins, i.e. between cells; in Jupyter mode
it also displays an ipywidgets ``Output``). While the extension is loaded, a ``Live``
started inside a task on such a console gets a console of its own that writes to the task's
output as to a file: nothing while it runs, its last frame when it stops (as Rich does for
files), colours kept. Inside a task, on any console, the first task of a ``Progress`` sets
the task's progress at each refresh, as a tqdm bar does. Outside tasks nothing changes.
Unloading puts ``Live.start`` back.
"""

from __future__ import annotations

import sys
from typing import Any

from .._context import current_task

__all__ = ["install", "patched", "uninstall"]

_ORIGINAL = "__backgrounder_original_start__"


def _start(live: Any, *args: Any, **kwargs: Any) -> Any:
    task = current_task()
    if task is not None and not live.is_started:
        console = live.console
        if getattr(console, "is_jupyter", False) or getattr(console, "is_terminal", False):
            from rich.console import Console

            live.console = Console(
                file=sys.stdout,  # the router: this task's output
                force_jupyter=False,
                force_terminal=False,
                color_system=console.color_system,
                width=console.width,
            )
        _follow(live, task)
    return getattr(type(live), _ORIGINAL)(live, *args, **kwargs)


def _follow(live: Any, task: Any) -> None:
    """Set ``task``'s progress from the live display's Progress at each refresh."""
    progress = getattr(live._get_renderable, "__self__", None)  # Progress.get_renderable
    if progress is None or not hasattr(progress, "tasks"):
        return
    refresh = live.refresh

    def refresh_and_report() -> None:
        refresh()
        shown = progress.tasks
        if shown:
            first = shown[0]
            done = (first.completed, first.total)
            if task.progress != done:
                task._set_progress(*done)

    live.refresh = refresh_and_report


def patched() -> bool:
    module = sys.modules.get("rich.live")
    return module is not None and _ORIGINAL in vars(module.Live)


def install(*_: Any) -> bool:
    """Patch ``rich.live.Live.start`` if ``rich.live`` was imported; True if patched. (The
    extension calls it at load and right after ``rich.live`` is imported: integrations.)"""
    module = sys.modules.get("rich.live")
    if module is None:
        return False
    cls = module.Live
    if _ORIGINAL not in vars(cls):
        setattr(cls, _ORIGINAL, cls.start)
        cls.start = _start
    return True


def uninstall() -> None:
    module = sys.modules.get("rich.live")
    if module is None or _ORIGINAL not in vars(module.Live):
        return
    cls = module.Live
    cls.start = vars(cls)[_ORIGINAL]
    delattr(cls, _ORIGINAL)
