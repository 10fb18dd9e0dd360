"""Tasks.as_completed(): each task as it ends, `async for` and `for`, and what it raises."""

from __future__ import annotations

import sys
import threading
import time
from typing import Any

import anyio
import anyio.to_thread
import pytest

from backgrounder import Task, TaskCancelled, Tasks, TaskState, cancelled, current_task

if sys.version_info < (3, 11):  # pragma: no cover
    from exceptiongroup import ExceptionGroup

pytestmark = pytest.mark.anyio


async def wait_for(event: anyio.Event, value: object) -> object:
    await event.wait()
    return value


def gated(n: int) -> tuple[Tasks, list[anyio.Event]]:
    gates = [anyio.Event() for _ in range(n)]
    tasks = Tasks([Task(wait_for, gate, i) for i, gate in enumerate(gates)], as_group=True)
    return tasks, gates


def fail(message: str) -> None:
    raise ValueError(message)


async def test_tasks_come_in_the_order_they_end() -> None:
    tasks, gates = gated(4)
    order = [2, 0, 3, 1]
    seen = []
    gates[order[0]].set()
    async for task in tasks.as_completed():
        seen.append(task.result)
        if len(seen) < len(order):
            gates[order[len(seen)]].set()
    assert seen == order
    assert tasks.state is TaskState.DONE
    assert tasks.results == [0, 1, 2, 3]


async def test_failed_and_cancelled_tasks_come_too_then_the_group_raises() -> None:
    tasks = Tasks(as_group=True)
    tasks.add_task(fail, "boom <1>")
    tasks.add_task(pow, 2, 3)
    ended: dict[str, TaskState] = {}
    with pytest.raises(ExceptionGroup) as caught:
        async for task in tasks.as_completed():
            ended[task.name] = task.state
    assert sorted(ended.values()) == sorted([TaskState.FAILED, TaskState.DONE])
    assert caught.value is tasks.exception  # what `await tasks()` raises
    assert [str(e) for e in caught.value.exceptions] == ["boom <1>"]


async def test_a_sequence_raises_its_failure_as_is() -> None:
    tasks = Tasks([Task(pow, 2, 2), Task(fail, "second"), Task(pow, 2, 4)])
    seen = []
    with pytest.raises(ValueError, match="second"):
        async for task in tasks.as_completed():
            seen.append((task.name, task.state))
    assert [state for _, state in seen] == [TaskState.DONE, TaskState.FAILED, TaskState.CANCELLED]


async def cancel_myself() -> None:
    task = current_task()
    assert task is not None
    task.cancel()
    await anyio.sleep(30)  # cut short: cancelled at this await


async def test_a_cancelled_task_comes_then_the_loop_raises_task_cancelled() -> None:
    tasks = Tasks([Task(cancel_myself), Task(pow, 2, 3)], as_group=True)
    states = []
    with pytest.raises(TaskCancelled, match="1 of 2 tasks done"):
        async for task in tasks.as_completed():
            states.append(task.state)
    assert sorted(states) == sorted([TaskState.CANCELLED, TaskState.DONE])


async def until_ended(tasks: Tasks) -> None:
    while not tasks.state.finished:
        await anyio.sleep(0)


async def test_fail_fast_yields_the_cancelled_rest_then_raises() -> None:
    tasks, _gates = gated(3)
    tasks.fail_fast = True
    tasks.add_task(fail, "first failure")
    states = []
    with pytest.raises(ExceptionGroup, match="1 of 4 tasks failed"):
        async for task in tasks.as_completed():
            states.append(task.state)
    assert states == [TaskState.FAILED] + [TaskState.CANCELLED] * 3


async def test_group_timeout_yields_the_cut_tasks_then_raises_timeout() -> None:
    tasks, _gates = gated(3)
    tasks.timeout = 0.05  # the tasks wait for gates nobody opens
    states = []
    with pytest.raises(TimeoutError, match=r"timed out after 0\.05 s"):
        async for task in tasks.as_completed():
            states.append(task.state)
    assert states == [TaskState.CANCELLED] * 3


async def test_breaking_out_leaves_the_run_going() -> None:
    tasks, gates = gated(3)
    gates[0].set()
    async for task in tasks.as_completed():
        assert task.result == 0
        break
    assert tasks.running
    for gate in gates[1:]:
        gate.set()
    rest = [task.result async for task in tasks.as_completed()]  # joins the run under way
    assert sorted(rest) == [0, 1, 2]  # the one that ended before joining comes too
    assert tasks.state is TaskState.DONE


async def test_cancel_on_exit_cancels_the_rest_when_leaving() -> None:
    tasks, gates = gated(3)
    gates[0].set()
    async for task in tasks.as_completed(cancel_on_exit=True):
        assert task.result == 0
        break
    # the iterator was dropped at the break: what had not ended is cancelled
    with pytest.raises(TaskCancelled):
        async for _ in tasks.as_completed():
            pass
    assert [t.state for t in tasks] == [TaskState.DONE, TaskState.CANCELLED, TaskState.CANCELLED]


