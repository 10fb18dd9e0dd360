"""Load: big groups finish with the right results in bounded memory, many sync tasks run at
once under a limit, a chatty task keeps only its tail, results never cross between tasks.

Sizes marked ``heavy`` run reduced in ``make test`` and full under ``make test-heavy``.
"""

from __future__ import annotations

import asyncio
import gc
import threading
import time
import tracemalloc
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

import backgrounder
from backgrounder import Task, Tasks, TaskState
from backgrounder._output import OUTPUT_LIMIT

from .support import scaled

# Measured per task at 10,000 and 100,000 tasks (tracemalloc peak, task objects included):
# about 0.8 KB for sync and 1.8 KB for async functions. The bound leaves room for both.
PEAK_PER_TASK = 4096


def identity(i: int) -> int:
    return i


async def async_identity(i: int) -> int:
    return i


@pytest.mark.heavy
@pytest.mark.parametrize("func", [identity, async_identity], ids=["sync", "async"])
def test_a_huge_group_completes_with_correct_results_in_bounded_memory(
    func: Callable[[int], Any],
) -> None:
    n = scaled(10_000, 100_000)

    async def main() -> tuple[list[Any], Tasks, int]:
        gc.collect()
        tracemalloc.start()
        try:
            group = Tasks(as_group=True)
            for i in range(n):
                group.add_task(func, i)
            results = await group()
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        return results, group, peak

    results, group, peak = asyncio.run(main())
    assert results == list(range(n))
    assert all(task.result == i for i, task in enumerate(group))
    assert group.state is TaskState.DONE
    assert group.counts()[TaskState.DONE] == n
    assert peak / n < PEAK_PER_TASK, f"{peak / n:.0f} bytes per task"


@pytest.mark.anyio
async def test_a_large_group_on_any_backend(anyio_backend: str) -> None:
    n = 2_000
    group = Tasks(as_group=True, limit=100)
    for i in range(n):
        group.add_task(identity if i % 2 else async_identity, i)
    assert await group() == list(range(n))


@pytest.mark.heavy
def test_the_table_snapshot_stays_fast_while_a_huge_group_runs() -> None:
    from backgrounder.notebook.render import group_html, group_text
    from backgrounder.notebook.sources import GroupSource
    from backgrounder.notebook.tracker import WINDOW

    n = scaled(10_000, 100_000)
    group = Tasks(as_group=True)
    for i in range(n):
        group.add_task(identity, i)
    source = GroupSource(group)
    unsubscribe = source.subscribe(source.update)
    slowest = 0.0
    drawn_while_running = 0

    def draw() -> Any:
        nonlocal slowest
        start = time.perf_counter()
        snap = source.snapshot()
        group_html(snap)
        group_text(snap)
        slowest = max(slowest, time.perf_counter() - start)
        return snap

    async def main() -> None:
        nonlocal drawn_while_running
        handle = group.start()
        while not handle.done():
            snap = draw()
            drawn_while_running += snap.state is TaskState.RUNNING
            assert len(snap.rows) <= WINDOW
            await asyncio.sleep(0.01)
        await handle

    try:
        asyncio.run(main())
    finally:
        unsubscribe()
    snap = draw()
    assert snap.counts[TaskState.DONE] == snap.total == n
    assert drawn_while_running >= 1
    assert slowest < 0.25, f"a redraw took {slowest:.3f} s"


def test_sync_tasks_never_exceed_the_limit() -> None:
    n, limit = 1_000, 25
    lock = threading.Lock()
    running = most = 0

    def work(i: int) -> int:
        nonlocal running, most
        with lock:
            running += 1
            most = max(most, running)
        time.sleep(0.002)
        with lock:
            running -= 1
        return i

    async def main() -> list[int]:
        return await Tasks([Task(work, i) for i in range(n)], as_group=True, limit=limit)()

    assert asyncio.run(main()) == list(range(n))
    assert 1 < most <= limit


