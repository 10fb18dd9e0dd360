"""Run work in the background, from a notebook or any async code, and see how it goes.

The core (this package's top-level modules) depends on anyio alone; the notebook layer in
``backgrounder.notebook`` is imported only by ``%load_ext backgrounder``.
"""

from ._context import cancelled, current_task, progress
from ._decorator import background
from ._errors import TaskCancelled
from ._events import EventKind, TaskEvent, subscribe
from ._group import Tasks
from ._handle import Handle, running_handles, shutdown
from ._output import capture_output, release_output
from ._retry import AttemptError
from ._state import TaskState
from ._task import Task
from ._threads import ThreadStats, thread_stats
from ._version import __version__

__all__ = [
    "__version__",
    "AttemptError",
    "EventKind",
    "Handle",
    "Task",
    "TaskCancelled",
    "TaskEvent",
    "TaskState",
    "Tasks",
    "ThreadStats",
    "background",
    "cancelled",
    "capture_output",
    "current_task",
    "load_ipython_extension",
    "progress",
    "release_output",
    "running_handles",
    "shutdown",
    "subscribe",
    "thread_stats",
    "unload_ipython_extension",
]


def load_ipython_extension(ipython: object) -> None:
    """``%load_ext backgrounder``: magics, live tables, per-task output."""
    from .notebook import load_ipython_extension as load

    load(ipython)


def unload_ipython_extension(ipython: object) -> None:
    """``%unload_ext backgrounder``: remove the magics and displays; running work goes on."""
    from .notebook import unload_ipython_extension as unload

    unload(ipython)


# Public names report the package as their home (``backgrounder.TaskCancelled`` in a
# traceback, not ``backgrounder._errors.TaskCancelled``): users never import private modules.
for _name in __all__:
    _member = globals()[_name]
    if getattr(_member, "__module__", "").startswith("backgrounder."):
        _member.__module__ = "backgrounder"
del _name, _member
