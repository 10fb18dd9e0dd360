"""Choosing an executor per task or per group, and what is refused."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest

import backgrounder as bg

pytestmark = pytest.mark.anyio


@pytest.fixture
def pool() -> Iterator[ThreadPoolExecutor]:
    with ThreadPoolExecutor(2, thread_name_prefix="user-pool") as pool:
        yield pool


def where() -> str:
    return threading.current_thread().name


async def where_async() -> str:
    return threading.current_thread().name


async def test_group_executor_runs_sync_tasks_without_their_own(pool: ThreadPoolExecutor) -> None:
    with ThreadPoolExecutor(1, thread_name_prefix="own-pool") as own:
        tasks = [bg.Task(where), bg.Task(where).options(executor=own), bg.Task(where_async)]
        group = bg.Tasks(tasks, as_group=True, executor=pool)
        on_pool, on_own, on_loop = await group()
    assert on_pool.startswith("user-pool")
    assert on_own.startswith("own-pool")
    assert on_loop == threading.current_thread().name  # async tasks stay on the loop


async def test_in_process_executor_keeps_progress_cancelled_and_output(
    pool: ThreadPoolExecutor,
) -> None:
    def work() -> bool:
        bg.progress(1, 2)
        print("from the pool")
        return bg.cancelled()

    task = bg.Task(work).options(executor=pool)
    bg.capture_output()
    try:
        assert await task() is False
    finally:
        bg.release_output()
    assert task.progress == (1, 2)
    assert task.output == "from the pool\n"
    assert not task.thread_alive


def test_what_is_refused() -> None:
    with pytest.raises(
        TypeError, match=r"executor for Tasks must be a concurrent\.futures\.Executor"
    ):
        bg.Tasks(executor=object())  # type: ignore[arg-type]
    with (
        ThreadPoolExecutor(1) as pool,
        pytest.raises(TypeError, match=r"where_async\(\) is async: executors run sync"),
    ):
        bg.Task(where_async).options(executor=pool)
