"""What ``%load_ext backgrounder`` adds for tasks beyond the output router, in one place.

- tqdm's notebook bars (``tqdm.auto`` in a kernel) made inside a task are text bars, which
  the router turns into the task's progress (``tqdm_bars``).
- Rich's live displays (progress bars, ``tqdm.rich``) started inside a task write to the
  task as to a file, and its Progress sets the task's progress (``rich_live``).
- Terminal IPython: task output printed while the prompt waits stays the task's, and Ctrl-C
  cancels an async cell (``terminal_ipython``). Nothing in a Jupyter kernel.

Each is undone by ``uninstall``.

tqdm and Rich are often imported after the extension is loaded, in the very cell (or task)
that makes the first bar: a patch applied before each cell missed that bar (it stayed an
ipywidgets bar). So each patch is applied when its module is loaded: at ``install`` if it
already is, else right after its import, by a finder on ``sys.meta_path`` that hands the
import to the usual finders and runs the patch once the module's code ran (importlib's
documented extension point; wrapt's post-import hooks work the same way). The finder looks
only at the names below and is removed by ``uninstall``.
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import logging
import sys
import threading
from collections.abc import Callable, Sequence
from types import ModuleType
from typing import Any

from . import rich_live, terminal_ipython, tqdm_bars

__all__ = ["AfterImport", "install", "uninstall"]

_log = logging.getLogger("backgrounder")

# library patches active while the extension is loaded, by the module each patches
_PATCHES: dict[str, Any] = {"tqdm.notebook": tqdm_bars, "rich.live": rich_live}


class AfterImport(importlib.abc.MetaPathFinder):
    """Runs ``then[name]()`` right after module ``name`` is imported (or reloaded)."""

    def __init__(self, then: dict[str, Callable[[], object]]) -> None:
        self.then = then
        self._finding = threading.local()  # the name this thread is finding: not twice

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        after = self.then.get(fullname)
        if after is None or getattr(self._finding, "name", None) == fullname:
            return None
        self._finding.name = fullname
        try:
            spec = next(
                (
                    found
                    for finder in sys.meta_path
                    if finder is not self and hasattr(finder, "find_spec")
                    for found in [finder.find_spec(fullname, path, target)]
                    if found is not None
                ),
                None,
            )
        finally:
            self._finding.name = None
        if spec is not None and hasattr(spec.loader, "exec_module"):
            spec.loader = _ThenLoader(spec.loader, after)
        return spec


class _ThenLoader(importlib.abc.Loader):
    """A module's own loader, then a patch once the module's code ran."""

    def __init__(self, loader: Any, after: Callable[[], object]) -> None:
        self.loader, self.after = loader, after

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType | None:
        module: ModuleType | None = self.loader.create_module(spec)
        return module

    def exec_module(self, module: ModuleType) -> None:
        self.loader.exec_module(module)
        try:
            self.after()
        except Exception:  # a patch that fails must never break the user's import
            _log.exception("backgrounder: could not adapt %s for tasks", module.__name__)

    def __getattr__(self, name: str) -> Any:  # get_source, get_resource_reader, ...
        return getattr(self.loader, name)


_finder: AfterImport | None = None


def install(shell: Any) -> None:
    """Set everything up on ``shell`` (called by ``load_ipython_extension``)."""
    global _finder
    for patch in _PATCHES.values():
        patch.install()
    if _finder is None:
        _finder = AfterImport({name: patch.install for name, patch in _PATCHES.items()})
        sys.meta_path.insert(0, _finder)
    terminal_ipython.install(shell)


def uninstall(shell: Any) -> None:
    """Undo ``install`` (called by ``unload_ipython_extension``)."""
    global _finder
    if _finder is not None:
        if _finder in sys.meta_path:
            sys.meta_path.remove(_finder)
        _finder = None
    for patch in _PATCHES.values():
        patch.uninstall()
    terminal_ipython.uninstall(shell)
