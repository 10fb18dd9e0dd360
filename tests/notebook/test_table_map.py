"""The live table of a Tasks.map: tasks join as inputs are read, and the total stays true."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Iterator

from backgrounder import Tasks, TaskState
from backgrounder.notebook.render import group_text
from backgrounder.notebook.sources import GroupSource
from backgrounder.notebook.table import LiveTable
from backgrounder.notebook.views import TextView

from .conftest import Frontend
from .truth import assert_shows_truth, wait_until


class Allowance:
    """Sync task bodies that return only once the test lets their input through."""

    def __init__(self) -> None:
        self.allowed = 0
        self.cond = threading.Condition()

    def allow(self, n: int) -> None:
        with self.cond:
            self.allowed = n
            self.cond.notify_all()

    def hold(self, i: int) -> int:
        with self.cond:
            assert self.cond.wait_for(lambda: i < self.allowed, 30)
        return i * i


def counted(group: Tasks, done: int, running: int) -> Callable[[], bool]:
    def check() -> bool:
        states = [task.state for task in list(group.tasks)]
        return states.count(TaskState.DONE) == done and states.count(TaskState.RUNNING) == running

    return check


def generator(n: int) -> Iterator[int]:
    yield from range(n)


def run_map(frontend: Frontend, inputs: Iterable[int], total: str, of: str) -> None:
    allowance = Allowance()
    tasks = Tasks.map(allowance.hold, inputs, limit=3, name="map <of inputs>")
    table = LiveTable(GroupSource(tasks, window=5))
    handle = tasks.start(thread_loop=True)
    try:
        wait_until(tasks, counted(tasks, 0, 3))
        assert_shows_truth(table, frontend, tasks, window=5)
        assert f">0/{total}</span>" in frontend.table().header
        for done in (2, 10):
            allowance.allow(done)
            wait_until(tasks, counted(tasks, done, 3))
            assert_shows_truth(table, frontend, tasks, window=5)
            assert f">{done}/{total}</span>" in frontend.table().header
        assert f"showing 5 of {of} tasks" in frontend.table().header
        allowance.allow(1_000)
        assert handle.result(30) == [i * i for i in range(40)]
        assert_shows_truth(table, frontend, tasks, window=5)  # the static table: 40/40
        assert ">40/40</span>" in table._repr_mimebundle_()["text/html"]
    finally:
        allowance.allow(1_000)
        table.close()


def test_a_map_over_a_generator_shows_an_unknown_total(frontend: Frontend) -> None:
    run_map(frontend, generator(40), "?", "13+")  # 10 done, 3 running, more to come


def test_a_map_over_a_list_shows_its_length_and_the_unread_as_pending(
    frontend: Frontend,
) -> None:
    run_map(frontend, list(range(40)), "40", "40")


def test_the_text_table_of_a_map_says_more_are_to_come() -> None:
    allowance = Allowance()
    tasks = Tasks.map(allowance.hold, generator(10), limit=2, name="m")
    handle = tasks.start(thread_loop=True)
    try:
        wait_until(tasks, counted(tasks, 0, 2))
        assert group_text(TextView(tasks).snapshot()).startswith("m: 2 tasks so far, 2 running")
    finally:
        allowance.allow(100)
    handle.result(30)
    assert group_text(TextView(tasks).snapshot()).startswith("m: 10 tasks, 10 done")
