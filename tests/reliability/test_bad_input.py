"""Bad input: each mistake raises at once with one clear message and changes nothing."""

from __future__ import annotations

import asyncio
import functools
import threading
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import pytest

import backgrounder
from backgrounder import Task, Tasks, TaskState


def two(a: int, b: int) -> int:
    return a + b


def keyword_only(*, key: int) -> int:
    return key


def gen() -> Iterator[int]:
    yield 1


async def agen() -> AsyncIterator[int]:
    yield 1


async def coro() -> int:
    return 1


class GeneratorCall:
    def __call__(self) -> Iterator[int]:
        yield 1


@pytest.fixture
def events() -> Iterator[list[backgrounder.TaskEvent]]:
    """Every event emitted meanwhile: a rejected input must emit none."""
    seen: list[backgrounder.TaskEvent] = []
    unsubscribe = backgrounder.subscribe(seen.append)
    yield seen
    unsubscribe()


def make_coroutine() -> Any:
    return coro()


def make_future() -> Any:
    loop = asyncio.new_event_loop()
    try:
        return loop.create_future()
    finally:
        loop.close()


BAD_TASKS: list[tuple[str, Callable[[], tuple[Any, ...]], dict[str, Any], str]] = [
    ("int", lambda: (1,), {}, "a task needs a callable, got int 1"),
    ("str", lambda: ("f",), {}, "a task needs a callable, got str 'f'"),
    ("None", lambda: (None,), {}, "a task needs a callable, got NoneType None"),
    ("list", lambda: ([two],), {}, "a task needs a callable, got list"),
    ("too many", lambda: (two, 1, 2, 3), {}, "two() cannot take the arguments given"),
    ("missing", lambda: (two, 1), {}, "missing a required argument: 'b'"),
    ("unknown kw", lambda: (two, 1, 2), {"c": 3}, "two() cannot take the arguments given"),
    ("positional kw-only", lambda: (keyword_only, 1), {}, "keyword_only() cannot take"),
    ("generator", lambda: (gen,), {}, "gen is a generator function"),
    ("async generator", lambda: (agen,), {}, "agen is an async generator function"),
    ("partial generator", lambda: (functools.partial(gen),), {}, "gen is a generator function"),
    ("generator __call__", lambda: (GeneratorCall(),), {}, "is a generator function"),
    ("coroutine object", lambda: (make_coroutine(),), {}, "did you mean Task(coro, ...)"),
    ("future", lambda: (make_future(),), {}, "a task needs a function, but got the awaitable"),
]


@pytest.mark.parametrize(
    ("args", "kwargs", "message"), [b[1:] for b in BAD_TASKS], ids=[b[0] for b in BAD_TASKS]
)
def test_a_bad_task_is_rejected_at_construction_with_one_clear_line(
    args: Callable[[], tuple[Any, ...]],
    kwargs: dict[str, Any],
    message: str,
    events: list[backgrounder.TaskEvent],
) -> None:
    group = Tasks(as_group=True)
    group.add_task(two, 1, 2)
    for build in (Task, group.add_task):
        with pytest.raises(TypeError) as info:
            build(*args(), **kwargs)
        text = str(info.value)
        assert message in text
        assert "\n" not in text and len(text) < 300
    assert len(group) == 1 and group.state is TaskState.PENDING
    assert events == []


def test_the_decorator_checks_each_call() -> None:
    with pytest.raises(TypeError, match="@background decorates a function, got int"):
        backgrounder.background(3)  # type: ignore[call-overload]
    started = backgrounder.background(two)
    with pytest.raises(TypeError, match="two\\(\\) cannot take the arguments given"):
        started(1)  # type: ignore[call-arg]
    assert not backgrounder.running_handles()


@pytest.mark.parametrize(
    ("build", "error", "message"),
    [
        (lambda: Tasks(["f"]), TypeError, "Tasks() takes Task objects, got str 'f'"),
        (lambda: Tasks(limit=0), ValueError, "limit must be a positive int or None, got 0"),
        (lambda: Tasks(limit=True), ValueError, "limit must be a positive int"),
        (lambda: Tasks(timeout=-1), ValueError, "timeout must be a positive number"),
        (lambda: Tasks(task_timeout=float("nan")), ValueError, "timeout must be a positive"),
        (lambda: Tasks(name=""), TypeError, "name must be a non-empty str"),
        (lambda: Tasks(executor=object()), TypeError, "must be a concurrent.futures.Executor"),
        (lambda: Tasks().add(two), TypeError, "add() takes a Task, got function"),
        (lambda: Task(two, 1, 2).options(timeout=0), ValueError, "timeout must be a positive"),
        (lambda: Task(two, 1, 2).options(name=""), TypeError, "name must be a non-empty str"),
        (lambda: Task(coro).options(executor=object()), TypeError, "must be a concurrent"),
        (lambda: backgrounder.subscribe(3), TypeError, "subscribe() needs a callable"),  # type: ignore[arg-type]
    ],
)
def test_bad_options_are_rejected_with_one_clear_line(
    build: Callable[[], Any], error: type[Exception], message: str
) -> None:
    with pytest.raises(error) as info:
        build()
    assert message in str(info.value) and "\n" not in str(info.value)


