"""Shared pieces of the benchmarks: interleaved rounds, medians, and the result rows.

Absolute times on a shared 2-core machine are noise; ratios measured side by side are not.
So every contender runs once per round, in a rotating order, and a figure is the median
over rounds (after a discarded warm-up round) of the per-round ratio to its baseline.
"""

from __future__ import annotations

import gc
import statistics
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Config:
    """Sizes and round counts; ``smoke`` shrinks everything so it runs in seconds."""

    smoke: bool = False
    rounds: int = 7
    async_tasks: int = 10_000
    sync_tasks: int = 2_000
    scaling_sizes: tuple[int, ...] = (1_000, 10_000, 100_000)
    kernel_tasks: int = 10_000
    kernel_background: int = 1_000
    dask_tasks: int = 300

    @classmethod
    def make(cls, smoke: bool) -> Config:
        if not smoke:
            return cls()
        return cls(
            smoke=True,
            rounds=2,
            async_tasks=200,
            sync_tasks=100,
            scaling_sizes=(100, 300, 1_000),
            kernel_tasks=200,
            kernel_background=50,
            dask_tasks=20,
        )


@dataclass
class Row:
    """One line of the results table."""

    section: str
    figure: str
    value: float | None
    unit: str = "x"
    target: str = ""
    ok: bool | None = None  # None: informative, no target
    note: str = ""

    def shown_value(self) -> str:
        if self.value is None:
            return "n/a"
        if self.unit == "x":
            return f"{self.value:.2f}x"
        if abs(self.value) >= 100:
            return f"{self.value:,.0f} {self.unit}"
        return f"{self.value:.3g} {self.unit}"

    def verdict(self) -> str:
        if self.ok is None:
            return "info" if self.value is not None else "skipped"
        return "pass" if self.ok else "FAIL"


@dataclass
class Samples:
    """Seconds per round for each contender, kept in round order so ratios can be paired."""

    times: dict[str, list[float]] = field(default_factory=dict)

    def add(self, name: str, seconds: float) -> None:
        self.times.setdefault(name, []).append(seconds)

    def median(self, name: str) -> float:
        return statistics.median(self.times[name])

    def ratio(self, name: str, baseline: str) -> float:
        """Median of the per-round ratios: both ran in the same round, under the same load."""
        pairs = zip(self.times[name], self.times[baseline], strict=True)
        return statistics.median(a / b for a, b in pairs)

    def per_task_us(self, name: str, n: int) -> float:
        return self.median(name) / n * 1e6


def timed(func: Callable[[], Any]) -> float:
    """Seconds one call takes, with a fresh collection before so rounds start even."""
    gc.collect()
    start = time.perf_counter()
    func()
    return time.perf_counter() - start


async def atimed(func: Callable[[], Awaitable[Any]]) -> float:
    """Like ``timed``; if ``func`` returns a callable, that clean-up runs after the clock."""
    gc.collect()
    start = time.perf_counter()
    cleanup = await func()
    seconds = time.perf_counter() - start
    if callable(cleanup):
        cleanup()
    return seconds


def rotate(items: list[Any], round_no: int) -> list[Any]:
    """The contenders in a different order each round, so none always runs first."""
    k = round_no % len(items)
    return items[k:] + items[:k]


def progress(message: str) -> None:
    print(f"[bench] {message}", flush=True)