async def test_closing_with_a_with_block_cancels_on_exit() -> None:
    tasks, gates = gated(2)
    gates[0].set()
    async with tasks.as_completed(cancel_on_exit=True) as ending:
        async for task in ending:
            assert task.result == 0
            break
        ending.close()
    assert tasks.tasks[1].cancel_requested or tasks.tasks[1].state is TaskState.CANCELLED


async def test_cancelling_the_iterating_code_cancels_the_run_it_started() -> None:
    tasks, gates = gated(3)
    gates[0].set()
    with anyio.CancelScope() as scope:
        async for _ in tasks.as_completed():
            scope.cancel()  # as Interrupt cancels the cell's coroutine at its next await
    await until_ended(tasks)
    assert isinstance(tasks.exception, TaskCancelled)
    assert [t.state for t in tasks] == [TaskState.DONE, TaskState.CANCELLED, TaskState.CANCELLED]


async def test_cancelling_the_iterating_code_leaves_a_joined_run_going() -> None:
    tasks, gates = gated(2)
    handle = tasks.start()
    gates[0].set()
    with anyio.CancelScope() as scope:
        async for _ in tasks.as_completed():
            scope.cancel()
    assert tasks.running  # like `await handle`: waiting never cancels work started elsewhere
    gates[1].set()
    assert await handle == [0, 1]


async def test_joining_a_started_run_yields_what_ended_first() -> None:
    tasks, gates = gated(3)
    handle = tasks.start()
    gates[1].set()
    while tasks.tasks[1].state is not TaskState.DONE:
        await anyio.sleep(0)
    gates[0].set()
    gates[2].set()
    seen = [task.result async for task in tasks.as_completed()]
    assert seen[0] == 1 and sorted(seen) == [0, 1, 2]
    assert await handle == [0, 1, 2]


async def test_plain_for_refuses_at_once_in_a_running_loop() -> None:
    tasks, _ = gated(1)
    with pytest.raises(RuntimeError, match="use `async for`"):
        for _ in tasks.as_completed():
            pass  # pragma: no cover
    assert tasks.state is TaskState.PENDING and not tasks.running


async def test_plain_for_from_a_worker_thread() -> None:
    tasks = Tasks([Task(pow, 2, i) for i in range(5)], as_group=True)
    results = await anyio.to_thread.run_sync(lambda: [t.result for t in tasks.as_completed()])
    assert sorted(results) == [1, 2, 4, 8, 16]


def test_plain_for_in_a_thread_without_a_loop_raises_after_the_last() -> None:
    box: dict[str, Any] = {}

    def script() -> None:
        tasks = Tasks([Task(time.sleep, 0), Task(fail, "in a script")], as_group=True)
        box["seen"] = []
        try:
            for task in tasks.as_completed():
                box["seen"].append(task.state)
        except ExceptionGroup as exc:
            box["raised"] = exc

    thread = threading.Thread(target=script)
    thread.start()
    thread.join(30)
    assert sorted(box["seen"]) == sorted([TaskState.DONE, TaskState.FAILED])
    assert "1 of 2 tasks failed" in str(box["raised"])


def test_a_sync_task_iterating_another_group() -> None:
    """Nested: a sync task's thread waits in `for`, and secedes meanwhile."""

    def outer(n: int) -> list[int]:
        inner = Tasks([Task(pow, 2, i) for i in range(n)], as_group=True, limit=2)
        return sorted(task.result for task in inner.as_completed())

    outer_group = Tasks([Task(outer, 6) for _ in range(3)], as_group=True)
    assert [t.result for t in outer_group.as_completed()] == [[1, 2, 4, 8, 16, 32]] * 3


def test_a_sync_task_stops_when_cancel_on_exit_leaves() -> None:
    started = threading.Event()

    def slow() -> str:
        started.set()
        while not cancelled():
            time.sleep(0.005)
        return "stopped"

    tasks = Tasks([Task(pow, 2, 2), Task(slow)], as_group=True, limit=1)
    ended = threading.Event()
    tasks.subscribe(lambda event: ended.set() if event.task is tasks else None, "finished")
    for task in tasks.as_completed(cancel_on_exit=True):
        assert task.result == 4
        started.wait(30)
        break
    assert ended.wait(30)  # cancelled on the run's loop, right after the iterator was dropped
    assert tasks.tasks[1].state is TaskState.CANCELLED
    assert isinstance(tasks.exception, TaskCancelled)


def test_bad_flag_is_refused() -> None:
    with pytest.raises(TypeError, match="cancel_on_exit"):
        Tasks().as_completed(cancel_on_exit="yes")  # type: ignore[arg-type]
