"""Lifecycle events: which, in what order, to global and group listeners."""

from __future__ import annotations

import logging
import threading

import anyio
import pytest

from backgrounder import EventKind, Task, TaskEvent, Tasks, subscribe

pytestmark = pytest.mark.anyio


def ident(x: object) -> object:
    return x


async def test_order_for_a_group() -> None:
    events: list[tuple[str, str]] = []
    lock = threading.Lock()

    def record(event: TaskEvent) -> None:
        with lock:
            events.append((event.kind.value, event.task.name))

    tasks = Tasks([Task(ident, 1).options(name="a"), Task(ident, 2).options(name="b")], name="g")
    unsubscribe = tasks.subscribe(record)
    await tasks()
    assert events == [
        ("started", "g"),
        ("queued", "a"),
        ("queued", "b"),
        ("started", "a"),
        ("finished", "a"),
        ("started", "b"),
        ("finished", "b"),
        ("finished", "g"),
    ]
    unsubscribe()
    events.clear()
    await tasks()
    assert events == []


async def test_global_listener_sees_every_task_and_failures() -> None:
    seen: list[TaskEvent] = []
    unsubscribe = subscribe(seen.append)
    try:
        task = Task(int, "x")
        with pytest.raises(ValueError):
            await task()
    finally:
        unsubscribe()
    kinds = [e.kind for e in seen if e.task is task]
    assert kinds == [EventKind.QUEUED, EventKind.STARTED, EventKind.FINISHED]
    assert task.state == "failed"


async def test_cancelled_pending_task_ends_with_finished() -> None:
    started, release = anyio.Event(), anyio.Event()

    async def first() -> None:
        started.set()
        await release.wait()

    events: list[tuple[EventKind, str]] = []
    later = Task(ident, 1).options(name="later")
    tasks = Tasks([Task(first).options(name="first"), later], as_group=True, limit=1)
    tasks.subscribe(lambda e: events.append((e.kind, e.task.name)))

    async def run() -> None:
        with pytest.raises(Exception):  # noqa: B017 - TaskCancelled, checked below
            await tasks()

    async with anyio.create_task_group() as tg:
        tg.start_soon(run)
        await started.wait()
        later.cancel()
        release.set()
    mine = [kind for kind, name in events if name == "later"]
    assert mine == [EventKind.QUEUED, EventKind.FINISHED]
    assert later.state == "cancelled"


async def test_a_failing_listener_is_reported_once_and_kept(
    caplog: pytest.LogCaptureFixture,
) -> None:
    calls: list[int] = []

    def broken(event: TaskEvent) -> None:
        calls.append(1)
        raise RuntimeError("listener bug")

    tasks = Tasks([Task(ident, 1)])
    tasks.subscribe(broken)
    with caplog.at_level(logging.ERROR, logger="backgrounder"):
        assert await tasks() == [1]
    assert len(calls) == 5  # group started, queued, started, finished, group finished
    assert sum("listener" in r.message for r in caplog.records) == 1


def test_subscribe_needs_a_callable() -> None:
    with pytest.raises(TypeError, match="needs a callable"):
        subscribe(3)  # type: ignore[arg-type]
    assert str(EventKind.OUTPUT) == "output"


async def test_listeners_get_only_the_kinds_they_name() -> None:
    finished: list[object] = []
    started: list[object] = []
    tasks = Tasks([Task(ident, 1), Task(ident, 2)], as_group=True)
    stop_group = tasks.subscribe(lambda e: finished.append(e.task), [EventKind.FINISHED])
    stop_all = subscribe(lambda e: started.append(e.task), ["started"])
    try:
        await tasks()
    finally:
        stop_group()
        stop_all()
    assert sorted(map(id, finished)) == sorted(map(id, [*tasks.tasks, tasks]))
    assert tasks in started and all(task in started for task in tasks)
    assert len(started) == 3  # two tasks and the group, nothing else


def test_a_kind_that_does_not_exist_is_refused() -> None:
    with pytest.raises(ValueError, match=r"kinds are EventKind values \(queued, .*got 'begun'"):
        subscribe(lambda e: None, ["begun"])  # type: ignore[list-item]
