"""What a tqdm bar inside a task writes into the task's output, before and after the router
recognised tqdm bars (issue 14): characters, ``\\r`` frames, and the task's progress.

"Before" is the same run with the recognition switched off (``_tqdm.claim`` answering None),
which is exactly the router as it was. Each case runs 300 iterations; ``paced`` sleeps
10 ms per step (tqdm's default 0.1 s redraw interval applies), ``every step`` draws each
step (``mininterval=0``), the worst case. Also: the router's cost per ``print`` with tqdm
imported, inside and outside a task.

    python benchmarks/tqdm_output.py
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import Any
from unittest import mock

import anyio
from tqdm import tqdm, trange
from tqdm.auto import tqdm as tqdm_auto

import backgrounder
from backgrounder import Task, _tqdm

STEPS = 300


def paced(make: Callable[..., Any]) -> Callable[[], None]:
    def work() -> None:
        for _ in make(range(STEPS), desc="load"):
            time.sleep(0.01)

    return work


def every_step(make: Callable[..., Any]) -> Callable[[], None]:
    def work() -> None:
        for _ in make(range(STEPS), desc="load", mininterval=0):
            pass

    return work


def nested() -> None:
    for _ in trange(3, desc="epochs", mininterval=0):
        for _ in trange(STEPS // 3, desc="batches", mininterval=0):
            pass


CASES: list[tuple[str, Callable[[], None]]] = [
    ("tqdm, paced (10 ms/step)", paced(tqdm)),
    ("tqdm.auto, paced (10 ms/step)", paced(tqdm_auto)),
    ("tqdm, every step drawn", every_step(tqdm)),
    ("trange, every step drawn", every_step(lambda it, **kw: trange(len(it), **kw))),
    ("nested 3 x 100, every step drawn", nested),
]


async def measure(work: Callable[[], None], recognise: bool) -> Task:
    task = Task(work)
    backgrounder.capture_output()
    try:
        if recognise:
            await task()
        else:
            with mock.patch.object(_tqdm, "claim", lambda text, task, depth: None):
                await task()
    finally:
        backgrounder.release_output()
    return task


def print_cost(inside: bool, n: int = 20_000) -> float:
    """Microseconds per ``print`` through the router (to /dev/null)."""

    def printing() -> float:
        start = time.perf_counter()
        for i in range(n):
            print(i)
        return time.perf_counter() - start

    with open("/dev/null", "w") as null:
        real = sys.stdout
        sys.stdout = null
        backgrounder.capture_output()
        try:
            if inside:
                task = Task(printing)
                anyio.run(task.__call__)
                seconds = task.result
            else:
                seconds = printing()
        finally:
            backgrounder.release_output()
            sys.stdout = real
    return float(seconds) / n * 1e6


def main() -> None:
    print(f"{'case':36} {'before':>16} {'after':>16}  progress after")
    for name, work in CASES:
        before = anyio.run(measure, work, False)
        after = anyio.run(measure, work, True)
        frames_before = before.output.count("\r")
        print(
            f"{name:36} {len(before.output):7,d} ch {frames_before:3d} \\r"
            f" {len(after.output):7,d} ch {after.output.count(chr(13)):3d} \\r"
            f"  {after.progress} (before: {before.progress})"
        )
    print()
    for inside in (False, True):
        where = "inside a task " if inside else "outside a task"
        with mock.patch.object(_tqdm, "claim", lambda text, task, depth: None):
            plain = min(print_cost(inside) for _ in range(3))
        now = min(print_cost(inside) for _ in range(3))
        print(f"print() through the router, {where}: {plain:.2f} us -> {now:.2f} us")


if __name__ == "__main__":
    main()
