"""What ``%load_ext backgrounder`` adds for tasks beyond the output router, in one place.

- tqdm's notebook bars (``tqdm.auto`` in a kernel) made inside a task are text bars, which
  the router turns into the task's progress (``tqdm_bars``). tqdm may be imported after the
  extension is loaded, so the patch is (re)applied before each cell.
- Rich's live displays (progress bars) started inside a task write to the task as to a
  file, and its Progress sets the task's progress (``rich_live``). Also (re)applied before
  each cell.
- Terminal IPython: task output printed while the prompt waits stays the task's, and Ctrl-C
  cancels an async cell (``terminal_ipython``). Nothing in a Jupyter kernel.

Each is undone by ``uninstall``.
"""

from __future__ import annotations

from typing import Any

from . import rich_live, terminal_ipython, tqdm_bars

__all__ = ["install", "uninstall"]

_PATCHES = (tqdm_bars, rich_live)  # library patches active while the extension is loaded


def install(shell: Any) -> None:
    """Set everything up on ``shell`` (called by ``load_ipython_extension``)."""
    for patch in _PATCHES:
        patch.install()
        shell.events.register("pre_run_cell", patch.install)
    terminal_ipython.install(shell)


def uninstall(shell: Any) -> None:
    """Undo ``install`` (called by ``unload_ipython_extension``)."""
    for patch in _PATCHES:
        try:
            shell.events.unregister("pre_run_cell", patch.install)
        except ValueError:
            pass
        patch.uninstall()
    terminal_ipython.uninstall(shell)
