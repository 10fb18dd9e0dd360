"""The live status table: one ipywidgets view per group, redrawn from snapshots by one writer.

Events (from any thread) only fold into the source's tracker and mark the table dirty. One
writer, a timer on the library's loop thread, redraws at most ``INTERVAL`` apart and sends
only the widget values that changed, within a message budget: IOPub drops messages past
about 1,000 queued and jupyter_server allows 1,000/s (DESIGN.md), so the budget, not the
number of tasks, bounds what a table sends. The loop thread keeps turning while a sync cell
blocks the kernel's loop, so the table stays live then too. Comm sends are thread-safe;
traitlets are not, hence a single writer per widget.
"""

from __future__ import annotations

import contextvars
import logging
import threading
import time
import weakref
from collections.abc import Callable
from functools import partial
from typing import Any

import ipywidgets as w
from ipywidgets.widgets.widget_bool import ToggleButtonStyle
from ipywidgets.widgets.widget_string import HTMLStyle

from .._events import EventKind, TaskEvent
from .._loop import loop_thread
from .._state import TaskState
from .._task import Task
from .render import group_html, group_text, header_html, row_detail_html, row_html
from .snapshot import (
    WINDOW,
    FinalSource,
    GroupSnapshot,
    GroupSource,
    LooseSource,
    RowSnapshot,
    cancel_task,
)

__all__ = ["BURST", "FILL_ROWS", "INTERVAL", "RATE", "WINDOW_SLOTS", "LiveTable", "table_for"]

INTERVAL = 0.1  # seconds between redraws at most (~10 per second)
RATE = 10.0  # widget updates per second a table may send on average...
BURST = 10.0  # ...and at once
HEADER_EVERY = 0.5  # the header (counts, elapsed) is resent at most this often while live
WINDOW_SLOTS = WINDOW  # rows a table shows at most (its widgets are reused as tasks come and go)
# rows given widgets per redraw while the work runs: 30 widgets, about 3 ms (0.1 ms each,
# measured), so a redraw on the loop thread never holds the GIL long; the window of 50 rows
# fills in half a second, and the final redraw makes whatever is still missing at once
FILL_ROWS = 10
ELAPSED_EVERY = 1.0  # a running table with nothing else new redraws this often (elapsed)
_log = logging.getLogger("backgrounder")
_RUNNING = TaskState.RUNNING
_QUEUED, _STARTED, _FINISHED = EventKind.QUEUED, EventKind.STARTED, EventKind.FINISHED

Source = GroupSource | LooseSource


class _Shared:
    """Layouts and styles shared by every table and row: one comm each, made once.

    Every widget otherwise gets a Layout (and a style) of its own, each a widget with a
    comm: a table's header alone went from 1.6 ms to 0.5 ms to build by sharing them.
    They are never closed by a table, and are made again if something closed them.
    """

    def __init__(self) -> None:
        self.header_layout = w.Layout(flex="1 1 auto")
        self.cancel_all_layout = w.Layout(width="auto")
        self.grid_layout = w.Layout(
            grid_template_columns="minmax(0, 1fr) auto auto", grid_gap="0 6px"
        )
        self.top_layout = w.Layout(width="100%")
        self.box_layout = w.Layout()
        self.row_layout = w.Layout(width="auto", overflow="hidden")
        self.button_layout = w.Layout(width="auto", height="24px")
        self.html_style = HTMLStyle()
        self.button_style = w.ButtonStyle()
        self.toggle_style = ToggleButtonStyle()

    def widgets(self) -> list[w.Widget]:
        return [value for value in vars(self).values() if isinstance(value, w.Widget)]

    def alive(self) -> bool:
        return all(widget.comm is not None for widget in self.widgets())


_shared_now: _Shared | None = None
_shared_lock = threading.Lock()


def _shared() -> _Shared:
    global _shared_now
    with _shared_lock:
        if _shared_now is None or not _shared_now.alive():
            _shared_now = _Shared()
        return _shared_now


