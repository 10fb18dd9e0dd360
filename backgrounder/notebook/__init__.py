"""The IPython extension: magics, live status tables, per-task output capture.

``%load_ext backgrounder`` calls ``load_ipython_extension``. Nothing here runs at import:
IPython and ipywidgets are imported only when the extension is loaded.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

__all__ = ["load_ipython_extension", "unload_ipython_extension"]

_loaded: dict[int, Any] = {}  # id(shell) -> what load installed, for unload

NO_WIDGETS = (
    "backgrounder: tables are static here ({why}); for live tables, "
    '`%pip install "backgrounder[notebook]"` and restart the kernel'
)


def _widgets_missing() -> str | None:
    """Why live tables cannot be drawn here, or None. ipywidgets 7 (Colab's) lacks the styles
    the table uses: importing it there failed at the first display."""
    try:
        import ipywidgets
    except ImportError:
        return "ipywidgets is not installed"
    version = str(getattr(ipywidgets, "__version__", "0"))
    major = version.split(".")[0]
    if not major.isdigit() or int(major) < 8:
        return f"ipywidgets {version} is installed, live tables need 8"
    return None


def load_ipython_extension(ipython: Any) -> None:
    """Register the magics, the displays of Task/Tasks/Handle and per-task output capture.

    Loading twice is harmless: the second load does nothing.
    """
    if id(ipython) in _loaded:
        return
    from .. import Handle, Task, Tasks, capture_output
    from .._loop import at_exit
    from . import integrations
    from .history import History
    from .journal import Journal, default_path
    from .kernel import Session
    from .magics import BackgroundMagics

    where = default_path(getattr(ipython, "user_ns", None))
    journal = Journal(where) if where is not None else None
    if journal is not None:
        journal.start()
        # registered before the session's hook, so it runs after: the work the session
        # cancels at exit is written as cancelled, not left running
        at_exit(journal.stop)
    session = Session(ipython)
    missing = _widgets_missing() if session.kernel is not None else None
    if missing:
        session.widgets = False
        print(NO_WIDGETS.format(why=missing))
    history = History()
    history.start()
    session.install()
    magics = BackgroundMagics(ipython, session, history)
    magics.journal = journal
    ipython.register_magics(magics)
    # in a kernel the session displays the table itself, with a display id (see show_object)
    formatters = ipython.display_formatter
    show: Callable[[Any], object]
    if session.widgets:
        formatter, show = formatters.ipython_display_formatter, session.show_object
    else:
        formatter, show = formatters.mimebundle_formatter, session.bundle
    previous = {cls: formatter.for_type(cls, show) for cls in (Task, Tasks, Handle)}
    capture_output()
    integrations.install(ipython)  # tqdm, Rich, logging and terminal IPython inside tasks
    _loaded[id(ipython)] = (session, history, magics, formatter, previous, journal)


def unload_ipython_extension(ipython: Any) -> None:
    """Remove the magics, displays and output capture; running work and live tables go on."""
    state = _loaded.pop(id(ipython), None)
    if state is None:
        return
    from .. import release_output
    from . import integrations

    session, history, magics, formatter, previous, journal = state
    integrations.uninstall(ipython)
    release_output()
    for cls, old in previous.items():
        formatter.pop(cls, None)
        if old is not None:
            formatter.for_type(cls, old)
    registry = ipython.magics_manager.magics
    for kind, names in magics.magics.items():
        for name in names:
            registry[kind].pop(name, None)
    magics.results.close()
    session.uninstall()
    history.stop()
    if journal is not None:
        journal.stop()
