"""Tasks.map(): a task per input, results in input order, inputs read only as room frees."""

from __future__ import annotations

import itertools
import re
import sys
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import anyio
import pytest

from backgrounder import TaskCancelled, Tasks, TaskState

if sys.version_info < (3, 11):  # pragma: no cover
    from exceptiongroup import ExceptionGroup

pytestmark = pytest.mark.anyio


def square(x: int) -> int:
    return x * x


async def asquare(x: int) -> int:
    await anyio.sleep(0)
    return x * x


class Counted:
    """An input generator that says how many inputs were read, and how many ran to the end."""

    def __init__(self, n: int | None = None, fail_at: int | None = None) -> None:
        self.n, self.fail_at = n, fail_at
        self.read = 0
        self.returned = 0
        self.most_ahead = 0  # the most inputs read and not yet returned, at any moment
        self.closed = False
        self._lock = threading.Lock()

    def __iter__(self) -> Iterator[int]:
        try:
            for i in itertools.count() if self.n is None else range(self.n):
                if i == self.fail_at:
                    raise OSError(f"input <{i}> unreadable")
                with self._lock:
                    self.read += 1
                    self.most_ahead = max(self.most_ahead, self.read - self.returned)
                yield i
        finally:
            self.closed = True

    def work(self, x: int) -> int:
        with self._lock:
            self.returned += 1
        return x * x

    async def awork(self, x: int) -> int:
        await anyio.sleep(0)
        return self.work(x)


@pytest.mark.parametrize("limit", [None, 1, 4])
@pytest.mark.parametrize("func", [square, asquare])
async def test_results_in_input_order(func: object, limit: int | None) -> None:
    tasks = Tasks.map(func, range(30), limit=limit)  # type: ignore[arg-type]
    assert await tasks() == [i * i for i in range(30)]
    assert len(tasks) == tasks.total == 30
    assert tasks.counts()[TaskState.DONE] == 30


@pytest.mark.parametrize("sync", [True, False])
async def test_with_a_limit_inputs_are_read_only_as_slots_free(sync: bool) -> None:
    inputs = Counted(200)
    tasks = Tasks.map(inputs.work if sync else inputs.awork, iter(inputs), limit=3)
    assert inputs.read == 0  # nothing is read up front
    assert await tasks() == [i * i for i in range(200)]
    assert inputs.most_ahead <= 3
    assert inputs.closed


async def test_one_after_another_reads_one_input_at_a_time() -> None:
    inputs = Counted(20)
    tasks = Tasks.map(inputs.work, iter(inputs), as_group=False)
    assert await tasks() == [i * i for i in range(20)]
    assert inputs.most_ahead == 1


async def test_an_endless_generator_starts_at_once_and_stops_on_exit() -> None:
    inputs = Counted()  # never ends
    tasks = Tasks.map(inputs.awork, iter(inputs), limit=2)
    seen = 0
    async for _task in tasks.as_completed(cancel_on_exit=True):
        seen += 1
        if seen == 10:
            break
    while tasks.running:
        await anyio.sleep(0)
    assert inputs.read <= 12 and inputs.closed  # the generator's finally ran at the end
    assert isinstance(tasks.exception, TaskCancelled)
    assert "of 1" in str(tasks.exception) and "+ tasks done" in str(tasks.exception)


async def test_len_and_total_are_honest_while_inputs_are_read() -> None:
    inputs = Counted(50)
    gate = anyio.Event()

    async def held(x: int) -> int:
        await gate.wait()
        return x

    unsized = Tasks.map(held, iter(inputs), limit=5)
    sized = Tasks.map(square, list(range(50)), limit=5)
    assert (len(unsized), unsized.total) == (0, None)  # not known yet
    assert (len(sized), sized.total) == (0, 50)  # a list says its length
    handle = unsized.start()
    while len(unsized) < 5:
        await anyio.sleep(0)
    assert (len(unsized), unsized.total) == (5, None)  # made so far; the rest unknown
    gate.set()
    await handle
    assert (len(unsized), unsized.total) == (50, 50)


@pytest.mark.parametrize("as_group", [True, False])
async def test_inputs_raising_midway_fail_the_run_and_keep_the_results(as_group: bool) -> None:
    inputs = Counted(100, fail_at=7)
    tasks = Tasks.map(inputs.work, iter(inputs), limit=3, as_group=as_group)
    with pytest.raises(OSError, match="input <7> unreadable") as caught:
        await tasks()
    assert "raised while reading input 8 of map(" in "".join(caught.value.__notes__)
    assert tasks.state is TaskState.FAILED and tasks.exception is caught.value
    assert tasks.results == [i * i for i in range(7)]  # nothing lost


