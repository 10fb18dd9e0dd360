"""Where the extension meets the shell: which cell is running, what to show there, exit.

In a Jupyter kernel every cell runs on the kernel's asyncio loop, so the core already starts
work on that loop. Terminal IPython has no loop between cells: work started there goes to the
library's loop thread. The session also decides when a table appears on its own: a group
started by ``await tasks()`` (or ``tasks.start()``) from the running cell is shown in that
cell at once; work started by the cell but not yet running when the cell's code ends
(``tasks.start()`` in a sync cell) is shown as the cell ends.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

from .._events import EventKind, TaskEvent, subscribe
from .._group import Tasks
from .._handle import Handle, running_handles, shutdown
from .._hops import running_loop
from .._loop import at_exit
from .._task import Task
from .render import group_html, group_text
from .snapshot import LooseSource, Tracker

__all__ = ["EXIT_GRACE", "Session"]

EXIT_GRACE = 1.5  # seconds unfinished work gets to unwind when the kernel shuts down
# ipykernel 7.4 turns SIGINT into cancelling an async cell through a callback that only runs
# when the kernel's loop next wakes up: a cell awaiting a 30 s sleep was measured to ignore
# Interrupt for the whole 30 s. Waking the loop this often while a cell runs bounds that delay.
WAKE_EVERY = 0.1
_log = logging.getLogger("backgrounder")


class Session:
    """The extension's state for one shell: cell tracking, automatic tables, displays."""

    def __init__(self, shell: Any) -> None:
        self.shell = shell
        kernel = getattr(shell, "kernel", None)
        self.kernel = kernel
        self.widgets = kernel is not None and _widgets_available()
        self._cell: object = None  # the running cell's token, None between cells
        self._shown: set[int] = set()  # id() of works shown in the running cell
        self._started: list[Task | Tasks] = []  # works started from the running cell
        self._before: set[int] = set()  # id() of the handles running when the cell began
        self._unsubscribe: Callable[[], None] | None = None

    # -- install / remove --------------------------------------------------------------------

    def install(self) -> None:
        events = self.shell.events
        events.register("pre_run_cell", self._pre_run_cell)
        events.register("post_run_cell", self._post_run_cell)
        self._unsubscribe = subscribe(self._on_event, (EventKind.STARTED,))
        install_exit_hook()

    def uninstall(self) -> None:
        events = self.shell.events
        for name, callback in (
            ("pre_run_cell", self._pre_run_cell),
            ("post_run_cell", self._post_run_cell),
        ):
            try:
                events.unregister(name, callback)
            except ValueError:
                pass
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None

    @property
    def thread_loop(self) -> bool:
        """Whether work must go to the library's loop thread (no loop runs between cells)."""
        return self.kernel is None

    # -- showing work ------------------------------------------------------------------------

    def show(self, work: Task | Tasks | Handle) -> None:
        """Display the live table (kernel) or the text table (terminal) of ``work`` here."""
        if isinstance(work, Handle):
            work = work.work
        self._shown.add(id(work))
        if self.widgets:
            from .table import table_for

            table_for(work).display()
        else:
            display(TextView(work))

    def show_table(self, table: Any, task: Task) -> None:
        """Display a ``%background --group`` table, once per cell however many tasks join."""
        self._shown.add(id(task))
        if id(table) in self._shown and self._cell is not None:
            return
        self._shown.add(id(table))
        if self.widgets:
            table.display()
        else:
            display(TextView(table if isinstance(table, LooseSource) else table.source))

    def shown_here(self, work: object) -> bool:
        """True if ``work``'s table was already shown by the running cell."""
        return self._cell is not None and id(work) in self._shown

    def bundle(self, obj: Task | Tasks | Handle) -> dict[str, Any]:
        """The mime bundle for displaying a Task, Tasks or Handle (the formatter's answer)."""
        work = obj.work if isinstance(obj, Handle) else obj
        if self.shown_here(work):
            return {"text/plain": repr(obj)}
        if self.widgets:
            from .table import table_for

            self._shown.add(id(work))
            return table_for(work)._repr_mimebundle_()
        return TextView(work)._repr_mimebundle_()

    # -- cells ------------------------------------------------------------------------------

    def _token(self) -> object:
        """What identifies the cell whose context this code runs in (the request's msg_id)."""
        if self.kernel is None:
            return "cell"
        try:
            return self.kernel.get_parent().get("header", {}).get("msg_id")
        except Exception:
            return None

    def _pre_run_cell(self, *_: object) -> None:
        self._shown.clear()
        self._started = []
        self._before = {id(handle) for handle in running_handles()}
        self._cell = self._token()
        if self.kernel is not None:
            self._keep_awake(self._cell)

    def _keep_awake(self, cell: object) -> None:
        """Wake the kernel's loop every ``WAKE_EVERY`` s while this cell runs (see above)."""
        loop = running_loop()
        if loop is None:
            return

        def wake() -> None:
            if self._cell is cell and cell is not None:
                loop.call_later(WAKE_EVERY, wake)

        loop.call_later(WAKE_EVERY, wake)

    def _post_run_cell(self, *_: object) -> None:
        if self._cell is None:
            return
        try:
            self._show_started()
        except Exception:
            _log.exception("backgrounder: could not show the work started by this cell")
        finally:
            self._cell = None

    def _show_started(self) -> None:
        works: list[Task | Tasks] = list(self._started)
        works += [
            handle.work
            for handle in running_handles()
            if id(handle) not in self._before and handle.work not in works
        ]
        works = [work for work in works if id(work) not in self._shown]
        groups = [work for work in works if isinstance(work, Tasks)]
        loose = [work for work in works if isinstance(work, Task)]
        for group in groups:
            self.show(group)
        if len(loose) == 1:
            self.show(loose[0])
        elif loose:
            source = LooseSource(f"{len(loose)} tasks started in this cell", loose)
            if self.widgets:
                from .table import LiveTable

                table = LiveTable(source)
                for task in loose:
                    self._shown.add(id(task))
                table.display()
            else:
                display(TextView(source))

    def _on_event(self, event: TaskEvent) -> None:
        """A group (or a background task) started from the running cell: show it there now."""
        if event.kind is not EventKind.STARTED or self._cell is None:
            return
        if threading.current_thread() is not threading.main_thread():
            return
        work = event.task
        if isinstance(work, Task) and (work.group is not None or not _in_background(work)):
            return
        if id(work) in self._shown or self._token() != self._cell:
            return
        if not self.widgets:  # terminal: one text table when the cell ends, with the outcome
            if work not in self._started:
                self._started.append(work)
            return
        try:
            self.show(work)
        except Exception:  # a display problem must never break the run that triggered it
            _log.exception("backgrounder: could not show the table of %s", work.name)


