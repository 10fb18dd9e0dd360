"""Functions the executor tests send to worker processes (importable there: no pytest)."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path


def spin(n: int) -> int:
    """CPU-bound work that holds the GIL: about 1 s for n=15_000_000 on this machine."""
    total = 0
    for i in range(n):
        total += i * i
    return total


def double(x: int) -> int:
    return 2 * x


def chatty(x: int) -> int:
    print(f"working on {x}")
    print(f"warning about {x}", file=sys.stderr)
    return x + 1


def boom(x: int) -> int:
    print(f"about to fail on {x}")
    raise ValueError(f"bad input {x}")


def pid(_: object = None) -> int:
    return os.getpid()


def nap(seconds: float, marker: str | None = None) -> float:
    """Sleep; first touch ``marker`` (a file) so a test can see the call has started."""
    if marker is not None:
        Path(marker).touch()
    time.sleep(seconds)
    return seconds


def span(seconds: float) -> tuple[int, float, float]:
    """Busy for ``seconds`` of CPU; returns (pid, start, end) in wall-clock time."""
    start = time.time()
    deadline = time.process_time() + seconds
    while time.process_time() < deadline:
        pass
    return os.getpid(), start, time.time()
