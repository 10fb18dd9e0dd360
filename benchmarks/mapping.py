"""Mapping over a long generator: ``Tasks.map(f, inputs, limit=8)`` against the same tasks
made up front (``Tasks([Task(f, i) for i in ...], limit=8)``).

A map reads an input only when a slot frees: it starts at once whatever the number of
inputs, and keeps per input only the finished task and its result. Memory is measured under
tracemalloc in a run of its own; time without it.
"""

from __future__ import annotations

import gc
import time
import tracemalloc
from collections.abc import Iterator

from _common import Config, Row, progress

from backgrounder import Task, Tasks

SECTION = "Mapping over many inputs"
LIMIT = 8


async def noop(i: int) -> int:
    return i


def inputs(n: int) -> Iterator[int]:
    yield from range(n)


def build(how: str, n: int) -> Tasks:
    if how == "map":
        return Tasks.map(noop, inputs(n), limit=LIMIT)
    return Tasks([Task(noop, i) for i in inputs(n)], as_group=True, limit=LIMIT)


async def timed(how: str, n: int) -> tuple[float, float]:
    """(seconds until the group is ready to run, seconds for the whole run)."""
    gc.collect()
    start = time.perf_counter()
    tasks = build(how, n)
    ready = time.perf_counter() - start
    await tasks()
    return ready, time.perf_counter() - start


async def memory(how: str, n: int) -> tuple[float, float]:
    """(peak bytes per input while running, bytes per input kept after the run)."""
    gc.collect()
    tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        tasks = build(how, n)
        await tasks()
        gc.collect()
        kept, peak = tracemalloc.get_traced_memory()
        del tasks
    finally:
        tracemalloc.stop()
    return (peak - base) / n, (kept - base) / n


async def _measure(cfg: Config) -> list[Row]:
    n = cfg.scaling_sizes[-1]
    rows = []
    contenders = (("map", "Tasks.map over a generator"), ("upfront", "the same made up front"))
    for how, label in contenders:
        ready, total = await timed(how, n)
        peak, kept = await memory(how, n)
        rows.append(
            Row(
                SECTION,
                f"{label}, {n:,} inputs, limit={LIMIT}: time to start",
                ready * 1e3,
                unit="ms",
                note=f"{total / n * 1e6:.1f} us/input in all",
            )
        )
        rows.append(
            Row(
                SECTION,
                f"{label}, {n:,} inputs, limit={LIMIT}: memory per input",
                kept,
                unit="B",
                target="<= 2048 B",
                ok=kept <= 2048,
                note=f"kept after the run (the finished tasks and their results); "
                f"peak {peak:.0f} B/input while running",
            )
        )
    return rows


def run(cfg: Config) -> list[Row]:
    import asyncio

    progress("mapping")
    return asyncio.run(_measure(cfg))
