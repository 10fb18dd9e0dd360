"""Text and HTML renderings of snapshots: pure functions, for the live and the static table.

Everything a task supplies (name, arguments, result, error, traceback, output) goes through
``escape`` here before it becomes HTML (control characters shown as ``repr`` shows them, then
``html.escape``), and through ``escape_controls`` before it becomes text, so no task can clear
or retitle a terminal or fake a row; output is rendered as a terminal would show it
(``terminal.py``). No other module builds HTML from task text.
Both renderings carry the same stable hooks (tests, user CSS): ``bg-table`` on the root,
``bg-header`` on the header, ``bg-row`` with ``data-state`` and ``data-id`` on each row.
"""

from __future__ import annotations

import html
import math

from .. import TaskState
from .snapshot import GroupSnapshot, RowSnapshot
from .terminal import escape_controls, terminal_html, terminal_text

__all__ = [
    "BAR_ORDER",
    "MARKS",
    "ROW_PX",
    "attempts_text",
    "details_html",
    "format_elapsed",
    "group_html",
    "group_text",
    "header_html",
    "row_detail_html",
    "row_html",
    "row_text",
    "rows_html",
]

_PENDING, _RUNNING, _DONE, _FAILED, _CANCELLED = TaskState


def escape(text: str) -> str:
    """One line of task text as HTML: controls shown escaped, markup escaped."""
    return html.escape(escape_controls(text))


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


MARKS = {_PENDING: "○", _RUNNING: "▶", _DONE: "✔", _FAILED: "✖", _CANCELLED: "⊘"}
COLORS = {
    _PENDING: "#80868b",
    _RUNNING: "#1a73e8",
    _DONE: "#188038",
    _FAILED: "#d93025",
    _CANCELLED: "#e37400",
}
# The header's bar: a segment per state, in this order; what is left is pending. Cancelled
# and failed tasks have segments of their own colour: they never fill the bar as done.
BAR_ORDER = (_DONE, _FAILED, _CANCELLED, _RUNNING)
ROW_PX = 26  # height of a row's line, in both renderings; the live table's buttons match it
_MONO = "font-family:var(--jp-code-font-family,monospace);font-size:12px"
_GREY = "color:var(--jp-ui-font-color2,#5f6368)"


def format_elapsed(seconds: float | None, live: bool = False) -> str:
    """``1.23 s``, ``12.3 s``, ``2 min 05 s``; whole seconds while ``live`` (fewer redraws)."""
    if seconds is None:
        return "-"
    if seconds < 60:
        if live:
            return f"{int(seconds)} s"
        return f"{seconds:.2f} s" if seconds < 10 else f"{seconds:.1f} s"
    minutes, secs = divmod(int(seconds), 60)
    if minutes < 60:
        return f"{minutes} min {secs:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


def _progress_text(progress: tuple[float, float | None] | None) -> str:
    if progress is None:
        return ""
    done, total = progress
    if total:
        return f"{_num(done)}/{_num(total)}"
    return _num(done)


def _num(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:.3g}"


def _fraction(progress: tuple[float, float | None] | None) -> float | None:
    if progress is None:
        return None
    done, total = progress
    if not total:
        return None
    return max(0.0, min(1.0, done / total))


def _retry_text(row: RowSnapshot) -> str | None:
    """Where a retried run is: ``retry 2 of 3`` (``in 4 s`` while it waits for it), or, once
    it ended, ``attempt 3 of 4``; None for a run on its first attempt."""
    retries = row.max_attempts - 1
    if row.retry_in is not None:
        wait = row.retry_in
        when = f"{math.ceil(wait)} s" if wait < 60 else format_elapsed(wait, live=True)
        return f"retry {row.attempt} of {retries} in {when}"
    if row.attempt <= 1:
        return None
    if row.state is _RUNNING:
        return f"retry {row.attempt - 1} of {retries}"
    return f"attempt {row.attempt} of {row.max_attempts}"


def _last_attempt_error(row: RowSnapshot) -> str | None:
    """A running row's latest failed attempt's error line (a finished one shows its own)."""
    if row.state is _RUNNING and row.attempt_errors:
        return row.attempt_errors[-1][1]
    return None


def _counts_text(snap: GroupSnapshot) -> str:
    parts = [f"{snap.counts[s]} {s.value}" for s in TaskState if snap.counts[s]]
    return ", ".join(parts) or "no tasks"


# -- text/plain ------------------------------------------------------------------------------


def _bar(fraction: float, width: int = 10) -> str:
    filled = round(fraction * width)
    return "[" + "#" * filled + "-" * (width - filled) + "]"


