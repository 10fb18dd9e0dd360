"""The tracker: counts and the window of rows equal the rule read from the tasks themselves."""

from __future__ import annotations

import asyncio

from backgrounder import Task, Tasks, TaskState
from backgrounder.notebook.snapshot import group_state
from backgrounder.notebook.sources import GroupSource
from backgrounder.notebook.tracker import select_window


def test_counts_follow_a_run() -> None:
    tasks = Tasks([Task(lambda i=i: i) for i in range(120)], as_group=True)
    source = GroupSource(tasks)
    unsubscribe = source.subscribe(source.update)
    assert source.tracker.counts()[TaskState.PENDING] == 120
    asyncio.run(tasks())
    unsubscribe()
    counts = source.tracker.counts()
    assert counts[TaskState.DONE] == 120 and sum(counts.values()) == 120
    snap = source.snapshot()
    assert snap.total == 120 and len(snap.rows) == 50 and snap.hidden == 70
    assert list(snap.rows) == [row for row in snap.rows if row.state is TaskState.DONE]


def test_window_prefers_running_then_failed_then_recent_as_the_rule_says() -> None:
    gates = [asyncio.Event() for _ in range(3)]

    async def main() -> None:
        async def body(i: int) -> int:
            if i == 0:
                raise ValueError("x")
            if i < 3:
                await gates[i].wait()
            return i

        group = Tasks([Task(body, i) for i in range(10)], as_group=True)
        source = GroupSource(group, window=5)
        tracker = source.tracker
        unsubscribe = source.subscribe(source.update)
        run = asyncio.ensure_future(group())
        for _ in range(5):
            await asyncio.sleep(0)
        chosen = tracker.select()
        assert chosen == select_window(group.tasks, 5)
        assert [t.state for t in chosen] == [
            TaskState.RUNNING,
            TaskState.RUNNING,
            TaskState.FAILED,
            TaskState.DONE,
            TaskState.DONE,
        ]
        assert chosen[:2] == group.tasks[1:3]
        for gate in gates:
            gate.set()
        try:
            await run
        except BaseException:
            pass
        unsubscribe()

    asyncio.run(main())
    tasks = [Task(lambda: None) for _ in range(10)]
    assert select_window(tasks, 3) == tasks[:3]  # all pending: the first ones in order


def test_group_state_of_loose_tasks() -> None:
    counts = dict.fromkeys(TaskState, 0)
    assert group_state(counts) is TaskState.DONE
    counts[TaskState.FAILED] = 1
    assert group_state(counts) is TaskState.FAILED
    counts[TaskState.PENDING] = 1
    assert group_state(counts) is TaskState.RUNNING