async def test_inputs_raising_with_failed_tasks_raise_together() -> None:
    def picky(x: int) -> int:
        if x == 2:
            raise ValueError("two")
        return x

    tasks = Tasks.map(picky, iter(Counted(10, fail_at=5)), limit=2)
    with pytest.raises(ExceptionGroup, match="reading its inputs raised") as caught:
        await tasks()
    assert [type(e) for e in caught.value.exceptions] == [ValueError, OSError]


async def test_fail_fast_stops_reading_inputs() -> None:
    inputs = Counted()

    def picky(x: int) -> int:
        if x == 3:
            raise ValueError("three")
        return x

    tasks = Tasks.map(picky, iter(inputs), limit=2, fail_fast=True)
    with pytest.raises(ExceptionGroup, match=r"1 of \d+\+ tasks failed"):
        await tasks()
    assert inputs.closed and inputs.read < 10


async def test_group_timeout_over_endless_inputs() -> None:
    gate = anyio.Event()

    async def held(x: int) -> int:
        await gate.wait()
        return x

    tasks = Tasks.map(held, itertools.count(), limit=3, timeout=0.05)
    with pytest.raises(TimeoutError, match=r"with 0 of 3\+ tasks done"):
        await tasks()


async def test_as_completed_on_a_map() -> None:
    tasks = Tasks.map(asquare, (i for i in range(40)), limit=4)
    got = [task.result async for task in tasks.as_completed()]
    assert sorted(got) == [i * i for i in range(40)]
    assert tasks.results == [i * i for i in range(40)]


def test_without_a_limit_every_task_is_made_at_once() -> None:
    inputs = Counted(25)
    tasks = Tasks.map(square, iter(inputs))
    assert inputs.read == 25 and len(tasks) == tasks.total == 25
    with pytest.raises(OSError, match="input <3> unreadable"):  # nothing is returned half-made
        Tasks.map(square, iter(Counted(10, fail_at=3)))


def test_group_options_reach_the_tasks() -> None:
    pool = ThreadPoolExecutor(2, thread_name_prefix="mapped")

    def where(_: int) -> str:
        return threading.current_thread().name

    try:
        tasks = Tasks.map(where, range(6), limit=2, executor=pool, name="in a pool")
        names = [task.result for task in tasks.as_completed()]
    finally:
        pool.shutdown()
    assert tasks.name == "in a pool" and all(name.startswith("mapped") for name in names)
    assert Tasks.map(square, [1]).name == "map(square)"


@pytest.mark.parametrize(
    ("func", "inputs", "message"),
    [
        (square, 5, "Tasks.map() takes an iterable of inputs, got int 5"),
        (square, "abc", "got the str 'abc': pass [text] for one input"),
        (42, [1], "Tasks.map(): a task needs a callable, got int 42"),
        (len, None, "an iterable of inputs, got NoneType None"),
        (lambda: 1, [1], "cannot take the arguments given"),
    ],
)
def test_bad_input_is_refused_at_once(func: object, inputs: object, message: str) -> None:
    with pytest.raises(TypeError, match=re.escape(message)):
        Tasks.map(func, inputs)  # type: ignore[arg-type]


def test_a_coroutine_object_instead_of_a_function() -> None:
    with pytest.raises(TypeError, match=r"did you mean Tasks.map\(asquare, inputs\)"):
        Tasks.map(asquare(1), [1])  # type: ignore[arg-type]


async def test_running_an_exhausted_map_again_runs_its_tasks_again() -> None:
    tasks = Tasks.map(square, (i for i in range(5)), limit=2)
    assert await tasks() == [0, 1, 4, 9, 16]
    assert await tasks() == [0, 1, 4, 9, 16]


async def test_group_retries_reach_the_tasks_made_from_the_inputs() -> None:
    tried: dict[int, int] = {}

    def flaky(x: int) -> int:
        tried[x] = tried.get(x, 0) + 1
        if tried[x] == 1:
            raise ConnectionError(f"first try of {x}")
        return x

    tasks = Tasks.map(flaky, iter(range(6)), limit=2, retries=1, retry_delay=0)
    assert await tasks() == list(range(6))
    assert tried == dict.fromkeys(range(6), 2)
