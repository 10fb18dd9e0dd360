"""The truth a table must show: its view computed straight from the tasks, and the check.

``expected_view`` reads every task (a full scan, ``select_window``) where the table reads its
incremental tracker; ``assert_shows_truth`` redraws the table and compares what the
frontend's models hold with the view of the truth at that moment.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Collection, Sequence
from typing import Any

from backgrounder import Task, Tasks, TaskState
from backgrounder.notebook.render import group_html
from backgrounder.notebook.snapshot import (
    GroupSnapshot,
    error_line,
    group_state,
    snapshot_task,
    wall_elapsed,
)
from backgrounder.notebook.table import LiveTable
from backgrounder.notebook.tracker import WINDOW, select_window
from backgrounder.notebook.view import TableView, table_view

from .conftest import Frontend, TableModel


def truth_snapshot(
    work: Tasks | tuple[str, Sequence[Task]], now: float, window: int = WINDOW
) -> GroupSnapshot:
    """A group (or a named list of loose tasks) read task by task at ``now``."""
    if isinstance(work, Tasks):
        name, tasks = work.name, list(work.tasks)
        state = work.state
    else:
        name, tasks = work[0], list(work[1])
        state = None
    counts = dict.fromkeys(TaskState, 0)
    for task in tasks:
        counts[task.state] += 1
    rows = tuple(snapshot_task(task, now) for task in select_window(tasks, window))
    if isinstance(work, Tasks):
        assert state is not None
        elapsed = work.elapsed
        if state is TaskState.RUNNING:
            elapsed = wall_elapsed(work.started_at, None, now)
        error = error_line(work.exception) if state is TaskState.FAILED else None
        total = work.total  # a map reading its inputs: their number if known, else None
        made = len(tasks)
        if total is not None and total > made:
            counts[TaskState.PENDING] += total - made
    else:
        total = None
        state = group_state(counts)
        starts = [t.started_at.timestamp() for t in tasks if t.started_at is not None]
        ends = [t.ended_at.timestamp() for t in tasks if t.ended_at is not None]
        elapsed = None
        if starts:
            still = counts[TaskState.RUNNING] or counts[TaskState.PENDING]
            last = max(ends) if ends and not still else now
            elapsed = max(0.0, last - min(starts))
        error = None
    more = isinstance(work, Tasks) and total is None
    total = max(len(tasks), total or 0)
    return GroupSnapshot(name, state, elapsed, total, counts, rows, error=error, more=more)


def expected_view(
    work: Tasks | tuple[str, Sequence[Task]],
    now: float,
    expanded: Collection[int] = (),
    window: int = WINDOW,
) -> TableView:
    return table_view(truth_snapshot(work, now, window), expanded)


# A cancelled sync task's thread may return between a reading and its redraw (THREAD_ENDED
# then brings the next redraw):
# whether its row says so is not compared.
ALIVE = ", still running in its thread"


def shown(model: TableModel) -> dict[str, Any]:
    """What the frontend shows, in the view's terms."""
    return {
        "header": model.header,
        "rows": model.rows_html.replace(ALIVE, ""),
        "details": model.details_html,
        "cancellable": model.cancel_flags(),
        "cancel_all": model.cancel_all_enabled,
    }


def as_shown(view: TableView) -> dict[str, Any]:
    return {
        "header": view.header,
        "rows": view.rows.replace(ALIVE, ""),
        "details": view.details,
        "cancellable": view.cancellable,
        "cancel_all": view.cancel_all,
    }


def assert_shows_truth(
    table: LiveTable,
    frontend: Frontend,
    work: Tasks | tuple[str, Sequence[Task]],
    expanded: Collection[int] = (),
    window: int = WINDOW,
) -> None:
    """Redraw, then the frontend's models must equal the view of the truth.

    Running rows show whole seconds: the view is computed just before and just after the
    redraw, and if a second ticked over in between (the two differ) the check is redone.
    """
    model = frontend.table()
    for _ in range(5):
        before = time.time()
        table.flush()
        after = time.time()
        if table.closed:  # the work ended: its static table is the truth, no widget is open
            final = truth_snapshot(work, after, window)
            got = table._repr_mimebundle_()["text/html"].replace(ALIVE, "")
            assert got == group_html(final).replace(ALIVE, "")
            assert all(part in frontend.closed for part in model.parts)
            return
        first = expected_view(work, before, expanded, window)
        if first == expected_view(work, after, expanded, window):
            got, want = shown(model), as_shown(first)
            wrong = {key: (got[key], want[key]) for key in want if got[key] != want[key]}
            assert not wrong, f"the frontend differs from the truth: {wrong}"
            return
    raise AssertionError("a second ticked over during every redraw")


def wait_until(group: Tasks, check: Callable[[], bool], timeout: float = 10) -> None:
    """Wait, on the group's events, until ``check()`` holds.

    Subscribe after the table: a group calls its listeners in order, so when this one
    wakes the test the table has heard the same event.
    """
    cond = threading.Condition()

    def wake(_: object) -> None:
        with cond:
            cond.notify_all()

    unsubscribe = group.subscribe(wake)
    try:
        with cond:
            assert cond.wait_for(check, timeout), "the tasks did not get there"
    finally:
        unsubscribe()


def all_running(group: Tasks) -> Callable[[], bool]:
    return lambda: all(task.state is TaskState.RUNNING for task in group.tasks)
