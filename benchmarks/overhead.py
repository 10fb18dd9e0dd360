"""Per-task overhead: a group of no-op async tasks, and a group of tiny sync functions.

Every contender builds and runs the whole batch inside the timed region (building the
coroutines for ``gather`` is part of its cost too), on one asyncio loop, interleaved round
by round with ours. Upstream 0.2 runs in its own process (see ``upstream.py``).
"""

from __future__ import annotations

import asyncio
import contextlib
import io
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import anyio
import anyio.to_thread
from _common import Config, Row, Samples, atimed, progress, rotate
from _table import attach_table, creation_seconds, table_available
from upstream import Upstream

from backgrounder import Tasks

SECTION = "Per-task overhead"


async def noop() -> None:
    pass


def tiny(i: int) -> int:
    return i + 1


# -- async contenders ---------------------------------------------------------------------


async def gather(n: int) -> None:
    await asyncio.gather(*[noop() for _ in range(n)])


async def anyio_group(n: int) -> None:
    async with anyio.create_task_group() as tg:
        for _ in range(n):
            tg.start_soon(noop)


async def ours_async(n: int, table: bool = False) -> Callable[[], None] | None:
    tasks = Tasks(as_group=True)
    for _ in range(n):
        tasks.add_task(noop)
    close = attach_table(tasks) if table else None
    await tasks()
    return close


# -- sync contenders ----------------------------------------------------------------------

_pool = ThreadPoolExecutor(40)


async def pool_map(n: int) -> None:
    list(_pool.map(tiny, range(n)))


async def run_in_executor(n: int) -> None:
    loop = asyncio.get_running_loop()
    await asyncio.gather(*[loop.run_in_executor(None, tiny, i) for i in range(n)])


async def to_thread(n: int) -> None:
    async with anyio.create_task_group() as tg:
        for i in range(n):
            tg.start_soon(anyio.to_thread.run_sync, tiny, i)


async def background_jobs(n: int) -> None:
    from IPython.core.interactiveshell import InteractiveShell
    from IPython.lib.backgroundjobs import BackgroundJobManager

    InteractiveShell.instance()  # jobs format their tracebacks through the running shell
    jobs = BackgroundJobManager()
    with contextlib.redirect_stdout(io.StringIO()):  # it prints a line per job
        started = [jobs.new(tiny, i) for i in range(n)]
        for job in started:
            job.join()


async def ours_sync(n: int, table: bool = False) -> Callable[[], None] | None:
    tasks = Tasks(as_group=True)
    for i in range(n):
        tasks.add_task(tiny, i)
    close = attach_table(tasks) if table else None
    await tasks()
    return close


Contender = Callable[[], Awaitable[Any]]


def _group(kind: str, n: int) -> Tasks:
    tasks = Tasks(as_group=True)
    for i in range(n):
        if kind == "async":
            tasks.add_task(noop)
        else:
            tasks.add_task(tiny, i)
    return tasks


async def _measure(
    contenders: dict[str, Contender], rounds: int, upstream: Callable[[], float] | None
) -> Samples:
    samples = Samples()
    names = list(contenders) + (["upstream 0.2"] if upstream else [])
    for round_no in range(rounds + 1):  # round 0 warms up (threads, caches) and is dropped
        for name in rotate(names, round_no):
            if name == "upstream 0.2":
                assert upstream is not None
                seconds = upstream()
            else:
                seconds = await atimed(contenders[name])
            if round_no:
                samples.add(name, seconds)
    return samples


