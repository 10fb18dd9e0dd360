"""The oracle: after every redraw the frontend's models equal the view of the tasks' truth.

A hypothesis state machine runs real tasks (async ones on the library's loop, sync ones in
worker threads) that wait for commands; its rules make them start, report progress,
finish, fail or be cancelled, from several threads at once, then redraw the table and
compare what the frontend received with the view computed straight from the tasks.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

import pytest
from hypothesis import HealthCheck, Phase, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from backgrounder import EventKind, Handle, Task, Tasks, TaskState, progress
from backgrounder.notebook.sources import GroupSource, LooseSource
from backgrounder.notebook.table import LiveTable

from .conftest import Frontend
from .truth import assert_shows_truth

Command = tuple[Any, ...]
Slot = Future  # a task's next command: (command, acknowledgement, next slot)


class Mailbox:
    """Commands for one task's body, sent from any thread, one at a time."""

    def __init__(self) -> None:
        self.first: Slot = Future()
        self._slot = self.first
        self._lock = threading.Lock()

    def post(self, command: Command) -> Future:
        done: Future = Future()
        with self._lock:
            slot, self._slot = self._slot, Future()
            slot.set_result((command, done, self._slot))
        return done


def _apply(command: Command, done: Future) -> Any:
    kind = command[0]
    if kind == "progress":
        progress(command[1], command[2])
        done.set_result(None)
        return None
    done.set_result(None)
    if kind == "fail":
        raise ValueError(f"failed <{command[1]}>")
    return command[1]


async def async_body(box: Mailbox) -> Any:
    slot = box.first
    while True:
        # shielded: a cancelled task must not cancel the mailbox's future under the poster
        command, done, slot = await asyncio.shield(asyncio.wrap_future(slot))
        if command[0] != "progress":
            return _apply(command, done)
        _apply(command, done)


def sync_body(box: Mailbox) -> Any:
    slot = box.first
    while True:
        command, done, slot = slot.result()
        if command[0] != "progress":
            return _apply(command, done)
        _apply(command, done)


class Watch:
    """Waits, on events, until the tasks' states satisfy a condition."""

    def __init__(self) -> None:
        self.cond = threading.Condition()

    def __call__(self, _: object) -> None:
        with self.cond:
            self.cond.notify_all()

    def until(self, check: Callable[[], bool], timeout: float = 30) -> None:
        with self.cond:
            assert self.cond.wait_for(check, timeout), "the tasks did not get there"


