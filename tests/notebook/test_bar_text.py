"""The detail a task's tqdm bar adds to its row."""

from __future__ import annotations

from backgrounder._tqdm import BarStatus
from backgrounder.notebook.bar_text import bar_detail, format_count


def status(**changes: object) -> BarStatus:
    base = BarStatus(
        n=100, total=300, desc="load", unit="it", rate=98.6, elapsed=1.0, postfix=None, open=True
    )
    return base._replace(**changes)


def test_description_rate_and_time_left() -> None:
    assert bar_detail(status()) == "load · 98.6 it/s · 00:02 left"
    assert bar_detail(status(open=False, n=300)) == "load · 98.6 it/s"
    assert bar_detail(status(rate=None)) == "load"
    assert bar_detail(status(desc="", total=None)) == "98.6 it/s"
    assert bar_detail(status(postfix="loss=0.3")) == "load · 98.6 it/s · 00:02 left · loss=0.3"
    assert bar_detail(status(rate=0.01, n=0, total=100_000)) == "load · 0.01 it/s · 2777:46:40 left"
    assert bar_detail(None) == ""


def test_units_scale_as_tqdm_shows_them() -> None:
    assert bar_detail(status(unit="B", rate=2_500_000.0, unit_scale=True, desc="")) == (
        "2.5M B/s · 00:00 left"
    )
    assert format_count(1536, True, 1024) == "1.5k"
    assert format_count(12) == "12" and format_count(0.5) == "0.5"
    assert format_count(3, 0.5) == "1.5"


def test_task_text_in_it_cannot_fake_a_row() -> None:
    assert bar_detail(status(desc="x\n\x1b[2Jfake", rate=None)) == "x\\n\\x1b[2Jfake"
