"""The live status table: widgets made equal to a pure view of the work at each redraw.

Threads and locks:

- Events come from any thread (the loop that runs async tasks, worker threads for sync
  ones). ``_on_event`` folds each into the source (O(1)) and notes how urgent the news is
  (``_news``, under ``_news_lock``); the first news since the last redraw schedules one.
- The writer is the library's loop thread (``loop_thread``): it keeps turning while a sync
  cell blocks the kernel's loop, so the table stays live then too. A redraw reads a
  snapshot, computes ``table_view`` and sets only the widget values that differ from what
  was last sent. The pacer (``pacing.py``) says when the next redraw is due.
- Ending a table (static HTML, widgets closed) also happens on the kernel's main thread,
  at the end of a cell (``finish_ended``) and at kernel exit (``stop_all``). ``_lock``
  (re-entrant) is held by whoever writes widgets or swaps the source, so each widget has
  one writer at a time (traitlets have no locks; comm sends are thread-safe).
- Button clicks run on the main thread: they act on the task and note news, never draw.

What a redraw sends is bounded whatever the number of tasks: the header, all rows' text
(one HTML widget for the whole window), the details panel, "Cancel all", and the rows'
Cancel buttons whose enabled state changed (running rows come first in a big table, so a
redraw flips few of them); every changed row is brought up to date in the same redraw.
"""

from __future__ import annotations

import contextvars
import logging
import threading
import time
import weakref
from functools import partial
from typing import Any

import ipywidgets as w
from ipywidgets.widgets.widget_string import HTMLStyle

from .. import Task, TaskEvent, Tasks, TaskState
from .._loop import loop_thread
from .pacing import Pacer, Urgency
from .render import ROW_PX
from .snapshot import GroupSnapshot
from .sources import FinalSource, GroupSource, LooseSource, Source, cancel_task
from .view import TableView, table_view
from .views import cell_context, display, static_bundle

__all__ = ["LiveTable", "finish_ended", "live_tables", "stop_all", "table_for"]

_log = logging.getLogger("backgrounder")
_RUNNING = TaskState.RUNNING
_CHANGE, _TICK = Urgency.CHANGE, Urgency.TICK
EXIT_LOCK_WAIT = 1.0  # seconds the exit hook waits for a redraw in progress
FILL_ROWS = 10  # rows given their buttons per redraw while the work runs (see _resize)
exit_note: str | None = None  # set when the kernel stops: every table ending then says so


class _Pool:
    """Layouts and styles shared by every open table: one comm each, not one per widget.

    Made when the first table opens and closed when the last one closes, so that no
    widget stays open once every table has ended.
    """

    def __init__(self) -> None:
        self.top = w.Layout(width="100%", align_items="flex-start")
        self.header = w.Layout(flex="1 1 auto", min_width="0", width="auto")
        self.cancel_all = w.Layout(width="auto", flex="none", height="28px")
        self.grid = w.Layout(
            grid_template_columns="minmax(0, 1fr) auto auto",
            grid_auto_rows=f"{ROW_PX}px",
            grid_gap="0 4px",
            width="100%",
        )
        self.box = w.Layout(width="100%")
        self.details = w.Layout(width="auto", margin="0 2px")
        self.button = w.Layout(width="auto", height=f"{ROW_PX - 2}px", margin="1px 0")
        self.html_style = HTMLStyle()
        self.button_style = w.ButtonStyle()

    def widgets(self) -> list[w.Widget]:
        return [value for value in vars(self).values() if isinstance(value, w.Widget)]


_pool: _Pool | None = None
_pool_users = 0
_pool_lock = threading.Lock()  # guards _pool and _pool_users


def _acquire_pool() -> _Pool:
    global _pool, _pool_users
    with _pool_lock:
        if _pool is None:
            _pool = _Pool()
        _pool_users += 1
        return _pool


def _release_pool() -> None:
    global _pool, _pool_users
    with _pool_lock:
        _pool_users -= 1
        if _pool_users > 0 or _pool is None:
            return
        pool, _pool = _pool, None
    for widget in pool.widgets():
        widget.close()