def row_text(row: RowSnapshot) -> str:
    """One line: mark, id, name, state, elapsed, then progress, result or error."""
    live = row.state is _RUNNING
    parts = [
        MARKS[row.state],
        f"#{row.id}",
        escape_controls(row.name),
        row.state.value,
        format_elapsed(row.elapsed, live),
    ]
    retry = _retry_text(row)
    if retry is not None:
        parts.append(retry)
    last_error = _last_attempt_error(row)
    if last_error is not None:
        parts.append(escape_controls(last_error))
    if row.state is _RUNNING and row.progress is not None:
        fraction = _fraction(row.progress)
        bar = _bar(fraction) + " " if fraction is not None else ""
        parts.append(bar + _progress_text(row.progress))
    if row.result is not None:
        parts.append(f"-> {escape_controls(row.result)}")
    if row.bound_to is not None:
        parts.append(f"-> {row.bound_to} when done")
    if row.error is not None:
        parts.append(escape_controls(row.error))
    if row.thread_alive and row.state.finished:  # a thread cannot be stopped
        parts.append("(still running in its thread)")
    if row.output_dropped or row.output:
        shown = terminal_text(row.output)  # as a terminal leaves it: \r frames overwritten
        lines = shown.count("\n") + (not shown.endswith("\n"))
        parts.append(f"({_plural(lines, 'output line')})")
    return "  ".join(parts)


def group_text(snap: GroupSnapshot) -> str:
    """The header line, one line per shown row, and how many rows were left out."""
    live = snap.state is _RUNNING
    tasks = f"{snap.total} tasks so far" if snap.more else _plural(snap.total, "task")
    head = f"{escape_controls(snap.name)}: {tasks}, {_counts_text(snap)}"
    if snap.elapsed is not None:
        head += f" · {format_elapsed(snap.elapsed, live)}"
    if snap.note:
        head += f"\n  {escape_controls(snap.note)}"
    if snap.error:
        head += f"\n  {escape_controls(snap.error)}"
    lines = [head]
    lines += ["  " + row_text(row) for row in snap.rows]
    if snap.hidden:
        lines.append(f"  … {snap.hidden} more not shown (running and failed are shown first)")
    return "\n".join(lines)


# -- text/html -------------------------------------------------------------------------------


def _mark_html(state: TaskState) -> str:
    return (
        f'<span title="{state.value}" style="flex:none;color:{COLORS[state]};font-weight:bold">'
        f"{MARKS[state]}</span>"
    )


def _progress_html(progress: tuple[float, float | None] | None) -> str:
    if progress is None:
        return ""
    fraction = _fraction(progress)
    text = escape(_progress_text(progress))
    if fraction is None:
        return f'<span style="{_MONO}">{text}</span>'
    # in a narrow table the bar gives way before the figures do
    return (
        '<span style="display:inline-flex;align-items:center;gap:4px;max-width:100%">'
        f'<progress value="{fraction:.3f}" max="1" style="flex:0 1 60px;width:60px;'
        f'min-width:12px;height:10px"></progress><span style="{_MONO};flex:none">{text}</span>'
        "</span>"
    )


def _retry_html(row: RowSnapshot) -> str:
    """``retry 2 of 3 · ValueError: ...`` on a retried row (the error: the latest attempt's)."""
    retry = _retry_text(row)
    if retry is None:
        return ""
    last_error = _last_attempt_error(row)
    error = (
        f' · <span style="color:{COLORS[_FAILED]}">{escape(last_error)}</span>'
        if last_error is not None
        else ""
    )
    # a margin, not a space after the span: JupyterLab showed that space nowhere
    # ("attempt 2 of 2→ 30")
    return (
        f'<span style="margin-right:0.6em"><span class="bg-retry" style="{_MONO};{_GREY}">'
        f"{escape(retry)}</span>{error}</span>"
    )


def _preview_html(row: RowSnapshot) -> str:
    if row.bound_to is not None:  # pending or running: where its result will go
        bound = f'<span style="{_MONO};{_GREY}">→ {escape(row.bound_to)} when done</span>'
        return f"{_retry_html(row)}{_progress_html(row.progress)} {bound}"
    if row.state is _RUNNING:
        return _retry_html(row) + _progress_html(row.progress)
    if row.result is not None:
        return f'{_retry_html(row)}<span style="{_MONO}">→ {escape(row.result)}</span>'
    if row.error is not None:
        error = f'<span style="{_MONO};color:{COLORS[_FAILED]}">{escape(row.error)}</span>'
        return _retry_html(row) + error
    if row.state is _CANCELLED:
        still = ", still running in its thread" if row.thread_alive else ""
        return f'<span style="{_GREY}">cancelled{still}</span>'
    return ""