def _rows(
    samples: Samples,
    n: int,
    kind: str,
    baseline: str,
    target: float,
    others: list[str],
    creation: float | None = None,
) -> list[Row]:
    rows = []
    ours = f"backgrounder {kind} group"
    rows.append(
        Row(
            SECTION,
            f"{ours} ({n:,} tasks) vs {baseline}",
            samples.ratio(ours, baseline),
            target=f"<= {target:g}x",
            ok=samples.ratio(ours, baseline) <= target,
            note=f"{samples.per_task_us(ours, n):.1f} us/task vs "
            f"{samples.per_task_us(baseline, n):.1f}",
        )
    )
    table = f"{ours} + table"
    if table in samples.times:
        ratio = samples.ratio(table, f"{ours} (table phase)")
        rows.append(
            Row(
                SECTION,
                f"{kind} group with status table vs without",
                ratio,
                target="<= 1.3x",
                ok=ratio <= 1.3,
                note=f"{samples.per_task_us(table, n):.1f} us/task; building the table's "
                f"widgets, a constant per table, takes {(creation or 0) * 1e3:.0f} ms of it",
            )
        )
    else:
        rows.append(
            Row(
                SECTION,
                f"{kind} group with status table vs without",
                None,
                target="<= 1.3x",
                note="widget table not available",
            )
        )
    for other in others:
        if other not in samples.times:
            rows.append(Row(SECTION, f"{other} vs {baseline} ({kind})", None, note="not measured"))
            continue
        rows.append(
            Row(
                SECTION,
                f"{other} vs {baseline} ({kind})",
                samples.ratio(other, baseline),
                note=f"{samples.per_task_us(other, n):.1f} us/task",
            )
        )
    return rows


async def _run_async(cfg: Config, upstream: Upstream | None) -> Samples:
    n = cfg.async_tasks
    contenders: dict[str, Contender] = {
        "asyncio.gather": lambda: gather(n),
        "anyio task group": lambda: anyio_group(n),
        "backgrounder async group": lambda: ours_async(n),
    }
    up = (lambda: upstream.run("async", n)) if upstream else None
    return await _measure(contenders, cfg.rounds, up)


async def _run_sync(cfg: Config, upstream: Upstream | None) -> Samples:
    n = cfg.sync_tasks
    contenders: dict[str, Contender] = {
        "ThreadPoolExecutor(40).map": lambda: pool_map(n),
        "loop.run_in_executor": lambda: run_in_executor(n),
        "anyio.to_thread.run_sync": lambda: to_thread(n),
        "IPython BackgroundJobManager": lambda: background_jobs(n),
        "backgrounder sync group": lambda: ours_sync(n),
    }
    up = (lambda: upstream.run("sync", n)) if upstream else None
    return await _measure(contenders, cfg.rounds, up)


async def _run_tables(cfg: Config, kind: str, into: Samples) -> float | None:
    """Ours with and without a table, into ``into``; returns the table's creation time.

    Run after every other contender: a closed table still keeps its group and widgets
    alive (about 12,000 objects for 10,000 tasks), and the larger heap makes the cyclic GC
    slow down whatever runs next.
    """
    if not table_available():
        return None
    ours = ours_async if kind == "async" else ours_sync
    n = cfg.async_tasks if kind == "async" else cfg.sync_tasks
    name = f"backgrounder {kind} group"
    pair = await _measure(
        {f"{name} (table phase)": lambda: ours(n), f"{name} + table": lambda: ours(n, True)},
        cfg.rounds,
        None,
    )
    into.times[f"{name} + table"] = pair.times[f"{name} + table"]
    into.times[f"{name} (table phase)"] = pair.times[f"{name} (table phase)"]
    return creation_seconds(_group(kind, n))


async def _run_all(cfg: Config, upstream: Upstream | None) -> list[Row]:
    progress(f"overhead: {cfg.async_tasks:,} async no-op tasks, {cfg.rounds} rounds")
    async_samples = await _run_async(cfg, upstream)
    progress(f"overhead: {cfg.sync_tasks:,} tiny sync functions, {cfg.rounds} rounds")
    sync_samples = await _run_sync(cfg, upstream)
    progress("overhead: groups with and without a status table")
    async_creation = await _run_tables(cfg, "async", async_samples)
    sync_creation = await _run_tables(cfg, "sync", sync_samples)
    rows = _rows(
        async_samples,
        cfg.async_tasks,
        "async",
        "asyncio.gather",
        3.0,
        ["anyio task group", "upstream 0.2"],
        async_creation,
    )
    others = [
        "loop.run_in_executor",
        "anyio.to_thread.run_sync",
        "IPython BackgroundJobManager",
        "upstream 0.2",
    ]
    rows += _rows(
        sync_samples,
        cfg.sync_tasks,
        "sync",
        "ThreadPoolExecutor(40).map",
        2.0,
        others,
        sync_creation,
    )
    return rows


def run(cfg: Config) -> list[Row]:
    upstream = Upstream.start(cfg.smoke)
    try:
        rows = asyncio.run(_run_all(cfg, upstream))
    finally:
        if upstream is not None:
            upstream.close()
    return rows