class _Slot:
    """The buttons of one row position: details (open or close) and Cancel."""

    def __init__(self, table: LiveTable, index: int, pool: _Pool, cancellable: bool) -> None:
        # classes given at construction ride in the comm_open (no update message each)
        self.details = w.Button(
            icon="list",
            tooltip="traceback and output",
            layout=pool.button,
            style=pool.button_style,
            _dom_classes=("bg-details-button",),
        )
        self.cancel = w.Button(
            description="Cancel",
            icon="stop",
            tooltip="cancel this task",
            disabled=not cancellable,
            layout=pool.button,
            style=pool.button_style,
            _dom_classes=("bg-cancel",),
        )
        self.details.on_click(partial(table._toggle_row, index))
        self.cancel.on_click(partial(table._cancel_row, index))

    def widgets(self) -> list[w.Widget]:
        return [self.details, self.cancel]


class LiveTable:
    """A live table for a ``Tasks`` group or a list of loose tasks (see ``table_for``).

    It shows its work until the work ends, then each of its displays becomes the final
    static HTML, its widgets are closed and it keeps only its last snapshot.
    """

    def __init__(self, source: Source) -> None:
        self.source: Source = source
        self.redraws = 0  # how many redraws sent something (benchmarks, tests)
        self.messages = 0  # widget messages the redraws sent (updates and comm openings)
        self._lock = threading.RLock()  # see the module: the widgets' single writer
        self._news: Urgency | None = None  # the most urgent news not drawn yet
        self._news_lock = threading.Lock()
        self._timer: Any = None  # the writer's next redraw (an asyncio TimerHandle)
        self._timer_at = 0.0
        self._pacer = Pacer(time.monotonic())
        self._expanded: frozenset[int] = frozenset()  # ids of the rows opened by "details"
        self._displays: list[tuple[Any, contextvars.Context]] = []
        self._closed = False
        self._reported = False
        self._live_states: set[TaskState] = set()  # the states of the rows last drawn
        self._idle = threading.Event()
        self._pool = _acquire_pool()
        self._slots: list[_Slot] = []
        self._intake = source.update
        self._unsubscribe = source.subscribe(self._on_event)
        snap = source.snapshot()
        view = table_view(snap)
        pool = self._pool
        self.header = w.HTML(
            value=view.header,
            layout=pool.header,
            style=pool.html_style,
            _dom_classes=("bg-header",),
        )
        self.cancel_all = w.Button(
            description="Cancel all",
            icon="stop",
            tooltip="cancel every unfinished task of this table",
            disabled=not view.cancel_all,
            layout=pool.cancel_all,
            style=pool.button_style,
            _dom_classes=("bg-cancel-all",),
        )
        self.cancel_all.on_click(self._cancel_all)
        # the rows' text spans the grid's first column, one ROW_PX track per row; the
        # buttons fill the other two columns in order, so each lines up with its row
        self.rows = w.HTML(
            value="",
            layout=w.Layout(grid_row="1 / span 1", grid_column="1", margin="0 2px"),
            style=pool.html_style,
            _dom_classes=("bg-cell",),
        )
        self.details = w.HTML(value="", layout=pool.details, style=pool.html_style)
        self.grid = w.GridBox([self.rows], layout=pool.grid)
        self._top = w.HBox([self.header, self.cancel_all], layout=pool.top)
        self.widget = w.VBox(
            [self._top, self.grid, self.details],
            layout=pool.box,
            _dom_classes=("bg-table", "bg-live"),
        )
        # rows and their buttons come at the first redraw, on the writer: a group that
        # ends within one interval never makes them
        self._shown = TableView(view.header, "", "", (), (), view.cancel_all, False)
        self.messages = 0
        with _live_lock:
            _live.add(self)
        self._note(Urgency.FINAL if source.ended else Urgency.CHANGE)

    # -- what the extension uses -------------------------------------------------------------

    @property
    def closed(self) -> bool:
        """The work ended (or the table was closed): only the static HTML is left."""
        return self._closed

    def snapshot(self) -> GroupSnapshot:
        return self.source.snapshot()

    def add(self, task: Task) -> bool:
        """Show one more loose task (``%background --group``); False if the table ended."""
        with self._lock:
            if self._closed or not self.source.add(task):
                return False
            self._idle.clear()
        self._note(Urgency.CHANGE)
        return True

    def display(self) -> None:
        """Show the table in the current cell (on the kernel's main thread).

        While the work runs: the widget, with the text and static HTML alongside (what a
        client that knows no widgets shows). An ended table shows its static HTML only.
        """
        with self._lock:
            if self._closed:
                display(static_bundle(self.source.snapshot()), raw=True)
                return
            bundle: dict[str, Any] = dict(self.widget._repr_mimebundle_() or {})
            bundle.update(static_bundle(self.source.snapshot()))
            handle = display(bundle, raw=True, display_id=True)
            if handle is not None:
                self._displays.append((handle, contextvars.copy_context()))

    def _repr_mimebundle_(self, **_: Any) -> dict[str, Any]:
        snap = self.source.snapshot()
        if self._closed:
            return static_bundle(snap)
        bundle: dict[str, Any] = dict(self.widget._repr_mimebundle_() or {})
        bundle.update(static_bundle(snap))
        return bundle

    def wait_idle(self, timeout: float | None = None) -> bool:
        """Wait until the work ended and the final table was drawn (tests, benchmarks)."""
        return self._idle.wait(timeout)

    def flush(self, timeout: float = 10.0) -> None:
        """Redraw now on the writer thread and wait for it (tests, benchmarks)."""
        done = threading.Event()

        def redraw() -> None:
            try:
                self._redraw()
            finally:
                done.set()

        loop_thread.loop.call_soon_threadsafe(redraw)
        if not done.wait(timeout):
            raise TimeoutError("the table did not redraw in time")

    def finish(self, note: str | None = None, *, here: bool = True) -> None:
        """End the table now, on this thread: final static displays, widgets closed.

        ``here``: update the displays under the caller's context (the running cell's, at
        the end of a cell) rather than each display's own.
        """
        with self._lock:
            if self._closed:
                return
            snap = self.source.snapshot()
            self._end(snap.frozen(note), here=here)

    def close(self) -> None:
        """Stop listening and close the widgets, leaving the displays as they are."""
        with self._lock:
            if self._closed:
                return
            self._end(self.source.snapshot().frozen(), here=False, update=False)

    # -- events (any thread) -------------------------------------------------------------------

    def _on_event(self, event: TaskEvent) -> None:
        # the hot path (two or three events per task): one call into the source, and a
        # note only when no redraw is due yet
        if self._intake(event) and self.source.ended:
            self._note(Urgency.FINAL)
        elif self._news is None or self._news is _TICK:  # an elapsed tick is due: sooner
            self._note(_CHANGE)

    def _note(self, urgency: Urgency) -> None:
        """Record news; the first since the last redraw (or more urgent) schedules one."""
        news = self._news
        if news is not None and news <= urgency:
            return  # the hot path: a redraw is already due for news as urgent
        with self._news_lock:
            news = self._news
            if news is not None and news <= urgency:
                return
            self._news = urgency
        try:
            loop_thread.loop.call_soon_threadsafe(self._schedule)
        except RuntimeError:  # the loop is closed (interpreter exit)
            pass

    # -- the writer (the loop thread only) -----------------------------------------------------

    def _schedule(self) -> None:
        news = self._news
        if news is None or self._closed:
            return
        now = time.monotonic()
        at = self._pacer.due(news, now)
        if self._timer is not None:
            if self._timer_at <= at:
                return
            self._timer.cancel()
        self._timer_at = at
        self._timer = loop_thread.loop.call_later(at - now, self._tick)

    def _tick(self) -> None:
        self._timer = None
        try:
            self._redraw(FILL_ROWS)
        except Exception:
            if not self._reported:
                self._reported = True
                _log.exception("backgrounder: the status table failed to redraw")
        if self._closed:
            return
        if len(self._slots) < len(self._shown.ids):
            self._note(_CHANGE)  # more rows' buttons to make
        if self._news is not None:
            self._schedule()
        elif _RUNNING in self._live_states:
            self._note(Urgency.TICK)  # keep elapsed times moving; an event brings it forward

    def _redraw(self, fill: int | None = None) -> None:
        """Make the widgets show the view of the work now (``fill``: see ``_resize``)."""
        with self._lock:
            if self._closed:
                return
            with self._news_lock:
                self._news = None
            snap = self.source.snapshot()
            if self.source.ended:
                self._end(snap.frozen(exit_note), here=False)
                return
            self._live_states = {row.state for row in snap.rows}
            sent = self._apply(table_view(snap, self._expanded), fill)
            self._pacer.spent(sent, time.monotonic())

    def _apply(self, view: TableView, fill: int | None = None) -> int:
        """Make the widgets show ``view``; how many messages that sent."""
        shown = self._shown
        sent = 0
        # Buttons are disabled before the text says their row ended, and enabled after it
        # says the row runs: between two messages no ended row has an enabled Cancel. The
        # text goes before new rows' buttons: a frontend shows it without waiting for them.
        flips = [
            (slot.cancel, enabled)  # slots made or dropped below are left out
            for slot, enabled in zip(self._slots, view.cancellable, strict=False)
            if slot.cancel.disabled == enabled
        ]
        if self.cancel_all.disabled == view.cancel_all:
            flips.append((self.cancel_all, view.cancel_all))
        for button, enabled in flips:
            if not enabled:
                button.disabled = True
        if view.header != shown.header:
            self.header.value = view.header
            sent += 1
        if view.rows != shown.rows:
            self.rows.value = view.rows
            sent += 1
        if view.details != shown.details:
            self.details.value = view.details
            sent += 1
        if len(view.ids) != len(self._slots):
            sent += self._resize(view, fill)
        for button, enabled in flips:
            if enabled:
                button.disabled = False
        sent += len(flips)
        self._shown = view
        self.messages += sent
        self.redraws += sent > 0
        return sent

    def _resize(self, view: TableView, fill: int | None) -> int:
        """Button slots for the rows: a new slot opens a comm per button (two widgets).

        At most ``fill`` new rows get theirs per redraw while the work runs: 20 widgets,
        a few ms on the writer, so that a redraw never holds the GIL long while the tasks
        run (a row's text is complete at once; its buttons follow within a few redraws).
        """
        want = len(view.ids)
        old = self._slots
        sent = 0
        if want > len(old):
            count = want if fill is None else min(want, len(old) + fill)
            made = [_Slot(self, i, self._pool, view.cancellable[i]) for i in range(len(old), count)]
            self._slots = old + made
            sent += 2 * len(made)
        else:
            self._slots = old[:want]
            for slot in old[want:]:
                for widget in slot.widgets():
                    widget.close()
        if len(self._slots) != len(old):
            self.grid.children = [self.rows, *(x for slot in self._slots for x in slot.widgets())]
            sent += 1
        span = f"1 / span {max(want, 1)}"
        if self.rows.layout.grid_row != span:
            self.rows.layout.grid_row = span
            sent += 1
        return sent

    def _end(self, final: GroupSnapshot, *, here: bool, update: bool = True) -> None:
        """The work ended: displays to the static table, widgets closed, tasks let go."""
        self._closed = True
        self.source = FinalSource(final)
        self._intake = self.source.update  # the old source's method would keep the work
        self._unsubscribe()
        self._unsubscribe = _nothing
        if self._timer is not None:
            timer, self._timer = self._timer, None
            try:
                loop_thread.loop.call_soon_threadsafe(timer.cancel)
            except RuntimeError:  # the loop is closed (interpreter exit)
                pass
        if update:
            self._update_displays(static_bundle(final), here)
        self._displays = []
        for widget in [self.widget, self._top, self.grid, self.header, self.cancel_all]:
            widget.close()
        for widget in [self.rows.layout, self.rows, self.details]:
            widget.close()
        for slot in self._slots:
            for widget in slot.widgets():
                widget.close()
        self._slots = []
        _release_pool()
        _forget(self)
        self._idle.set()

    def _update_displays(self, bundle: dict[str, Any], here: bool) -> None:
        running = None if here else cell_context()
        for handle, context in self._displays:
            try:
                if here:
                    handle.update(bundle, raw=True)
                else:
                    (running or context).run(handle.update, bundle, raw=True)
            except Exception:
                _log.debug("backgrounder: could not update a table display", exc_info=True)
            if not here and running is None:
                with _live_lock:
                    _between.append((handle, bundle))
                    del _between[:-BETWEEN_KEPT]

    # -- buttons (the kernel's main thread) ----------------------------------------------------

    def _toggle_row(self, index: int, _: object) -> None:
        ids = self._shown.ids
        if index < len(ids) and not self._closed:
            self._expanded = self._expanded ^ {ids[index]}
            self._note(Urgency.CHANGE)

    def _cancel_row(self, index: int, _: object) -> None:
        ids = self._shown.ids
        if index < len(ids) and not self._closed:
            task = self.source.find(ids[index])
            if task is not None:
                cancel_task(task)
            self._note(Urgency.CHANGE)

    def _cancel_all(self, _: object) -> None:
        if not self._closed:
            self.source.cancel()
            self._note(Urgency.CHANGE)


