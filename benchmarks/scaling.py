"""Scaling: time and memory per task for groups of 1k, 10k and 100k tasks.

Time is measured without tracemalloc (it slows allocation-heavy code two- to threefold);
memory in a separate run under tracemalloc: the peak while the group runs, and what is
still allocated once it has finished, with the ``Tasks`` object (the record users keep,
holding every finished task) still referenced.
"""

from __future__ import annotations

import asyncio
import gc
import itertools
import tracemalloc
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from _common import Config, Row, Samples, atimed, progress, rotate

from backgrounder import Tasks

SECTION = "Scaling"
LINEAR = 1.5  # per-task cost may grow at most this much from one size to the next (x10)


async def noop() -> None:
    pass


def tiny(i: int) -> int:
    return i + 1


def build(kind: str, n: int) -> Tasks:
    tasks = Tasks(as_group=True)
    if kind == "async":
        for _ in range(n):
            tasks.add_task(noop)
    else:
        for i in range(n):
            tasks.add_task(tiny, i)
    return tasks


async def run_group(kind: str, n: int) -> None:
    await build(kind, n)()


async def memory(kind: str, n: int) -> tuple[float, float]:
    """(peak bytes per task while running, bytes per task kept after the run)."""
    gc.collect()
    tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        tasks = build(kind, n)
        await tasks()
        gc.collect()
        kept, peak = tracemalloc.get_traced_memory()
        kept_per_task = (kept - base) / n
        del tasks
    finally:
        tracemalloc.stop()
    return (peak - base) / n, kept_per_task


async def gather(n: int) -> None:
    await asyncio.gather(*[noop() for _ in range(n)])


async def pool_map(n: int) -> None:
    list(_pool.map(tiny, range(n)))


_pool = ThreadPoolExecutor(40)
BASELINES = {"async": ("asyncio.gather", gather), "sync": ("ThreadPoolExecutor(40).map", pool_map)}


async def history_memory(kind: str, n: int) -> float | None:
    """Bytes per task the ``%tasks`` history keeps once the group itself is dropped (with a
    bound that keeps them all: by default it remembers the last 1,000 finished tasks)."""
    try:
        from backgrounder.notebook.history import History
    except ImportError:
        return None
    history = History(keep_finished=n, keep_failed=n)
    gc.collect()
    tracemalloc.start()
    try:
        history.start()
        base = tracemalloc.get_traced_memory()[0]
        tasks = build(kind, n)
        await tasks()
        del tasks
        gc.collect()
        kept = tracemalloc.get_traced_memory()[0]
    finally:
        history.stop()
        tracemalloc.stop()
    assert len(history.tasks()) == n
    return (kept - base) / n


async def _interleave(
    kind: str, base: Any, sizes: tuple[int, ...], rounds: int, gc_off: bool = False
) -> Samples:
    """Size by size, ours and the baseline alternating; the first round of each size is
    dropped: right after a 100k run the allocator makes the next run erratic."""
    samples = Samples()
    if gc_off:
        gc.disable()
    try:
        for n in sizes:
            # Small groups take milliseconds: more rounds for them cost little and steady
            # the thread-scheduling noise of the sync ones.
            for round_no in range((rounds * 3 if n <= 10_000 else rounds) + 1):
                for who in rotate(["ours", "base"], round_no):
                    if who == "ours":
                        seconds = await atimed(lambda n=n: run_group(kind, n))  # type: ignore[misc]
                    else:
                        seconds = await atimed(lambda n=n: base(n))  # type: ignore[misc]
                    if round_no:
                        samples.add(f"{who} {n}", seconds)
    finally:
        gc.enable()
    return samples


async def _measure(cfg: Config) -> list[Row]:
    rows: list[Row] = []
    rounds = max(2, cfg.rounds - 2)
    for kind in ("async", "sync"):
        base_name, base = BASELINES[kind]
        samples = await _interleave(kind, base, cfg.scaling_sizes, rounds)
        # The same without the cyclic GC: what our own code costs, apart from the GC passes
        # that the objects a group keeps alive (tasks, their coroutines) set off.
        no_gc = await _interleave(kind, base, cfg.scaling_sizes, rounds, gc_off=True)
        per_task = {n: samples.per_task_us(f"ours {n}", n) for n in cfg.scaling_sizes}
        relative = {n: samples.ratio(f"ours {n}", f"base {n}") for n in cfg.scaling_sizes}
        mem = {n: await memory(kind, n) for n in cfg.scaling_sizes}
        for n in cfg.scaling_sizes:
            rows.append(
                Row(
                    SECTION,
                    f"{kind} group of {n:,}: time per task",
                    per_task[n],
                    unit="us",
                    note=f"{relative[n]:.2f}x {base_name}; "
                    f"peak {mem[n][0] / 1024:.2f} KiB/task while running",
                )
            )
        sizes = list(cfg.scaling_sizes)
        raw = max(per_task[b] / per_task[a] for a, b in itertools.pairwise(sizes))
        growth = max(relative[b] / relative[a] for a, b in itertools.pairwise(sizes))
        quiet = {n: no_gc.ratio(f"ours {n}", f"base {n}") for n in sizes}
        quiet_growth = max(quiet[b] / quiet[a] for a, b in itertools.pairwise(sizes))
        shown = ", ".join(f"{quiet[n]:.2f}x" for n in sizes)
        rows.append(
            Row(
                SECTION,
                f"{kind}: worst growth of time per task, x10 tasks, relative to {base_name}",
                growth,
                target=f"<= {LINEAR:g}x (linear)",
                ok=growth <= LINEAR,
                note=f"raw growth {raw:.2f}x ({base_name} itself slows with size); with the "
                f"cyclic GC off: {quiet_growth:.2f}x (ratios {shown})",
            )
        )
        mem_growth = max(mem[b][0] / mem[a][0] for a, b in itertools.pairwise(sizes))
        rows.append(
            Row(
                SECTION,
                f"{kind}: worst growth of peak memory per task, x10 tasks",
                mem_growth,
                target=f"<= {LINEAR:g}x (linear)",
                ok=mem_growth <= LINEAR,
            )
        )
        largest = sizes[-1]
        kept = mem[largest][1]
        rows.append(
            Row(
                SECTION,
                f"{kind}: memory kept per finished task ({largest:,} in the group)",
                kept,
                unit="B",
                target="<= 2048 B",
                ok=kept <= 2048,
                note="the Task record held by its Tasks, result and timing included",
            )
        )
        in_history = await history_memory(kind, largest)
        rows.append(
            Row(
                SECTION,
                f"{kind}: memory kept per finished task in the %tasks history",
                in_history,
                unit="B",
                target="<= 2048 B",
                ok=None if in_history is None else in_history <= 2048,
                note="the group dropped; per remembered Task (it keeps the last 1,000 finished)",
            )
        )
    return rows


def run(cfg: Config) -> list[Row]:
    progress(f"scaling: groups of {', '.join(f'{n:,}' for n in cfg.scaling_sizes)} tasks")
    result: Any = asyncio.run(_measure(cfg))
    return list(result)
