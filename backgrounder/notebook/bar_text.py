"""What a task's tqdm bar adds to its row where there is room: description, rate, time left.

A pure function of the bar's numbers (``backgrounder._tqdm.bar_status``), as tqdm's own
``format_meter`` is, so the row cannot drift from the bar.
"""

from __future__ import annotations

from .._tqdm import BarStatus
from .terminal import escape_controls

__all__ = ["bar_detail", "format_count"]

_PREFIXES = ("", "k", "M", "G", "T", "P", "E", "Z")


def format_count(value: float, scale: bool | float = False, divisor: float = 1000) -> str:
    """``1234`` -> ``1234``; with ``scale`` (tqdm's ``unit_scale``) ``1.23k``, ``4.56M``."""
    if scale and scale is not True:
        value *= float(scale)
    if scale:
        for prefix in _PREFIXES:
            if abs(value) < 999.5 or prefix == _PREFIXES[-1]:
                return f"{value:.3g}{prefix}" if prefix else f"{value:.3g}"
            value /= divisor
    return str(int(value)) if float(value).is_integer() else f"{value:.3g}"


def _interval(seconds: float) -> str:
    minutes, secs = divmod(round(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes:02d}:{secs:02d}"


def bar_detail(status: BarStatus | None) -> str:
    """``load · 98.6 it/s · 00:02 left``: the parts tqdm would show beside the count.

    Empty without a bar. Text from the task (the description, the postfix) has its control
    characters escaped; HTML escaping is the caller's, as for any task text.
    """
    if status is None:
        return ""
    parts = []
    if status.desc:
        parts.append(escape_controls(status.desc.rstrip(": ")))
    if status.rate:
        rate = format_count(status.rate, status.unit_scale, status.unit_divisor)
        parts.append(f"{rate} {escape_controls(status.unit)}/s")
        if status.open and status.total and status.total > status.n:
            parts.append(f"{_interval((status.total - status.n) / status.rate)} left")
    if status.postfix:
        parts.append(escape_controls(str(status.postfix)))
    return " · ".join(parts)
