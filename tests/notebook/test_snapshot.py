"""The tracker: counts and the window of rows stay right whatever order events come in."""

from __future__ import annotations

import asyncio

from backgrounder import Task, Tasks, TaskState
from backgrounder.notebook.snapshot import GroupSource, Tracker, group_state


def test_counts_follow_a_run() -> None:
    tasks = Tasks([Task(lambda i=i: i) for i in range(120)], as_group=True)
    source = GroupSource(tasks)
    unsubscribe = tasks.subscribe(source.update)
    assert source.tracker.counts()[TaskState.PENDING] == 120
    asyncio.run(tasks())
    unsubscribe()
    counts = source.tracker.counts()
    assert counts[TaskState.DONE] == 120 and sum(counts.values()) == 120
    snap = source.snapshot()
    assert snap.total == 120 and len(snap.rows) == 50 and snap.hidden == 70


def test_window_prefers_running_then_failed_then_recent() -> None:
    tasks = [Task(lambda: None) for _ in range(200)]
    tracker = Tracker(tasks, window=5)
    for task in tasks[:3]:  # fake states through the task's own transitions
        task._prepare(None, None)
        task._begin()
    tasks[0]._finish(TaskState.FAILED, exc=ValueError("x"))
    for task in tasks:
        tracker.update(task)
    chosen = tracker.select()
    assert chosen[:2] == [tasks[1], tasks[2]]  # running
    assert chosen[2] is tasks[0]  # failed
    assert chosen[3:] == [tasks[3], tasks[4]]  # then the next pending ones


def test_group_state_of_loose_tasks() -> None:
    counts = dict.fromkeys(TaskState, 0)
    assert group_state(counts) is TaskState.DONE
    counts[TaskState.FAILED] = 1
    assert group_state(counts) is TaskState.FAILED
    counts[TaskState.PENDING] = 1
    assert group_state(counts) is TaskState.RUNNING