def _nothing() -> None:
    pass


# Tables whose work runs: held here until they end, so that the end of a cell and the
# kernel's exit can finish them (their widgets would hold them anyway).
_live: set[LiveTable] = set()
# Final displays of tables that ended between two cells: sent again at the end of the next
# cell, whose messages clients like nbclient do read (they drop those of no running cell).
_between: list[tuple[Any, dict[str, Any]]] = []
BETWEEN_KEPT = 100
_live_lock = threading.Lock()  # guards _live and _between


def live_tables() -> list[LiveTable]:
    with _live_lock:
        return list(_live)


def finish_ended() -> None:
    """End, here and now, every table whose work has ended (the end of a cell).

    The writer would do it within an interval, but after the cell's execute reply:
    nbclient, nbconvert and papermill keep only what comes before it. Final displays sent
    while no cell ran are sent again now, for the same reason.
    """
    with _live_lock:
        again = list(_between)
        _between.clear()
    for handle, bundle in again:
        try:
            handle.update(bundle, raw=True)
        except Exception:
            _log.debug("backgrounder: could not update a table display", exc_info=True)
    for table in live_tables():
        if table.source.ended:
            table.finish(here=True)


def stop_all(note: str) -> None:
    """End every table now with ``note`` (the kernel is stopping), whatever its work does."""
    for table in live_tables():
        if table._lock.acquire(timeout=EXIT_LOCK_WAIT):
            try:
                table.finish(note, here=False)
            finally:
                table._lock.release()


