"""Text and static HTML renderings of snapshots: the terminal view and the saved-notebook view.

Everything a task supplies (name, arguments, result, error, traceback, output) goes through
``html.escape`` here before it becomes HTML; no other module builds HTML from task text.
"""

from __future__ import annotations

from html import escape

from .._state import TaskState
from .snapshot import GroupSnapshot, RowSnapshot

__all__ = [
    "MARKS",
    "format_elapsed",
    "group_html",
    "group_text",
    "header_html",
    "row_detail_html",
    "row_html",
    "row_text",
]

_PENDING, _RUNNING, _DONE, _FAILED, _CANCELLED = TaskState
MARKS = {_PENDING: "○", _RUNNING: "▶", _DONE: "✔", _FAILED: "✖", _CANCELLED: "⊘"}
COLORS = {
    _PENDING: "#80868b",
    _RUNNING: "#1a73e8",
    _DONE: "#188038",
    _FAILED: "#d93025",
    _CANCELLED: "#e37400",
}
_MONO = "font-family:var(--jp-code-font-family,monospace);font-size:12px"


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
        row.name,
        row.state.value,
        format_elapsed(row.elapsed, live),
    ]
    if row.state is _RUNNING and row.progress is not None:
        fraction = _fraction(row.progress)
        bar = _bar(fraction) + " " if fraction is not None else ""
        parts.append(bar + _progress_text(row.progress))
    if row.result is not None:
        parts.append(f"-> {row.result}")
    if row.error is not None:
        parts.append(row.error)
    if row.output_dropped or row.output:
        lines = row.output.count("\n") + (not row.output.endswith("\n"))
        parts.append(f"({lines} output lines)")
    return "  ".join(parts)


def group_text(snap: GroupSnapshot) -> str:
    """The header line, one line per shown row, and how many rows were left out."""
    live = snap.state is _RUNNING
    head = f"{snap.name}: {snap.total} tasks, {_counts_text(snap)}"
    if snap.elapsed is not None:
        head += f" · {format_elapsed(snap.elapsed, live)}"
    if snap.error:
        head += f"\n  {snap.error}"
    lines = [head]
    lines += ["  " + row_text(row) for row in snap.rows]
    if snap.hidden:
        lines.append(f"  … {snap.hidden} more not shown (running and failed are shown first)")
    return "\n".join(lines)


# -- text/html -------------------------------------------------------------------------------


def _mark_html(state: TaskState) -> str:
    return (
        f'<span title="{state.value}" style="color:{COLORS[state]};font-weight:bold">'
        f"{MARKS[state]}</span>"
    )


def _progress_html(progress: tuple[float, float | None] | None, width: int = 90) -> str:
    if progress is None:
        return ""
    fraction = _fraction(progress)
    text = escape(_progress_text(progress))
    if fraction is None:
        return f'<span style="{_MONO}">{text}</span>'
    return (
        f'<progress value="{fraction:.3f}" max="1" style="width:{width}px;height:10px"></progress>'
        f' <span style="{_MONO}">{text}</span>'
    )


def _preview_html(row: RowSnapshot) -> str:
    if row.state is _RUNNING:
        return _progress_html(row.progress)
    if row.result is not None:
        return f'<span style="{_MONO}">→ {escape(row.result)}</span>'
    if row.error is not None:
        return f'<span style="{_MONO};color:{COLORS[_FAILED]}">{escape(row.error)}</span>'
    if row.state is _CANCELLED:
        return '<span style="color:#80868b">cancelled</span>'
    return ""


def _line_html(row: RowSnapshot) -> str:
    live = row.state is _RUNNING
    return (
        '<div style="display:flex;gap:10px;align-items:baseline;white-space:nowrap;'
        'overflow:hidden;line-height:22px">'
        f"{_mark_html(row.state)}"
        f'<span style="{_MONO};min-width:16em;max-width:32em;overflow:hidden;'
        f'text-overflow:ellipsis" title="{escape(row.name)}">{escape(row.name)}</span>'
        f'<span style="{_MONO};min-width:6em;text-align:right;color:#5f6368">'
        f"{escape(format_elapsed(row.elapsed, live))}</span>"
        f'<span style="overflow:hidden;text-overflow:ellipsis">{_preview_html(row)}</span>'
        "</div>"
    )


def _row_open(row: RowSnapshot) -> str:
    """A row's root: ``bg-row`` and ``data-state`` are stable hooks (tests, user CSS)."""
    return f'<div class="bg-row" data-state="{row.state.value}">'


def row_html(row: RowSnapshot, detail: str = "") -> str:
    """The row as the live table shows it (name, state mark, elapsed, preview), then ``detail``.

    ``detail`` is the row's expanded part (``row_detail_html``), already HTML.
    """
    return f"{_row_open(row)}{_line_html(row)}{detail}</div>"