def test_an_async_task_cannot_go_to_an_executor() -> None:
    from concurrent.futures import ThreadPoolExecutor

    with (
        ThreadPoolExecutor(1) as pool,
        pytest.raises(TypeError, match=r"coro\(\) is async: executors run sync callables only"),
    ):
        Task(coro).options(executor=pool)


# -- misuse while running -------------------------------------------------------------------------


@pytest.mark.anyio
async def test_awaiting_a_group_twice_concurrently_is_refused_and_the_run_unharmed(
    anyio_backend: str,
) -> None:
    import anyio

    release = anyio.Event()

    async def wait() -> str:
        await release.wait()
        return "done"

    group = Tasks([Task(wait), Task(two, 1, 2)], as_group=True)
    outcomes: list[Any] = []

    async def first() -> None:
        outcomes.append(await group())

    async with anyio.create_task_group() as tg:
        tg.start_soon(first)
        while group.state is not TaskState.RUNNING:
            await anyio.sleep(0.001)
        with pytest.raises(RuntimeError, match="while it runs; await it"):
            await group()
        with pytest.raises(RuntimeError, match=r"cannot add tasks to .* while it runs"):
            group.add_task(two, 3, 4)
        with pytest.raises(RuntimeError, match="cannot add tasks to"):
            group.add(Task(two, 3, 4))
        with pytest.raises(RuntimeError, match=r"cannot start .* while it runs"):
            group.start()
        with pytest.raises(RuntimeError, match="is already running"):
            await group.tasks[0]()
        with pytest.raises(RuntimeError, match="is already running"):
            await Tasks([group.tasks[0]])()
        assert len(group) == 2
        release.set()
    assert outcomes == [["done", 3]]
    assert group.state is TaskState.DONE


def test_a_task_twice_in_one_run_is_refused_before_anything_runs() -> None:
    task = Task(two, 1, 2)
    group = Tasks([task, Task(two, 3, 4), task], as_group=True)
    with pytest.raises(ValueError, match="appears twice in one run"):
        asyncio.run(group())
    assert all(t.state is TaskState.PENDING for t in group)
    assert group.state is TaskState.PENDING


# -- work that cannot be sent to another process ------------------------------------------------


def give(value: object) -> object:
    return value


def make_lock() -> object:
    return threading.Lock()


def check_pickling_failure(task: Task, fragment: str) -> None:
    with pytest.raises(TypeError) as info:
        asyncio.run(task())
    text = str(info.value)
    assert fragment in text and "\n" not in text
    assert task.state is TaskState.FAILED


def test_unpicklable_work_sent_to_a_process_pool_fails_with_a_clear_message() -> None:
    from backgrounder.executors import process_pool

    pool = process_pool(1)
    arg = Task(give, threading.Lock()).options(executor=pool)
    check_pickling_failure(arg, "cannot send give(")
    assert "cannot be pickled" in str(arg.exception)
    result = Task(make_lock).options(executor=pool)
    check_pickling_failure(result, "the result of make_lock() cannot be pickled")
    assert asyncio.run(Task(give, 5).options(executor=pool)()) == 5  # the pool still works


def test_unpicklable_work_sent_to_a_stdlib_process_pool_fails_with_a_clear_message() -> None:
    from concurrent.futures import ProcessPoolExecutor

    with ProcessPoolExecutor(1) as pool:
        check_pickling_failure(Task(lambda: 1).options(executor=pool), "to ProcessPoolExecutor")
        assert asyncio.run(Task(give, 5).options(executor=pool)()) == 5


