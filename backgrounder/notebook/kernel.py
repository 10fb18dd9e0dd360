"""Where the extension meets the shell: which cell is running, what to show there, exit.

In a Jupyter kernel every cell runs on the kernel's asyncio loop, so the core already starts
work on that loop. Terminal IPython has no loop between cells: work started there goes to the
library's loop thread. The session also decides when a table appears on its own: a group
started by ``await tasks()`` (or ``tasks.start()``) from the running cell is shown in that
cell at once; work started by the cell but not yet running when the cell's code ends
(``tasks.start()`` in a sync cell) is shown as the cell ends.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
import threading
from collections import deque
from collections.abc import Callable
from typing import Any

from .. import (
    EventKind,
    Handle,
    Task,
    TaskEvent,
    Tasks,
    TaskState,
    running_handles,
    shutdown,
    subscribe,
)
from .._hops import running_loop
from .._loop import at_exit
from .sources import LooseSource
from .views import TextView, display, set_cell_context, static_bundle

__all__ = ["EXIT_GRACE", "EXIT_NOTE", "Session"]

EXIT_GRACE = 1.5  # seconds unfinished work gets to unwind when the kernel shuts down
EXIT_NOTE = (
    "The kernel stopped while this ran: its unfinished tasks were cancelled "
    "(a sync task's thread may have been still running)."
)
# ipykernel 7.4 turns SIGINT into cancelling an async cell through a callback that only runs
# when the kernel's loop next wakes up: a cell awaiting a 30 s sleep was measured to ignore
# Interrupt for the whole 30 s. Waking the loop this often while a cell runs bounds that delay.
WAKE_EVERY = 0.1
# Terminal IPython starts work on the library's loop thread: a row printed right after
# start() read "pending" for a task whose run began microseconds later. A row waits this long
# at most for work just started to begin (a task queued behind a limit stays pending).
BEGIN_WAIT = 0.5
_log = logging.getLogger("backgrounder")
PENDING = TaskState.PENDING


class Session:
    """The extension's state for one shell: cell tracking, automatic tables, displays.

    Everything here runs on the kernel's main thread (cell hooks, displays, formatters),
    except ``_on_event``: work may start on a worker thread (a sync task started with
    ``start()``), whose context is the cell's. Such work is queued in ``_arrived`` (a
    deque: appends are thread-safe) and shown from the main thread, at the cell's next
    ``await`` or at its end.
    """

    def __init__(self, shell: Any) -> None:
        self.shell = shell
        kernel = getattr(shell, "kernel", None)
        self.kernel = kernel
        self.widgets = kernel is not None and _widgets_available()
        self._cell: object = None  # the running cell's token, None between cells
        self._context: contextvars.Context | None = None  # a copy of the running cell's
        self._loop: asyncio.AbstractEventLoop | None = None  # the kernel's, while a cell runs
        self._shown: set[int] = set()  # id() of works shown in the running cell
        self._started: list[Task | Tasks | LooseSource] = []  # to show as the cell ends
        self._before: set[int] = set()  # id() of the handles running when the cell began
        self._arrived: deque[Task | Tasks] = deque()  # started on another thread, to show
        self._unsubscribe: Callable[[], None] | None = None

    # -- install / remove --------------------------------------------------------------------

    def install(self) -> None:
        events = self.shell.events
        events.register("pre_run_cell", self._pre_run_cell)
        events.register("post_run_cell", self._post_run_cell)
        self._unsubscribe = subscribe(self._on_event, (EventKind.STARTED,))
        set_cell_context(self.cell_context)
        at_exit(_at_exit)

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
        set_cell_context(lambda: None)

    @property
    def thread_loop(self) -> bool:
        """Whether work must go to the library's loop thread (no loop runs between cells)."""
        return self.kernel is None

    def cell_context(self) -> contextvars.Context | None:
        """A copy of the running cell's context (for display updates), None between cells."""
        return self._context if self._cell is not None else None

    # -- showing work ------------------------------------------------------------------------

    def show(self, work: Task | Tasks | Handle) -> None:
        """Display the live table (kernel) or the text table (terminal) of ``work`` here.

        Work that already ended shows its final static table: no widget is made.
        """
        if isinstance(work, Handle):
            work = work.work
        self._shown.add(id(work))
        if not self.widgets:
            self._wait_begun(work)
            display(TextView(work))
        elif work.state.finished:
            display(static_bundle(TextView(work).snapshot()), raw=True)
        else:
            from .table import table_for

            table_for(work).display()

    def show_table(self, table: Any, task: Task) -> None:
        """Display a ``%background --group`` table, once per cell however many tasks join."""
        self._shown.add(id(task))
        if id(table) in self._shown and self._cell is not None:
            return
        self._shown.add(id(table))
        if self.widgets:
            table.display()
        else:
            self._wait_begun(task)
            display(TextView(table))

    def show_at_end(self, work: Task | LooseSource) -> None:
        """Show ``work`` (a task, or a ``--group`` list) when the running cell ends, unless
        the cell's value showed it: text, read once its run began, so one true line."""
        if self._cell is None:  # called outside a cell: show it now
            self._wait_begun(work)
            display(TextView(work))
        elif work not in self._started:
            self._started.append(work)

    def shown_here(self, work: object) -> bool:
        """True if ``work``'s table was already shown by the running cell."""
        return self._cell is not None and id(work) in self._shown

    def show_object(self, obj: Task | Tasks | Handle) -> None:
        """How a kernel displays a Task, Tasks or Handle (``display(x)``, a cell's value).

        Registered as IPython's ``ipython_display_formatter``, so that the table goes out
        with a display id (its display becomes static HTML when the work ends), and a cell
        whose value is a handle shows the table once, not also as its result: a second
        display would be a text that never changes (``<Handle slow(5) pending>`` was left
        under a row saying the task had timed out).
        """
        work = obj.work if isinstance(obj, Handle) else obj
        if not self.shown_here(work):
            self.show(work)

    def bundle(self, obj: Task | Tasks | Handle) -> dict[str, Any]:
        """The mime bundle of a Task, Tasks or Handle where there is no kernel (text)."""
        work = obj.work if isinstance(obj, Handle) else obj
        if self.shown_here(work):
            return {"text/plain": repr(obj)}
        self._wait_begun(work)
        shown: Task | Tasks | LooseSource = work
        if self._cell is not None:  # the cell's value: what the cell was to show as it ended
            shown = next((t for t in self._deferred() if work in t.tasks), work)
            self._shown.update([id(shown), id(work)])
        return TextView(shown)._repr_mimebundle_()

    def _deferred(self) -> list[LooseSource]:
        return [work for work in self._started if isinstance(work, LooseSource)]

    def _wait_begun(self, work: Task | Tasks | LooseSource) -> None:
        """Wait at most ``BEGIN_WAIT`` for work just started on another thread to begin."""
        if isinstance(work, LooseSource):
            for task in work.tasks:
                self._wait_begun(task)
            return
        handle = next((h for h in running_handles() if h.work is work), None)
        if handle is None or handle.loop is running_loop() or work.state is not PENDING:
            return  # not starting, or it starts on this thread: waiting would hold it up
        began = threading.Event()

        def on_event(event: TaskEvent) -> None:
            if event.task is work:
                began.set()

        unsubscribe = subscribe(on_event, (EventKind.STARTED, EventKind.FINISHED))
        try:
            if work.state is PENDING:
                began.wait(BEGIN_WAIT)
        finally:
            unsubscribe()

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
        self._arrived.clear()
        self._before = {id(handle) for handle in running_handles()}
        self._context = contextvars.copy_context()
        self._cell = self._token()
        self._loop = running_loop()
        if self.kernel is not None and self._loop is not None:
            self._keep_awake(self._loop, self._cell)

    def _keep_awake(self, loop: asyncio.AbstractEventLoop, cell: object) -> None:
        """Wake the kernel's loop every ``WAKE_EVERY`` s while this cell runs (see above)."""

        def wake() -> None:
            if self._cell is cell and cell is not None:
                loop.call_later(WAKE_EVERY, wake)

        loop.call_later(WAKE_EVERY, wake)

    def _post_run_cell(self, *_: object) -> None:
        if self._cell is None:
            return
        try:
            self._show_arrived()
            self._show_started()
            if self.widgets:
                from .table import finish_ended

                # before the execute reply: clients that save the notebook keep only this
                finish_ended()
        except Exception:
            _log.exception("backgrounder: could not show the work started by this cell")
        finally:
            self._cell = None
            self._context = None
            self._loop = None

    def _show_started(self) -> None:
        for table in self._deferred():  # a --group list (terminal): its text once
            if id(table) not in self._shown:
                self._shown.update([id(table), *map(id, table.tasks)])
                self._wait_begun(table)
                display(TextView(table))
        works: list[Task | Tasks] = [w for w in self._started if not isinstance(w, LooseSource)]
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
            for task in loose:
                self._shown.add(id(task))
            if self.widgets:
                from .table import LiveTable

                LiveTable(source).display()
            else:
                display(TextView(source))

    def _on_event(self, event: TaskEvent) -> None:
        """A group (or a background task) started from the running cell: show it there."""
        if self._cell is None:
            return
        work = event.task
        if isinstance(work, Task) and (work.group is not None or not _in_background(work)):
            return
        if self._token() != self._cell:
            return
        if threading.current_thread() is threading.main_thread():
            self._show_new(work)
            return
        # a worker thread (a sync task started with start()): show it from the main thread
        self._arrived.append(work)
        loop, context = self._loop, self._context
        if loop is not None and context is not None:
            try:
                loop.call_soon_threadsafe(self._show_arrived, context=context)
            except RuntimeError:  # the kernel's loop is closed
                pass

    def _show_arrived(self) -> None:
        while self._arrived:
            self._show_new(self._arrived.popleft())

    def _show_new(self, work: Task | Tasks) -> None:
        if self._cell is None or id(work) in self._shown:
            return
        if not self.widgets:  # terminal: one text table when the cell ends, with the outcome
            if work not in self._started:
                self._started.append(work)
            return
        try:
            self.show(work)
        except Exception:  # a display problem must never break the run that triggered it
            _log.exception("backgrounder: could not show the table of %s", work.name)


def _in_background(task: Task) -> bool:
    return any(handle.work is task for handle in running_handles())


def _widgets_available() -> bool:
    try:
        import ipywidgets  # noqa: F401
    except ImportError:
        return False
    return True


def _at_exit() -> None:
    """At exit, cancel unfinished work, give it ``EXIT_GRACE`` to run its ``finally``, then
    turn every live table static, saying the kernel stopped.

    The core's own hook waits up to 10 s for work to end by itself, which suits scripts but
    keeps a kernel from restarting promptly. Exit hooks run last-registered first, so ours
    runs before the core's and leaves it nothing to do.
    """
    from . import table

    table.exit_note = EXIT_NOTE
    try:
        shutdown(timeout=0, grace=EXIT_GRACE)
    except Exception:
        _log.debug("backgrounder: shutdown at exit failed", exc_info=True)
    try:
        table.stop_all(EXIT_NOTE)
    except Exception:
        _log.debug("backgrounder: could not end the tables at exit", exc_info=True)