class TextView:
    """Text (and static HTML) of a group, a task or a loose list, for terminals and logs."""

    def __init__(self, work: Task | Tasks | LooseSource) -> None:
        self.work = work

    def _snapshot(self) -> Any:
        from .snapshot import GroupSource

        work = self.work
        if isinstance(work, Tasks):
            return GroupSource(work).snapshot()
        if isinstance(work, Task):
            return LooseSource(work.name, [work]).snapshot()
        work.tracker = Tracker(work.tasks, work.tracker.window)  # re-read: no events here
        return work.snapshot()

    def _repr_mimebundle_(self, **_: Any) -> dict[str, Any]:
        snap = self._snapshot()
        return {"text/plain": group_text(snap), "text/html": group_html(snap)}

    def __repr__(self) -> str:
        return group_text(self._snapshot())


def display(obj: object, **kwargs: Any) -> Any:
    """``IPython.display.display``, imported when first used."""
    from IPython.display import display as ipython_display

    return ipython_display(obj, **kwargs)  # type: ignore[no-untyped-call]


def _in_background(task: Task) -> bool:
    return any(handle.work is task for handle in running_handles())


def _widgets_available() -> bool:
    try:
        import ipywidgets  # noqa: F401
    except ImportError:
        return False
    return True


def install_exit_hook() -> None:
    """At exit, cancel unfinished work and give it ``EXIT_GRACE`` to run its ``finally``.

    The core's own hook waits up to 10 s for work to end by itself, which suits scripts but
    keeps a kernel from restarting promptly. Exit hooks run last-registered first, so ours
    runs before the core's and leaves it nothing to do.
    """
    at_exit(_at_exit)


def _at_exit() -> None:
    try:
        shutdown(timeout=0, grace=EXIT_GRACE)
    except Exception:
        _log.debug("backgrounder: shutdown at exit failed", exc_info=True)
