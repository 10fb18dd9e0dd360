"""Executors: per-task overhead through Dask and a process pool against using them directly,
and the speed-up a process pool gives CPU-bound work over the default threads.

Each executor is started once and warmed up; then ours and the direct call alternate.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from concurrent.futures import Executor
from typing import Any

from _common import Config, Row, Samples, atimed, progress, rotate
from _work import cpu_bound, tiny

from backgrounder import Tasks

SECTION = "Executors"
Contender = Callable[[], Awaitable[Any]]


async def _ours(n: int, executor: Any, func: Callable[[int], int] = tiny, arg: int = 0) -> None:
    tasks = Tasks(as_group=True, executor=executor)
    for i in range(n):
        tasks.add_task(func, arg or i)
    await tasks()


async def _interleave(contenders: dict[str, Contender], rounds: int) -> Samples:
    samples = Samples()
    names = list(contenders)
    for round_no in range(rounds + 1):
        for name in rotate(names, round_no):
            seconds = await atimed(contenders[name])
            if round_no:
                samples.add(name, seconds)
    return samples


async def _dask(cfg: Config) -> list[Row]:
    figure = f"Dask group ({cfg.dask_tasks} tiny tasks) vs client.submit + gather"
    try:
        from distributed import Client, LocalCluster
    except ImportError:
        return [Row(SECTION, figure, None, target="<= 1.2x", note="distributed not installed")]
    n = cfg.dask_tasks
    with (
        LocalCluster(
            n_workers=2,
            threads_per_worker=1,
            processes=True,
            host="127.0.0.1",
            dashboard_address=None,
        ) as cluster,
        Client(cluster) as client,
    ):

        async def direct() -> None:
            futures = [client.submit(tiny, i, pure=False) for i in range(n)]
            await asyncio.to_thread(client.gather, futures)

        samples = await _interleave(
            {"direct": direct, "ours": lambda: _ours(n, client)}, cfg.rounds
        )
    ratio = samples.ratio("ours", "direct")
    return [
        Row(
            SECTION,
            figure,
            ratio,
            target="<= 1.2x",
            ok=ratio <= 1.2,
            note=f"{samples.per_task_us('ours', n) / 1e3:.2f} ms/task vs "
            f"{samples.per_task_us('direct', n) / 1e3:.2f}; LocalCluster, 2 worker processes",
        )
    ]


async def _processes(cfg: Config) -> list[Row]:
    from backgrounder.executors import process_pool

    pool: Executor = process_pool(2)
    n = cfg.dask_tasks
    # Warm the pool's processes before any round counts.
    list(pool.map(tiny, range(4)))

    async def direct() -> None:
        await asyncio.to_thread(lambda: list(pool.map(tiny, range(n))))

    samples = await _interleave({"direct": direct, "ours": lambda: _ours(n, pool)}, cfg.rounds)
    overhead = samples.ratio("ours", "direct")

    # CPU-bound: the same two tasks on the default threads and on the process pool.
    work = 200_000 if cfg.smoke else 10_000_000  # about 0.5 s a task here
    cpu = await _interleave(
        {
            "threads": lambda: _ours(2, None, cpu_bound, work),
            "processes": lambda: _ours(2, pool, cpu_bound, work),
            "one task": lambda: _ours(1, None, cpu_bound, work),
        },
        max(2, cfg.rounds // 2),
    )
    speedup = cpu.ratio("threads", "processes")
    return [
        Row(
            SECTION,
            f"process pool group ({n} tiny tasks) vs pool.map directly",
            overhead,
            note=f"{samples.per_task_us('ours', n):.0f} us/task vs "
            f"{samples.per_task_us('direct', n):.0f}; loky process_pool(2)",
        ),
        Row(
            SECTION,
            "CPU-bound speed-up: 2 tasks on processes vs on threads (2 cores)",
            speedup,
            target=">= 1.3x",
            ok=speedup >= 1.3,
            note=f"one task alone {cpu.median('one task'):.2f} s; two on processes "
            f"{cpu.median('processes'):.2f} s, on threads {cpu.median('threads'):.2f} s",
        ),
    ]


def run(cfg: Config) -> list[Row]:
    progress("executors: process pool")
    t0 = time.perf_counter()
    rows = asyncio.run(_processes(cfg))
    progress(f"executors: Dask LocalCluster ({time.perf_counter() - t0:.1f} s so far)")
    rows += asyncio.run(_dask(cfg))
    return rows