def test_unpicklable_work_sent_to_dask_fails_with_a_clear_message() -> None:
    distributed = pytest.importorskip("distributed")

    with (
        distributed.LocalCluster(
            n_workers=1,
            threads_per_worker=1,
            processes=False,
            dashboard_address=":0",  # another cluster may hold 8787
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        check_pickling_failure(Task(give, threading.Lock()).options(executor=client), "to Client")
        assert asyncio.run(Task(give, 5).options(executor=client)()) == 5


# -- options that overflow, classes for instances, strings for flags (issue 13, item 11) ------


def test_more_bad_options_are_rejected_with_one_clear_line(
    events: list[backgrounder.TaskEvent],
) -> None:
    from concurrent.futures import ThreadPoolExecutor

    huge = 10**400
    cases: list[tuple[Callable[[], Any], type[Exception], str]] = [
        (lambda: Tasks(timeout=huge), ValueError, "timeout must be a positive number of seconds"),
        (lambda: Tasks(task_timeout=huge), ValueError, "(None for no timeout), got 1000"),
        (lambda: Task(two, 1, 2).options(timeout=huge), ValueError, "timeout must be"),
        (lambda: Tasks(timeout=float("inf")), ValueError, "None for no timeout"),
        (lambda: backgrounder.background(timeout=huge), ValueError, "timeout must be"),
        (
            lambda: Tasks(executor=ThreadPoolExecutor),
            TypeError,
            "got the class ThreadPoolExecutor: did you mean ThreadPoolExecutor()?",
        ),
        (lambda: Task(two, 1, 2).options(executor=ThreadPoolExecutor), TypeError, "the class"),
        (lambda: Tasks(as_group="no"), TypeError, "as_group must be True or False, got str 'no'"),
        (lambda: Tasks(fail_fast="yes"), TypeError, "fail_fast must be True or False"),
        (lambda: Tasks(as_group=2), TypeError, "as_group must be True or False, got int 2"),
        (lambda: backgrounder.subscribe(print, kinds=["strated"]), ValueError, "got 'strated'"),
        (lambda: backgrounder.subscribe(print, kinds=[3]), ValueError, "kinds are EventKind"),
    ]
    for build, error, message in cases:
        with pytest.raises(error) as info:
            build()
        text = str(info.value)
        assert message in text, text
        assert "\n" not in text and len(text) < 200, text
    assert events == []


def test_one_event_kind_may_be_named_alone() -> None:
    seen: list[backgrounder.TaskEvent] = []
    for kinds in ("started", backgrounder.EventKind.STARTED):
        seen.clear()
        group = Tasks([Task(two, 1, 2)])
        unsubscribe = group.subscribe(seen.append, kinds=kinds)
        asyncio.run(group())
        unsubscribe()
        assert [(e.kind, e.task) for e in seen] == [
            ("started", group),
            ("started", group.tasks[0]),
        ]
    assert Tasks(as_group=1).as_group is True and Tasks(fail_fast=0).fail_fast is False


# -- progress() checks its values at the call (issue 13, item 10) -------------------------------

BAD_PROGRESS: list[tuple[tuple[Any, ...], type[Exception], str]] = [
    (("50%",), TypeError, "done must be a number, got str '50%'"),
    ((3, "10"), TypeError, "total must be a number, got str '10'"),
    ((None,), TypeError, "done must be a number, got NoneType None"),
    ((10**400,), ValueError, "done must be a finite number"),
    ((1, 10**400), ValueError, "total must be a finite number"),
    ((float("nan"), 10), ValueError, "done must be a finite number"),
    ((float("inf"),), ValueError, "done must be a finite number"),
    ((-1, 10), ValueError, "done must be >= 0"),
    ((1, 0), ValueError, "total must be > 0 (or None)"),
    ((True, 10), TypeError, "done must be a number, got bool True"),
    ((1, [10]), TypeError, "total must be a number, got list"),
]


@pytest.mark.parametrize(
    ("args", "error", "message"), BAD_PROGRESS, ids=[repr(b[0])[:30] for b in BAD_PROGRESS]
)
def test_bad_progress_is_refused_at_the_call_naming_the_task(
    args: tuple[Any, ...], error: type[Exception], message: str
) -> None:
    from backgrounder.notebook.render import group_html, group_text
    from backgrounder.notebook.sources import GroupSource

    def report() -> str:
        backgrounder.progress(2, 4)
        try:
            backgrounder.progress(*args)
        except (TypeError, ValueError) as exc:
            return f"{type(exc).__name__}: {exc}"
        return "accepted"

    group = Tasks([Task(report).options(name="reporter")])
    [outcome] = asyncio.run(group())
    assert outcome.startswith(error.__name__) and message in outcome, outcome
    assert "progress() in reporter: " in outcome and "\n" not in outcome
    assert group.tasks[0].progress == (2, 4)  # the bad value changed nothing
    snap = GroupSource(group).snapshot()
    assert "reporter" in group_text(snap) and "reporter" in group_html(snap)
    with pytest.raises(error, match=r"^progress\(\): "):
        backgrounder.progress(*args)  # outside a task: checked too, then ignored


def test_good_progress_values_of_any_real_type_are_kept() -> None:
    from fractions import Fraction

    seen: list[Any] = []

    def report() -> None:
        for done, total in [(0, None), (1.5, 3), (Fraction(1, 2), 1), (10**300, 10**301)]:
            backgrounder.progress(done, total)
            seen.append(backgrounder.current_task().progress)  # type: ignore[union-attr]

    asyncio.run(Task(report)())
    assert seen == [(0, None), (1.5, 3), (0.5, 1), (10**300, 10**301)]
    assert all(type(v) in (int, float) for pair in seen for v in pair if v is not None)