class _Slot:
    """One row of the grid: the row's HTML, a details toggle and a Cancel button.

    Made by the writer when a row first needs it, and reused as the window moves.
    """

    def __init__(self, table: LiveTable, shared: _Shared, row: RowSnapshot) -> None:
        self.task = row.task  # for the buttons; None once the table keeps only its snapshot
        self.id: int | None = row.id
        self.state: TaskState | None = row.state
        self.sent_at = 0.0
        # classes given at construction ride in the comm_open; add_class() would cost an
        # update message per widget (52 of 73 messages while a 10,000-task table ran)
        self.html = w.HTML(
            value=row_html(row),
            layout=shared.row_layout,
            style=shared.html_style,
            _dom_classes=("bg-cell",),
        )
        self.details = w.ToggleButton(
            value=False,
            description="details",
            tooltip="traceback and output",
            icon="list",
            disabled=not row.has_details,
            layout=shared.button_layout,
            style=shared.toggle_style,
        )
        self.cancel = w.Button(
            description="Cancel",
            tooltip="cancel this task",
            icon="stop",
            disabled=row.state.finished,
            layout=shared.button_layout,
            style=shared.button_style,
        )
        self.details.observe(self._toggled, names="value")
        self.cancel.on_click(self._clicked)
        self._table = table

    def widgets(self) -> list[w.Widget]:
        return [self.html, self.details, self.cancel]

    # Frontend callbacks run on the kernel's main thread: they act and mark dirty, never draw.
    def _toggled(self, change: dict[str, Any]) -> None:
        tid = self.id
        if tid is not None:
            self._table._expanded[tid] = bool(change["new"])
            self._table.mark_dirty()

    def _clicked(self, _: object) -> None:
        task = self.task
        if task is not None:
            cancel_task(task)
            self._table.mark_dirty()