def _line_html(row: RowSnapshot) -> str:
    """Mark, name, elapsed time, preview, in one line of ``ROW_PX``.

    When the line is narrow (a 700 px notebook, a file browser open) the name gives way
    first, down to a few characters with an ellipsis (its full text in the tooltip); the
    elapsed time keeps its width and the preview up to half the line.
    """
    live = row.state is _RUNNING
    name = escape(row.name)
    return (
        '<div style="display:flex;gap:8px;align-items:center;white-space:nowrap;'
        f'overflow:hidden;height:{ROW_PX}px;line-height:{ROW_PX}px">'
        f"{_mark_html(row.state)}"
        f'<span style="{_MONO};flex:1 1 0;min-width:5em;overflow:hidden;'
        f'text-overflow:ellipsis" title="{name}">{name}</span>'
        f'<span style="{_MONO};{_GREY};flex:none;min-width:3.5em;text-align:right">'
        f"{escape(format_elapsed(row.elapsed, live))}</span>"
        '<span style="flex:0 1 auto;max-width:60%;min-width:0;overflow:hidden;'
        f'text-overflow:ellipsis">{_preview_html(row)}</span>'
        "</div>"
    )


def _row_open(row: RowSnapshot) -> str:
    return f'<div class="bg-row" data-state="{row.state.value}" data-id="{row.id}">'


def row_html(row: RowSnapshot) -> str:
    """The row as the live table shows it: one line, exactly ``ROW_PX`` high."""
    return f"{_row_open(row)}{_line_html(row)}</div>"


# In a widget, the HTML sits in a flex item that never gets narrower than its content: with
# its inline size contained, the rows take the width they are given (at 700 px the names
# gave way to nothing and the elapsed times and progress were cut off instead).
_CONTAINED = "contain:inline-size;width:100%"


def rows_html(rows: tuple[RowSnapshot, ...]) -> str:
    """Every row of the live table's window, one after the other (one widget's value)."""
    body = "".join(row_html(row) for row in rows)
    return f'<div class="bg-rows" style="{_CONTAINED}">{body}</div>'


def _pre(content: str) -> str:
    """A block of already-escaped HTML ``content``."""
    return (
        f'<pre style="{_MONO};margin:2px 0 6px 24px;padding:4px 6px;max-height:24em;'
        f'overflow:auto;background:var(--jp-layout-color2,#f5f5f5);white-space:pre-wrap">'
        f"{content}</pre>"
    )


def _attempts(row: RowSnapshot) -> list[tuple[str, str]]:
    """Each retried attempt's caption and traceback, oldest first."""
    return [
        (f"attempt {attempt} of {row.max_attempts} failed, and was retried", traceback)
        for attempt, _, traceback in row.attempt_errors
    ]


def attempts_text(row: RowSnapshot) -> str:
    """The retried attempts' tracebacks as text (what ``%tasks ID`` prints before the last)."""
    return "\n".join(
        f"{caption}:\n" + escape_controls(traceback, keep_newlines=True).rstrip("\n")
        for caption, traceback in _attempts(row)
    )


def _caption(text: str) -> str:
    return f'<div class="bg-attempt" style="margin:4px 0 0 24px;{_GREY}">{escape(text)}</div>'


def row_detail_html(row: RowSnapshot) -> str:
    """The traceback and the captured output (as a terminal shows it: ``\\r`` overwrites,
    ANSI colours as colours), shown when the row is expanded."""
    parts = []
    for caption, traceback in _attempts(row):
        parts.append(_caption(caption))
        parts.append(_pre(html.escape(escape_controls(traceback, keep_newlines=True))))
    if row.attempt_errors and row.traceback:
        parts.append(_caption(f"attempt {row.attempt} of {row.max_attempts}"))
    if row.traceback:
        parts.append(_pre(html.escape(escape_controls(row.traceback, keep_newlines=True))))
    if row.output or row.output_dropped:
        note = f"[{row.output_dropped} earlier characters dropped]\n" if row.output_dropped else ""
        parts.append(_pre(html.escape(note) + terminal_html(row.output)))
    if not parts:
        parts.append(f'<div style="margin-left:24px;{_GREY}">no output</div>')
    return "".join(parts)


def details_html(rows: tuple[RowSnapshot, ...]) -> str:
    """The live table's details panel: each expanded row's name, traceback and output."""
    if not rows:
        return ""
    parts = [
        f'<div class="bg-details" data-id="{row.id}" data-state="{row.state.value}">'
        f'<div style="{_MONO};font-weight:bold;margin-top:4px">{_mark_html(row.state)} '
        f"#{row.id} {escape(row.name)}</div>{row_detail_html(row)}</div>"
        for row in rows
    ]
    return "".join(parts)