def test_a_thousand_sync_tasks_run_at_once_under_a_limit_of_a_thousand() -> None:
    """All 1,000 must be running together to pass the barrier: none is held back or lost."""
    n = 1_000
    barrier = threading.Barrier(n, timeout=60)

    def meet(i: int) -> int:
        barrier.wait()
        return i

    async def main(pool: ThreadPoolExecutor) -> tuple[list[int], Tasks]:
        group = Tasks(as_group=True, limit=n, executor=pool)
        for i in range(n):
            group.add_task(meet, i)
        return await group(), group

    with ThreadPoolExecutor(max_workers=n) as pool:
        results, group = asyncio.run(main(pool))
    assert results == list(range(n))
    assert not barrier.broken
    assert group.counts()[TaskState.DONE] == n


@pytest.mark.heavy
@pytest.mark.parametrize("kind", ["sync", "async"])
def test_a_chatty_task_keeps_its_tail_and_says_how_much_it_dropped(kind: str) -> None:
    from backgrounder.notebook.render import row_detail_html, row_text
    from backgrounder.notebook.snapshot import OUTPUT_TAIL, snapshot_task

    megabytes = scaled(10, 100)
    lines = megabytes * 1_000  # lines of 1,000 characters
    total = lines * 1_000

    def line(i: int) -> str:
        return f"{i:08d} " + "x" * 990 + "\n"

    def chatty() -> str:
        for i in range(lines):
            print(line(i), end="")
        return "said it all"

    async def async_chatty() -> str:
        for i in range(lines):
            print(line(i), end="")
            if i % 1_000 == 0:
                await asyncio.sleep(0)
        return "said it all"

    task = Task(chatty if kind == "sync" else async_chatty)

    async def main() -> Any:
        return await task()

    backgrounder.capture_output()
    gc.collect()
    tracemalloc.start()
    try:
        result = asyncio.run(main())
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
        backgrounder.release_output()

    assert result == "said it all"
    tail = "".join(line(i) for i in range(lines - OUTPUT_LIMIT // 1_000, lines))
    assert task.output == tail
    assert task.output_dropped == total - OUTPUT_LIMIT
    assert peak < 8 * OUTPUT_LIMIT * 4 + 2_000_000, f"peak {peak:,} bytes for {total:,} chars"
    row = snapshot_task(task)
    assert row.output_dropped == total - OUTPUT_TAIL
    assert f"[{total - OUTPUT_TAIL} earlier characters dropped]" in row_detail_html(row)
    assert "output lines" in row_text(row)


def test_results_never_cross_between_concurrent_tasks() -> None:
    n = 3_000

    def whoami(i: int) -> tuple[int, int | None]:
        task = backgrounder.current_task()
        time.sleep(0)  # let other threads in between reading and returning
        return i, task.id if task else None

    async def async_whoami(i: int) -> tuple[int, int | None]:
        await asyncio.sleep(0)
        task = backgrounder.current_task()
        await asyncio.sleep(0)
        return i, task.id if task else None

    async def main() -> tuple[list[Any], Tasks]:
        group = Tasks(as_group=True, limit=200)
        for i in range(n):
            group.add_task(whoami if i % 2 else async_whoami, i)
        return await group(), group

    results, group = asyncio.run(main())
    assert results == [(i, task.id) for i, task in enumerate(group)]


def test_results_never_cross_between_tasks_started_from_many_threads() -> None:
    per_thread, threads = 150, 8

    def whoami(i: int) -> tuple[int, int | None]:
        task = backgrounder.current_task()
        return i, task.id if task else None

    handles: list[list[backgrounder.Handle]] = [[] for _ in range(threads)]
    go = threading.Barrier(threads)

    def starter(k: int) -> None:
        go.wait()
        for i in range(per_thread):
            handles[k].append(Task(whoami, k * per_thread + i).start(thread_loop=True))

    workers = [threading.Thread(target=starter, args=(k,)) for k in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    for k, started in enumerate(handles):
        for i, handle in enumerate(started):
            assert handle.result(timeout=30) == (k * per_thread + i, handle.work.id)