class LiveTable:
    """A live table for a ``Tasks`` group or a list of loose tasks (see ``table_for``).

    Building it makes only the header: row widgets cost about 0.1 ms each (traitlets and
    the comm's opening state), 150 for a full window, so the writer makes them when rows
    first need them, one redraw interval after the table is made, off the thread that runs
    the group. A group that ends sooner gets its rows drawn once, finished.
    """

    def __init__(self, source: Source, *, loop: Any = None) -> None:
        self.source: Source | FinalSource = source
        self.messages = 0  # widget updates sent by the writer (what the budget counts)
        self._loop = loop
        self._lock = threading.Lock()  # the source is swapped under it (final / run again)
        self._expanded: dict[int, bool] = {}
        self._dirty = False
        self._armed = False
        self._final = False
        self._closed = False
        self._live = False  # the last redraw showed running tasks (their elapsed times tick)
        self._timer: Any = None
        self._timer_at = 0.0
        self._last_tick = time.monotonic()  # the first redraw comes one interval from now
        self._header_at = 0.0
        self._tokens = BURST
        self._refilled = time.monotonic()
        self._idle = threading.Event()
        self._displays: list[tuple[Any, contextvars.Context]] = []
        self._reported = False
        self._shared = shared = _shared()
        self._slots: list[_Slot] = []

        # a group's tracker, noting its tasks' events (GroupSource.update, without the hops)
        self._note = source.tracker.update if isinstance(source, GroupSource) else None
        self._ready = False
        self._unsubscribe = source.subscribe(self._on_event)
        source.refresh()  # after subscribing: no event can fall in between
        snap = source.snapshot()
        self.header = w.HTML(
            value=header_html(snap),
            layout=shared.header_layout,
            style=shared.html_style,
            _dom_classes=("bg-header",),
        )
        self.cancel_all = w.Button(
            description="Cancel all",
            icon="stop",
            tooltip="cancel every unfinished task of this table",
            disabled=snap.state.finished,
            layout=shared.cancel_all_layout,
            style=shared.button_style,
        )
        self.cancel_all.on_click(self._cancel_all)
        self.grid = w.GridBox(
            [],
            layout=shared.grid_layout,
        )
        self._top = w.HBox([self.header, self.cancel_all], layout=shared.top_layout)
        # "bg-table": a stable hook (tests, user CSS), as in group_html
        self.widget = w.VBox(
            [self._top, self.grid], layout=shared.box_layout, _dom_classes=("bg-table",)
        )
        self._group = isinstance(source, GroupSource)  # a group's final table is static HTML
        self._ready = True
        if source.ended:
            self._final = True
        self.mark_dirty()

    # -- what the extension uses -------------------------------------------------------------

    @property
    def loop(self) -> Any:
        if self._loop is None:
            self._loop = loop_thread.loop
        return self._loop

    def snapshot(self) -> GroupSnapshot:
        return self.source.snapshot()

    def add(self, task: Task) -> None:
        """Show one more loose task (``%background --group``)."""
        source = self.source
        if isinstance(source, LooseSource):
            source.add(task)
            self._idle.clear()
            self.mark_dirty()

    @property
    def static(self) -> bool:
        """A group's table whose final redraw is out: it stays as it is until a re-run.

        Its displays then hold only the static HTML (and text): a notebook saved then and
        reopened without its kernel shows the table, where the widget mimetype would show
        "Loading widget..." (JupyterLab prefers it even when its model is gone). Loose
        tables (``%background``) stay widgets: more tasks may join them at any time.
        """
        return self._group and isinstance(self.source, FinalSource)

    def display(self) -> None:
        """Show the table in the current cell (call on the kernel's main thread).

        Always the live widget: a group shown when it (re)starts must follow the run even if
        the table has not yet heard of the new run. A table that has nothing left to draw
        gets one more final redraw, which turns this display into the static HTML.
        """
        from .kernel import display

        handle = display(self.live_bundle(), raw=True, display_id=True)
        if handle is not None:
            self._displays.append((handle, contextvars.copy_context()))
        if self.static:
            self._final = True
            self.mark_dirty()

    def wait_idle(self, timeout: float | None = None) -> bool:
        """Wait until the work ended and the final redraw was sent (tests, benchmarks)."""
        return self._idle.wait(timeout)

    def flush(self, timeout: float = 10.0) -> None:
        """Redraw everything now on the writer thread and wait for it (tests, benchmarks)."""
        done = threading.Event()

        def redraw() -> None:
            try:
                self._redraw(final=True)
            finally:
                done.set()

        self.loop.call_soon_threadsafe(redraw)
        if not done.wait(timeout):
            raise TimeoutError("the table did not redraw in time")

    def close(self) -> None:
        """Stop listening, close every widget (layouts and styles too) and let go of the work.

        ipywidgets keeps every open widget in a registry, so a widget left open keeps its
        callbacks, hence this table and its group, alive for the life of the kernel.
        """
        self._closed = True
        self._unsubscribe()
        with self._lock:
            source = self.source
            if not isinstance(source, FinalSource):
                self._note = None
                self.source = FinalSource(source.snapshot())
        _forget(self)
        widgets: list[w.Widget] = [self.widget, self._top, self.grid, self.header, self.cancel_all]
        for slot in self._slots:
            slot.task = None
            widgets += slot.widgets()
        shared = set(map(id, self._shared.widgets()))
        for widget in widgets:
            _close_widget(widget, shared)
        if self._timer is not None:
            try:
                self.loop.call_soon_threadsafe(self._stop_timer)
            except RuntimeError:  # the loop is closed (interpreter exit)
                pass

    def _repr_mimebundle_(self, **_: Any) -> dict[str, Any]:
        """The static bundle once the group has ended (see ``static``), else the widget's."""
        if self._group and self.source.ended:
            return self.static_bundle()
        return self.live_bundle()

    def static_bundle(self) -> dict[str, Any]:
        snap = self.source.snapshot()
        return {"text/plain": group_text(snap), "text/html": group_html(snap)}

    def live_bundle(self) -> dict[str, Any]:
        """The widget, with the text and static HTML renderings kept in the same output."""
        bundle: dict[str, Any] = dict(self.widget._repr_mimebundle_() or {})
        bundle.update(self.static_bundle())
        return bundle

    # -- events (any thread) -------------------------------------------------------------------

    def _on_event(self, event: TaskEvent) -> None:
        kind = event.kind
        item = event.task
        note = self._note
        if note is not None and isinstance(item, Task):  # a group's task: the hot path
            if kind is _STARTED or kind is _FINISHED:
                note(item)
            elif kind is _QUEUED:
                return  # the group's STARTED already counted every task pending
            self._dirty = True
            if not self._armed:
                self.mark_dirty()
            return
        if isinstance(item, Task):
            self.source.update(event)
            if kind is _FINISHED and isinstance(self.source, LooseSource) and self.source.ended:
                self._final = True
        elif kind is _FINISHED:
            self.source.update(event)
            self._final = True
        elif kind is _STARTED:  # the group (re)starts: before any of its tasks' events
            with self._lock:
                source = self.source
                if isinstance(source, FinalSource):  # run again: follow the new run
                    self.source = source = GroupSource(item, scan=False)
                    self._note = source.tracker.update
                source.update(event)
            self._idle.clear()
        self._dirty = True
        if not self._armed:
            self.mark_dirty()

    def mark_dirty(self) -> None:
        self._dirty = True
        if self._ready and not self._armed and not self._closed:
            self._armed = True
            try:
                self.loop.call_soon_threadsafe(self._arm)
            except RuntimeError:  # the loop is closed (interpreter exit)
                pass

    def _cancel_all(self, _: object) -> None:
        self.source.cancel()
        self.mark_dirty()

    # -- the writer (the loop thread only) -----------------------------------------------------

    def _arm(self, delay: float | None = None) -> None:
        if self._closed:
            return
        now = time.monotonic()
        at = now + delay if delay is not None else max(now, self._last_tick + INTERVAL)
        if self._timer is not None:
            if self._timer_at <= at:
                return
            self._timer.cancel()
        self._timer_at = at
        self._timer = self.loop.call_later(at - now, self._tick)

    def _stop_timer(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _tick(self) -> None:
        self._timer = None
        if self._closed:
            return
        self._dirty = False
        final = self._final
        self._final = False
        try:
            pending = self._redraw(final)
            if final and not pending and self._freeze():
                self._redraw(final)  # sends nothing unless a re-run slipped in between
        except Exception:
            pending = False
            if not self._reported:
                self._reported = True
                _log.exception("backgrounder: the status table failed to redraw")
        self._last_tick = time.monotonic()
        if final and not pending:
            self._update_displays()
            if self.source.ended:
                self._idle.set()
        if pending or self._dirty:
            self._arm()
            return
        self._armed = False
        if self._is_dirty():  # an event came in between: it saw _armed True and left it to us
            self._armed = True
            self._arm()
        elif self._live and not self.source.ended:
            self._arm(ELAPSED_EVERY)  # keep elapsed times moving; an event brings it forward

    def _is_dirty(self) -> bool:
        return self._dirty  # read again: another thread may have set it

    def _freeze(self) -> bool:
        """The group ended and its final redraw is out: keep its snapshot, not its tasks."""
        with self._lock:
            source = self.source
            if not isinstance(source, GroupSource) or not source.ended:
                return False
            self._note = None
            self.source = FinalSource(source.snapshot())
        for slot in self._slots:
            slot.task = None
        return True

    def _refill(self, now: float) -> None:
        self._tokens = min(BURST, self._tokens + (now - self._refilled) * RATE)
        self._refilled = now

    def _redraw(self, final: bool) -> bool:
        """Send what changed since the last redraw; True if the budget left changes unsent."""
        now = time.monotonic()
        self._refill(now)
        snap = self.source.snapshot()
        self._live = snap.counts[_RUNNING] > 0
        changes: list[tuple[int, float, Callable[[], None]]] = []
        header = header_html(snap)
        if header != self.header.value:
            if final or now - self._header_at >= HEADER_EVERY:
                changes.append((0, 0.0, lambda: self._set_header(header, now)))
            else:
                changes.append((9, 0.0, lambda: None))  # not yet: keep the ticker going
        ended = snap.state.finished
        if self.cancel_all.disabled != ended:
            changes.append((0, 0.0, lambda: setattr(self.cancel_all, "disabled", ended)))
        if len(self._slots) < len(snap.rows):
            limit = None if final else FILL_ROWS
            changes.append((1, 0.0, lambda: self._fill_slots(snap, limit)))
        for slot, row in zip(self._slots, snap.rows, strict=False):
            if slot.id == row.id:  # a frozen table's slots get their task back on a re-run
                slot.task = row.task
            changes.extend(self._slot_changes(slot, row, now))
        for slot in self._slots[len(snap.rows) :]:
            if slot.id is not None:
                changes.append((1, 0.0, partial(self._clear_slot, slot)))
        changes.sort(key=lambda change: change[:2])
        for priority, _, apply in changes:
            if priority == 9:
                return True
            if not final and self._tokens < 1:
                return True
            apply()
        return len(self._slots) < len(snap.rows)  # more rows to make at the next redraw

    def _set_header(self, value: str, now: float) -> None:
        self._header_at = now
        self._send(self.header, "value", value)

    def _slot_changes(
        self, slot: _Slot, row: RowSnapshot, now: float
    ) -> list[tuple[int, float, Callable[[], None]]]:
        """The row's content first (state changes before elapsed ticks), then its buttons."""
        changes: list[tuple[int, float, Callable[[], None]]] = []
        moved = slot.id != row.id
        expanded = self._expanded.get(row.id, False)
        value = row_html(row, row_detail_html(row) if expanded else "")
        if moved or slot.state is not row.state or slot.html.value != value:

            def content() -> None:  # the Cancel button acts on the row the slot shows
                slot.task, slot.id, slot.state, slot.sent_at = row.task, row.id, row.state, now
                if moved and slot.details.value != expanded:
                    self._send(slot.details, "value", expanded)
                if slot.html.value != value:
                    self._send(slot.html, "value", value)

            # a task ending (the news users wait for) before one starting, before elapsed ticks
            if moved or (slot.state is not row.state and row.state.finished):
                priority = 1
            else:
                priority = 2 if slot.state is not row.state else 4
            changes.append((priority, slot.sent_at, content))
        no_details = not row.has_details
        finished = row.state.finished
        if slot.details.disabled != no_details or slot.cancel.disabled != finished:

            def controls() -> None:
                if slot.details.disabled != no_details:
                    self._send(slot.details, "disabled", no_details)
                if slot.cancel.disabled != finished:
                    self._send(slot.cancel, "disabled", finished)

            changes.append((3, slot.sent_at, controls))
        return changes

    def _clear_slot(self, slot: _Slot) -> None:
        slot.task = slot.id = slot.state = None
        self._send(slot.html, "value", "")
        if not slot.cancel.disabled:
            self._send(slot.cancel, "disabled", True)
        if not slot.details.disabled:
            self._send(slot.details, "disabled", True)

    def _fill_slots(self, snap: GroupSnapshot, limit: int | None) -> None:
        """Make the slots new rows need (once each: slots are reused as the window moves).

        At most ``limit`` rows per redraw while the work runs, so that no redraw holds the
        GIL for long. Their comm openings are not charged to the budget: like the header's,
        they happen once per slot and the window bounds them (150 at most).
        """
        rows = snap.rows[len(self._slots) :]
        if limit is not None:
            rows = rows[:limit]
        if not rows:
            return
        self._slots += [_Slot(self, self._shared, row) for row in rows]
        self.messages += 3 * len(rows)  # their comm_open messages
        self._send(self.grid, "children", [x for slot in self._slots for x in slot.widgets()])

    def _send(self, widget: w.Widget, name: str, value: object) -> None:
        setattr(widget, name, value)
        self.messages += 1
        self._tokens -= 1

    def _update_displays(self) -> None:
        """End each display with the final state: a group's as static HTML only (``static``),
        a loose table's as its widget with the static HTML refreshed alongside."""
        if not self._displays:
            return
        bundle = self.static_bundle() if self.static else self.live_bundle()
        for handle, context in self._displays:
            try:
                context.run(handle.update, bundle, raw=True)
            except Exception:
                _log.debug("backgrounder: could not update a table display", exc_info=True)


def _close_widget(widget: w.Widget, shared: set[int]) -> None:
    """Close a widget and any layout or style of its own (each has a comm)."""
    for name in ("layout", "style"):
        part = getattr(widget, name, None) if widget.has_trait(name) else None
        if isinstance(part, w.Widget) and id(part) not in shared:
            part.close()
    widget.close()


# id(work) -> (weak reference to the work, its table): the table lives on in its widgets'
# callbacks while shown, but must not keep a finished group (and every task) alive.
_tables: dict[int, tuple[weakref.ref[Any], LiveTable]] = {}
_tables_lock = threading.RLock()  # re-entrant: a weakref callback may run inside it (gc)


def table_for(work: Any) -> LiveTable:
    """The one live table of a ``Tasks`` group or a ``Task`` (created on first use)."""
    from .._group import Tasks

    key = id(work)
    with _tables_lock:
        entry = _tables.get(key)
        if entry is not None and entry[0]() is work and not entry[1]._closed:
            return entry[1]
        if isinstance(work, Tasks):
            table = LiveTable(GroupSource(work))
        elif isinstance(work, Task):
            table = LiveTable(LooseSource(work.name, [work]))
        else:
            raise TypeError(f"no table for {type(work).__name__}")
        ref = weakref.ref(work, partial(_dropped, key))
        _tables[key] = (ref, table)
        return table


def _dropped(key: int, ref: weakref.ref[Any]) -> None:
    with _tables_lock:
        entry = _tables.get(key)
        if entry is not None and entry[0] is ref:
            del _tables[key]


def _forget(table: LiveTable) -> None:
    """A closed table is no longer the one ``table_for`` returns."""
    with _tables_lock:
        for key, (_, other) in list(_tables.items()):
            if other is table:
                del _tables[key]