# id(work) -> (weak reference to the work, its table): a table must not keep its work alive.
_tables: dict[int, tuple[weakref.ref[Any], LiveTable]] = {}
_tables_lock = threading.RLock()  # re-entrant: a weakref callback may run inside it (gc)


def table_for(work: Task | Tasks) -> LiveTable:
    """The live table of a ``Tasks`` group or a ``Task`` (made on first use, and again
    once the last one ended)."""
    key = id(work)
    with _tables_lock:
        entry = _tables.get(key)
        if entry is not None and entry[0]() is work and not entry[1].closed:
            return entry[1]
        source: Source = (
            GroupSource(work) if isinstance(work, Tasks) else LooseSource(work.name, [work])
        )
        table = LiveTable(source)
        if not table.closed:
            _tables[key] = (weakref.ref(work, partial(_dropped, key)), table)
        return table


def _dropped(key: int, ref: weakref.ref[Any]) -> None:
    with _tables_lock:
        entry = _tables.get(key)
        if entry is not None and entry[0] is ref:
            del _tables[key]


def _forget(table: LiveTable) -> None:
    """An ended table is no longer live nor the one ``table_for`` returns."""
    with _live_lock:
        _live.discard(table)
    with _tables_lock:
        for key, (_, other) in list(_tables.items()):
            if other is table:
                del _tables[key]