def _pre(text: str) -> str:
    return (
        f'<pre style="{_MONO};margin:2px 0 6px 24px;padding:4px 6px;max-height:24em;'
        f'overflow:auto;background:var(--jp-layout-color2,#f5f5f5);white-space:pre-wrap">'
        f"{escape(text)}</pre>"
    )


def row_detail_html(row: RowSnapshot) -> str:
    """The traceback and the captured output, shown when the row is expanded."""
    parts = []
    if row.traceback:
        parts.append(_pre(row.traceback))
    if row.output or row.output_dropped:
        note = f"[{row.output_dropped} earlier characters dropped]\n" if row.output_dropped else ""
        parts.append(_pre(note + row.output))
    if not parts:
        parts.append('<div style="margin-left:24px;color:#80868b">no output</div>')
    return "".join(parts)


def header_html(snap: GroupSnapshot, live: bool | None = None) -> str:
    """Name, counts per state, group progress bar, total elapsed."""
    live = snap.state is _RUNNING if live is None else live
    counts = " ".join(
        f'<span style="margin-right:8px">{_mark_html(s)} {snap.counts[s]} {s.value}</span>'
        for s in TaskState
        if snap.counts[s]
    )
    fraction = snap.finished / snap.total if snap.total else 1.0
    elapsed = format_elapsed(snap.elapsed, live) if snap.elapsed is not None else ""
    hidden = (
        f'<div style="color:#80868b">showing {len(snap.rows)} of {snap.total} tasks '
        "(running and failed first, then the most recent)</div>"
        if snap.hidden
        else ""
    )
    error = (
        f'<div style="{_MONO};color:{COLORS[_FAILED]}">{escape(snap.error)}</div>'
        if snap.error
        else ""
    )
    return (
        '<div style="display:flex;gap:12px;align-items:center;flex-wrap:wrap">'
        f"{_mark_html(snap.state)}<b>{escape(snap.name)}</b>"
        f'<progress value="{fraction:.3f}" max="1" style="width:140px;height:10px"></progress>'
        f'<span style="{_MONO}">{snap.finished}/{snap.total}</span>'
        f"<span>{counts}</span>"
        f'<span style="{_MONO};color:#5f6368">{escape(elapsed)}</span>'
        f"</div>{error}{hidden}"
    )


# What the widget table's boxes add around the same HTML (ipywidgets' 2 px margins, a 28 px
# header line, 24 px buttons per row, 13 px text), so that a table swapped for its static
# rendering does not visibly jump.
# (padding, not vertical margins: those of adjacent rows would collapse into one)
_HEAD = "margin:0 2px;padding:2px 0;min-height:28px;display:flex;align-items:center"
_BOX = "margin:0 2px;padding:2px 0;min-height:24px;display:flex;align-items:center"
_CHIP = (
    "margin-left:auto;padding:0 10px;height:24px;line-height:24px;font-size:13px;"
    "color:var(--jp-ui-font-color1,#333);background:var(--jp-layout-color2,#eee);"
    "flex:none;cursor:pointer"
)


def _static_row_html(row: RowSnapshot) -> str:
    """A row of the static table: the same line, its details behind a ``<summary>`` toggle."""
    if not row.has_details:
        return f'{_row_open(row)}<div style="{_BOX}">{_line_html(row)}</div></div>'
    return (
        f'{_row_open(row)}<details style="margin:0 2px;padding:2px 0">'
        f'<summary style="{_BOX};margin:0;padding:0;list-style:none;cursor:pointer" '
        'title="traceback and output">'
        f'<div style="flex:1 1 auto;min-width:0;overflow:hidden">{_line_html(row)}</div>'
        f'<span style="{_CHIP}">☰ details</span></summary>'
        f"{row_detail_html(row)}</details></div>"
    )


def group_html(snap: GroupSnapshot) -> str:
    """A static table (a finished group's display, nbconvert, GitHub, a saved notebook).

    It looks like the widget table (same header, same row lines) without the buttons:
    tracebacks and output are one click away in ``<details>``, which needs no kernel.
    """
    rows = "".join(_static_row_html(row) for row in snap.rows)
    more = (
        f'<div style="margin:2px;color:#80868b">… {snap.hidden} more not shown</div>'
        if snap.hidden
        else ""
    )
    return (
        '<div class="bg-table bg-static backgrounder-table" style="width:100%;font-size:13px">'
        f'<div class="bg-header" style="{_HEAD}"><div style="flex:1 1 auto">'
        f"{header_html(snap)}</div></div>"
        f'<div class="bg-rows">{rows}</div>{more}</div>'
    )
