"""tqdm bars inside a task: they set the task's progress instead of printing frames.

tqdm has no registry a library can subscribe to (tqdm/tqdm#696 asks for one, still open).
What it documents: a bar writes to ``file``, resolved from ``sys.stderr`` when the bar is
made (tqdm/tqdm#293), so the output router receives every frame; and a bar's numbers are
public in ``format_dict`` (n, total, rate, prefix, unit...), the same values a custom
``display()`` is meant to read. So the router asks, for each write, whether a tqdm bar is
drawing itself (one look at the calling frames, and only while tqdm is imported); if so it
takes the numbers from ``format_dict`` and drops the frame. Nothing in tqdm is patched.

A bar belongs to the task it first drew itself in; a bar made outside any task is left
alone, even when a task updates it. The task's oldest open bar feeds its progress (the outer
one of nested bars); the others are only kept out of the output. When a bar closes leaving
its line (tqdm's ``leave``), that last line is written to the output once, as a terminal
would keep it. Output capture must be on (the router): otherwise tqdm is untouched.
"""

from __future__ import annotations

import logging
import os
import sys
import threading
import weakref
from types import FrameType
from typing import TYPE_CHECKING, Any, NamedTuple

if TYPE_CHECKING:
    from ._task import Task

__all__ = ["BarStatus", "bar_status", "claim"]

_log = logging.getLogger("backgrounder")
_SEARCH = 8  # frames looked at, from tqdm's write wrapper up to the bar's own method
_WRAPPERS = 3  # ``write`` wrappers skipped between tqdm and the router


class BarStatus(NamedTuple):
    """What a task's feeding bar shows: its ``format_dict`` numbers, at its last redraw."""

    n: float
    total: float | None
    desc: str
    unit: str
    rate: float | None  # units per second (smoothed, as tqdm shows it)
    elapsed: float
    postfix: str | None
    open: bool  # False once the bar closed
    unit_scale: bool | float = False  # tqdm's: show k/M/G prefixes (True) or scale by it
    unit_divisor: float = 1000


class _Bars:
    """One task's bars, oldest first (weak: a bar that is gone is dropped)."""

    __slots__ = ("bars", "last_frame", "status")

    def __init__(self) -> None:
        self.bars: list[weakref.ref[Any]] = []
        # each bar's last frame, drawn by close() or not
        self.last_frame: weakref.WeakKeyDictionary[Any, tuple[str, bool]] = (
            weakref.WeakKeyDictionary()
        )
        self.status: BarStatus | None = None


_lock = threading.Lock()
_owner: weakref.WeakKeyDictionary[Any, Any] = weakref.WeakKeyDictionary()  # bar -> task | None
_tasks: weakref.WeakKeyDictionary[Any, _Bars] = weakref.WeakKeyDictionary()  # task -> bars
_tqdm_dir: str | None = None


def bar_status(task: Task) -> BarStatus | None:
    """The numbers of the bar that feeds ``task``'s progress, if a tqdm bar ever did."""
    bars = _tasks.get(task)
    return None if bars is None else bars.status


def claim(text: str, task: Task | None, depth: int) -> bool | None:
    """Is a tqdm bar writing ``text``? None: no (route it as usual). True: a task's bar; its
    task took the numbers, drop the text. False: a bar made outside any task; let the text
    through to the original stream, whichever task updates the bar.

    ``depth``: how many frames above this call the writer is (the caller of ``write``).
    """
    if text and text[0] not in _BAR_STARTS:  # print()'s text, most of what is written
        return None
    try:
        bar = _writing_bar(depth + 1)
        if bar is None:
            return None
        with _lock:
            if bar in _owner:
                owner = _owner[bar]
            else:  # its first frame: made here, in this task (or outside any)
                owner = _owner[bar] = task
        if owner is None:
            return False
        _take(owner, bar, text)
    except Exception:  # recognising bars must never break a write
        _log.debug("backgrounder: could not follow a tqdm bar", exc_info=True)
        return None
    return True


# What tqdm writes starts with one of these (frames, cursor moves, close()), or is empty.
_BAR_STARTS = "\r\n\x1b"


def _writing_bar(depth: int) -> Any:
    """The tqdm bar whose method is writing now (``depth`` frames up), or None."""
    std = sys.modules.get("tqdm.std")
    bar_class = getattr(std, "tqdm", None)  # None while another thread is importing tqdm
    if bar_class is None:
        return None
    global _tqdm_dir
    if _tqdm_dir is None:
        _tqdm_dir = os.path.dirname(os.path.abspath(getattr(std, "__file__", "") or "")) + os.sep
    try:
        frame: FrameType | None = sys._getframe(depth + 1)
    except ValueError:  # a shallower stack: not written through the router
        return None
    # Someone may have wrapped the stream's write in between: IPython 9 does, during each
    # cell, to keep the cell's output in its history (InteractiveShell._tee), and a bar
    # made then keeps that wrapper for good.
    for _ in range(_WRAPPERS):
        if frame is None or frame.f_code.co_name != "write":
            break
        frame = frame.f_back
    # tqdm writes through its wrapper (utils.py) called by the bar's method (std.py): look
    # up from the writer for that method's ``self``, as long as the frames are tqdm's
    for _ in range(_SEARCH):
        if frame is None or not frame.f_code.co_filename.startswith(_tqdm_dir):
            return None  # written by code outside tqdm (print, tqdm.write's caller, ...)
        candidate = frame.f_locals.get("self")
        if isinstance(candidate, bar_class):
            return candidate
        frame = frame.f_back
    return None


def _take(task: Any, bar: Any, text: str) -> None:
    """A write of ``bar`` (which belongs to ``task``): update the task, keep its last line."""
    closed = bool(getattr(bar, "disable", False))
    with _lock:
        bars = _tasks.get(task)
        if bars is None:
            bars = _tasks[task] = _Bars()
        alive = [b for b in (ref() for ref in bars.bars) if b is not None]
        alive = [b for b in alive if b is bar or not b.disable]
        if not closed and all(b is not bar for b in alive):
            alive.append(bar)
        bars.bars = [weakref.ref(b) for b in alive]
        # the oldest open bar feeds the task, and so does its own closing frame
        feeds = next((b is bar for b in alive if b is bar or not b.disable), False)
        last_line = None
        if text.startswith("\r"):
            bars.last_frame[bar] = (text, closed)
        elif text == "\n" and closed:
            # close() with leave draws the bar once more and ends its line: a terminal keeps
            # that line. (Without leave, a newline here is a cursor move to its row.)
            frame, drawn_by_close = bars.last_frame.pop(bar, ("", False))
            if drawn_by_close:
                last_line = frame.lstrip("\r").rstrip(" ")
    if feeds and (closed or text.startswith("\r")):
        _feed(task, bar, bars, open=not closed)
    if last_line:
        task._write_output("stderr", last_line + "\n")


def _feed(task: Any, bar: Any, bars: _Bars, *, open: bool) -> None:
    try:
        d = bar.format_dict
    except Exception:  # a bar half made or half closed: its next frame will do
        return
    n, total = d.get("n") or 0, d.get("total")
    status = BarStatus(
        n=n,
        total=total,
        desc=str(d.get("prefix") or ""),
        unit=str(d.get("unit") or "it"),
        rate=d.get("rate"),
        elapsed=d.get("elapsed") or 0.0,
        postfix=d.get("postfix"),
        open=open,
        unit_scale=d.get("unit_scale") or False,
        unit_divisor=d.get("unit_divisor") or 1000,
    )
    bars.status = status
    if task.progress != (n, total):
        task._set_progress(n, total)