def _bar_html(snap: GroupSnapshot) -> str:
    """The group's bar: one coloured segment per state (``BAR_ORDER``), pending left grey."""
    total = snap.total
    segments = ""
    if total and not snap.more:  # a total not known yet: no fraction to show
        for state in BAR_ORDER:
            count = snap.counts[state]
            if count:
                width = 100.0 * count / total
                segments += (
                    f'<span title="{count} {state.value}" style="display:block;height:100%;'
                    f'width:{width:.2f}%;background:{COLORS[state]}"></span>'
                )
    return (
        '<span class="bg-bar" style="display:flex;flex:none;width:120px;height:8px;'
        "border-radius:4px;overflow:hidden;background:var(--jp-layout-color3,#dadce0)"
        f'">{segments}</span>'
    )


def header_html(snap: GroupSnapshot, live: bool | None = None) -> str:
    """Name, bar, done/total, counts per state, total elapsed; then a note, an error, and
    how many rows the window leaves out. It wraps rather than cutting anything."""
    live = snap.state is _RUNNING if live is None else live
    counts = " ".join(
        f'<span style="white-space:nowrap">{_mark_html(s)} {snap.counts[s]} {s.value}</span>'
        for s in TaskState
        if snap.counts[s]
    )
    elapsed = format_elapsed(snap.elapsed, live) if snap.elapsed is not None else ""
    name = escape(snap.name)
    total = f"{snap.total}+" if snap.more else str(snap.total)  # more to come, how many unknown
    of = "?" if snap.more else total
    hidden = (
        f'<div style="{_GREY}">showing {len(snap.rows)} of {total} tasks '
        "(running and failed first, then the most recent)</div>"
        if snap.hidden
        else ""
    )
    note = (
        f'<div class="bg-note" style="color:{COLORS[_CANCELLED]}">{escape(snap.note)}</div>'
        if snap.note
        else ""
    )
    error = (
        f'<div style="{_MONO};color:{COLORS[_FAILED]}">{escape(snap.error)}</div>'
        if snap.error
        else ""
    )
    return (
        f'<div style="{_CONTAINED}"><div style="display:flex;gap:4px 10px;align-items:center;'
        'flex-wrap:wrap;min-width:0">'
        f'<span style="display:flex;gap:6px;align-items:center;min-width:0;max-width:100%">'
        f"{_mark_html(snap.state)}"
        f'<b style="overflow:hidden;text-overflow:ellipsis;white-space:nowrap" title="{name}">'
        f"{name}</b></span>"
        f"{_bar_html(snap)}"
        f'<span style="{_MONO};white-space:nowrap">{snap.counts[_DONE]}/{of}</span>'
        f'<span style="display:flex;gap:8px;flex-wrap:wrap">{counts}</span>'
        f'<span style="{_MONO};{_GREY};white-space:nowrap">{escape(elapsed)}</span>'
        f"</div>{note}{error}{hidden}</div>"
    )


# What the widget table's boxes add around the same HTML (a 28 px header line, ROW_PX rows,
# 13 px text), so that a table swapped for its static rendering does not visibly jump.
_HEAD = "margin:0 2px;padding:2px 0;min-height:28px;display:flex;align-items:center"
_BOX = "margin:0 2px;display:flex;align-items:center"
_CHIP = (
    "margin-left:auto;padding:0 10px;height:22px;line-height:22px;font-size:12px;"
    "color:var(--jp-ui-font-color1,#333);background:var(--jp-layout-color2,#eee);"
    "flex:none;cursor:pointer"
)


def _static_row_html(row: RowSnapshot) -> str:
    """A row of the static table: the same line, its details behind a ``<summary>`` toggle."""
    line = f'<div style="flex:1 1 auto;min-width:0;overflow:hidden">{_line_html(row)}</div>'
    if not row.has_details:
        return f'{_row_open(row)}<div style="{_BOX}">{line}</div></div>'
    return (
        f'{_row_open(row)}<details style="margin:0 2px">'
        f'<summary style="{_BOX};margin:0;list-style:none;cursor:pointer" '
        'title="traceback and output">'
        f'{line}<span style="{_CHIP}">☰ details</span></summary>'
        f"{row_detail_html(row)}</details></div>"
    )


def group_html(snap: GroupSnapshot) -> str:
    """A static table (an ended table's display, nbconvert, GitHub, a saved notebook).

    It looks like the widget table (same header, same row lines) without the buttons:
    tracebacks and output are one click away in ``<details>``, which needs no kernel.
    """
    rows = "".join(_static_row_html(row) for row in snap.rows)
    more = (
        f'<div style="margin:2px;{_GREY}">… {snap.hidden} more not shown</div>'
        if snap.hidden
        else ""
    )
    return (
        '<div class="bg-table bg-static backgrounder-table" style="width:100%;font-size:13px">'
        f'<div class="bg-header" style="{_HEAD}"><div style="flex:1 1 auto;min-width:0">'
        f"{header_html(snap)}</div></div>"
        f'<div class="bg-rows">{rows}</div>{more}</div>'
    )
