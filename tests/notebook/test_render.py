"""Text and HTML renderings: everything a task supplies is escaped before it becomes HTML."""

from __future__ import annotations

import asyncio

import pytest

import backgrounder
from backgrounder import Task, Tasks, TaskState
from backgrounder._errors import ExceptionGroup
from backgrounder.notebook.render import (
    format_elapsed,
    group_html,
    group_text,
    header_html,
    row_detail_html,
    row_html,
    row_text,
)
from backgrounder.notebook.snapshot import snapshot_task
from backgrounder.notebook.sources import GroupSource

EVIL = "<img src=x onerror=alert(1)>"


class EvilRepr:
    def __repr__(self) -> str:
        return EVIL


class BrokenRepr:
    def __repr__(self) -> str:
        raise RuntimeError("no repr")


def _evil_group() -> Tasks:
    def evil(arg: object, key: object = None) -> object:
        print(EVIL)
        return EvilRepr()

    def fails(arg: object) -> None:
        raise ValueError(EVIL)

    tasks = Tasks(as_group=True, name=EVIL)
    tasks.add_task(evil, EVIL, key=EVIL)
    tasks.add(Task(fails, EVIL).options(name=EVIL))
    backgrounder.capture_output()
    try:
        with pytest.raises(ExceptionGroup):
            asyncio.run(tasks())
    finally:
        backgrounder.release_output()
    return tasks


def test_task_text_never_becomes_html() -> None:
    tasks = _evil_group()
    snap = GroupSource(tasks).snapshot()
    assert snap.rows[0].output.strip() == EVIL
    assert snap.rows[1].error == f"ValueError: {EVIL}"
    pieces = [group_html(snap), header_html(snap)]
    pieces += [row_html(row) + row_detail_html(row) for row in snap.rows]
    for html in pieces:
        assert "<img" not in html
    assert "&lt;img src=x onerror=alert(1)&gt;" in group_html(snap)
    detail = row_detail_html(snap.rows[0])
    assert "&lt;img" in detail  # the output, escaped


def test_text_plain_keeps_the_text_as_is() -> None:
    snap = GroupSource(_evil_group()).snapshot()
    text = group_text(snap)
    assert EVIL in text
    assert "1 done, 1 failed" in text


def test_a_broken_repr_does_not_break_a_row() -> None:
    task = Task(lambda: BrokenRepr())
    asyncio.run(task())
    row = snapshot_task(task)
    assert row.state is TaskState.DONE
    assert "BrokenRepr" in (row.result or "")
    assert "BrokenRepr" in row_html(row)


def test_long_results_and_errors_are_cut_to_one_line() -> None:
    task = Task(lambda: "x\n" * 1000)
    asyncio.run(task())
    row = snapshot_task(task)
    assert row.result is not None and len(row.result) <= 80 and "\n" not in row.result


def test_output_tail_and_dropped_count() -> None:
    def chatty() -> None:
        for i in range(2000):
            print(f"line {i:05d}")

    task = Task(chatty)
    backgrounder.capture_output()
    try:
        asyncio.run(task())
    finally:
        backgrounder.release_output()
    row = snapshot_task(task)
    assert row.output.endswith("line 01999\n")
    assert row.output_dropped > 0
    assert f"[{row.output_dropped} earlier characters dropped]" in row_detail_html(row)


def test_progress_shows_in_running_rows() -> None:
    from backgrounder.notebook.snapshot import RowSnapshot

    row = RowSnapshot(1, "f()", TaskState.RUNNING, 3.5, (3, 10), None, None, None, "", 0, False)
    assert "3/10" in row_html(row) and "<progress" in row_html(row)
    assert "[###-------] 3/10" in row_text(row)


@pytest.mark.parametrize(
    ("seconds", "live", "text"),
    [
        (None, False, "-"),
        (1.234, False, "1.23 s"),
        (12.34, False, "12.3 s"),
        (12.34, True, "12 s"),
        (125, False, "2 min 05 s"),
        (3725, False, "1 h 02 min"),
    ],
)
def test_format_elapsed(seconds: float | None, live: bool, text: str) -> None:
    assert format_elapsed(seconds, live) == text


def test_traceback_starts_at_the_users_code() -> None:
    def user_function() -> None:
        raise KeyError("missing")

    task = Task(user_function)
    with pytest.raises(KeyError):
        asyncio.run(task())
    traceback = snapshot_task(task).traceback or ""
    assert "user_function" in traceback and "KeyError: 'missing'" in traceback
    assert "backgrounder/_task.py" not in traceback


def test_control_characters_never_reach_a_view_raw() -> None:
    """A task can neither clear nor retitle a terminal, nor fake a row (issue 13, item 12);
    its output is shown as a terminal would show it, colours as escaped spans."""
    from backgrounder.notebook.render import group_html, group_text
    from backgrounder.notebook.sources import GroupSource

    def noisy() -> None:
        print("\x1b[31mred\x1b[0m plain\n\r0/3\r1/3\r2/3")
        raise ValueError("\x1b[2J\x1b]0;owned\x07<b>bold</b>\nfake row")

    group = Tasks([Task(noisy).options(name="clear\x1b[2Jme")], as_group=True)
    backgrounder.capture_output()
    try:
        with pytest.raises(ExceptionGroup):
            asyncio.run(group())
    finally:
        backgrounder.release_output()
    snap = GroupSource(group).snapshot()
    text, page = group_text(snap), group_html(snap)
    for shown in (text, page):
        assert "\x1b" not in shown and "\x07" not in shown
    assert "\\x1b[2J" in text and "clear\\x1b[2Jme" in text
    assert "<b>bold" not in page and "&lt;b&gt;bold" in page
    assert "2/3" in page and "0/3" not in page  # \r overwrote the line
    assert "color" in page and "red" in page
    assert "(2 output lines)" in text and "1 task," in text


def test_a_cancelled_body_still_running_is_said_in_the_row_and_in_tasks() -> None:
    import threading

    from backgrounder.notebook.history import History
    from backgrounder.notebook.magics import HistoryView

    entered, release, ended = threading.Event(), threading.Event(), threading.Event()

    def stubborn() -> None:  # never checks cancelled()
        entered.set()
        release.wait(30)

    history = History()
    history.start()
    unsubscribe = backgrounder.subscribe(lambda _: ended.set(), "thread_ended")
    try:
        task = Task(stubborn)
        handle = task.start()
        assert entered.wait(30)
        handle.cancel()
        text = HistoryView(history)._repr_mimebundle_()["text/plain"]
        assert "cancelled" in text and "(still running in its thread)" in text
        assert "1 worker thread is still running the body of a cancelled" in text
        release.set()
        assert ended.wait(30)  # THREAD_ENDED: the body returned at last
        assert not task.thread_alive
        text = HistoryView(history)._repr_mimebundle_()["text/plain"]
        assert "(still running in its thread)" not in text
    finally:
        release.set()
        unsubscribe()
        history.stop()