class TableTruth(RuleBasedStateMachine):
    """One table (a group, or loose tasks started one by one) and its tasks."""

    frontend: Frontend

    def __init__(self) -> None:
        super().__init__()
        self.pool = ThreadPoolExecutor(4, thread_name_prefix="oracle")
        self.expanded: set[int] = set()
        self.table: LiveTable | None = None
        self.handles: list[Handle] = []
        self.unsubscribe: Callable[[], None] = lambda: None

    @initialize(
        n=st.one_of(st.integers(1, 60), st.sampled_from([300, 2000])),
        sync_share=st.sampled_from([0.0, 0.5, 1.0]),
        loose=st.booleans(),
        limit=st.sampled_from([1, 3, 20, 35]),  # the library runs 40 worker threads at most
        window=st.sampled_from([1, 5, 50]),
    )
    def setup(self, n: int, sync_share: float, loose: bool, limit: int, window: int) -> None:
        if loose:
            n = min(n, 30)  # each started loose task runs at once: fewer than the 40 threads
        self.window = window
        self.boxes: dict[int, Mailbox] = {}
        tasks = []
        for i in range(n):
            box = Mailbox()
            sync = i < n * sync_share
            task = Task(sync_body if sync else async_body, box).options(name=f"task <{i}>")
            self.boxes[task.id] = box
            tasks.append(task)
        self.tasks = tasks
        self.watch = Watch()
        # The watch wakes the test after the table has heard the same event: a group calls
        # its listeners in order (the table's first); loose tasks reach their table through
        # one global listener, subscribed with the first loose table, before this one.
        if loose:
            self.group = None
            first = tasks[0]
            self.source = LooseSource("loose <tasks>", [first], window)
            self.table = LiveTable(self.source)
            self.unsubscribe = backgrounder_subscribe(self.watch)
            self.handles.append(first.start(thread_loop=True))
            self.unstarted = tasks[1:]
            self.watch.until(lambda: first.state is not TaskState.PENDING)
        else:
            self.group = Tasks(tasks, as_group=True, limit=limit, name="group <g>")
            self.table = LiveTable(GroupSource(self.group, window))
            self.unsubscribe = self.group.subscribe(self.watch)
            self.handles.append(self.group.start(thread_loop=True))
            self.limit = limit
            self.settle()

    # -- helpers -------------------------------------------------------------------------------

    @property
    def work(self) -> Tasks | tuple[str, list[Task]]:
        if self.group is not None:
            return self.group
        return ("loose <tasks>", self.source.tasks)

    def running(self) -> list[Task]:
        return [task for task in self.tasks if task.state is TaskState.RUNNING]

    def settle(self) -> None:
        """Wait until the group's runner has started what its limit allows."""
        if self.group is None:
            return
        group = self.group

        def settled() -> bool:
            if group.state.finished:
                return True
            states = [task.state for task in self.tasks]
            running = states.count(TaskState.RUNNING)
            pending = states.count(TaskState.PENDING)
            if not running and not pending:
                # every task ended: the group ends next, on its loop; a redraw made before
                # that would read it running and the truth read after it, ended
                return False
            return running == min(self.limit, running + pending)

        self.watch.until(settled)

    def each(self, tasks: list[Task], act: Callable[[Task], Any]) -> None:
        """Do ``act`` to every task, from the pool's threads at once."""
        for future in [self.pool.submit(act, task) for task in tasks]:
            future.result(30)

    def end(self, task: Task, command: Command) -> None:
        self.boxes[task.id].post(command).result(30)
        self.watch.until(lambda: task.state.finished)

    # -- rules ---------------------------------------------------------------------------------

    @precondition(lambda self: self.group is None and self.unstarted)
    @rule(k=st.integers(1, 5))
    def start(self, k: int) -> None:
        chosen, self.unstarted = self.unstarted[:k], self.unstarted[k:]
        for task in chosen:
            if self.table is None or not self.table.add(
                task
            ):  # it ended: a new table, as %background --group does
                self.source = LooseSource("loose <tasks>", [task], self.window)
                self.table = LiveTable(self.source)
            self.handles.append(task.start(thread_loop=True))
        self.watch.until(lambda: all(task.state is not TaskState.PENDING for task in chosen))

    def pick(self, picks: list[int]) -> list[Task]:
        """Running tasks chosen by index (draws never depend on the tasks' states)."""
        running = self.running()
        if not running:
            return []
        return list({id(t): t for t in (running[i % len(running)] for i in picks)}.values())

    @rule(picks=st.lists(st.integers(0, 10_000), max_size=8), done=st.integers(0, 10))
    def report_progress(self, picks: list[int], done: int) -> None:
        chosen = self.pick(picks)
        self.each(chosen, lambda task: self.boxes[task.id].post(("progress", done, 10)).result(30))

    @rule(
        picks=st.lists(st.integers(0, 10_000), min_size=1, max_size=6),
        how=st.sampled_from(["finish", "fail", "cancel"]),
    )
    def end_some(self, picks: list[int], how: str) -> None:
        chosen = self.pick(picks)

        def act(task: Task) -> None:
            if how == "cancel":
                task.cancel()
                self.watch.until(lambda: task.state.finished)
                self.boxes[task.id].post(("finish", None))  # a sync body's thread goes on
            else:
                self.end(task, (how, task.id))

        self.each(chosen, act)
        self.settle()

    @rule(index=st.integers(0, 60))
    def toggle_details(self, index: int) -> None:
        if self.table is None or self.table.closed:
            return
        model = self.frontend.table()
        rows = model.rows()
        if index < len(rows) and rows[index].id in [t.id for t in self.tasks]:
            self.expanded ^= {rows[index].id}
            model.click_details(index)

    # -- the check -----------------------------------------------------------------------------

    @invariant()
    def shows_the_truth(self) -> None:
        table = self.table
        if table is None:
            return
        assert_shows_truth(table, self.frontend, self.work, self.expanded, self.window)

    def teardown(self) -> None:
        for task in self.tasks if hasattr(self, "tasks") else []:
            task.cancel()
        for box in getattr(self, "boxes", {}).values():
            box.post(("finish", None))
        for handle in self.handles:
            try:
                handle.result(30)
            except BaseException:
                pass
        if self.table is not None:
            assert self.table.wait_idle(30)
        self.unsubscribe()
        self.pool.shutdown()


def backgrounder_subscribe(listener: Callable[[Any], None]) -> Callable[[], None]:
    from backgrounder import subscribe

    return subscribe(listener, (EventKind.STARTED, EventKind.FINISHED))


@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
def test_the_table_shows_the_truth_after_every_redraw(frontend: Frontend) -> None:
    TableTruth.frontend = frontend
    TableTruth.TestCase.settings = settings(
        max_examples=30,
        stateful_step_count=30,
        deadline=None,
        # no shrinking: each example runs real tasks, and the failing steps are printed
        phases=[Phase.explicit, Phase.reuse, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    TableTruth.TestCase().runTest()
