"""Functions the terminal sessions run as tasks (importable: typing a def in a terminal
prompt fights its auto-indentation)."""

from __future__ import annotations

import asyncio
import sys
import threading
import time

import backgrounder

go = threading.Event()


def chatty(n: int, every: float = 0.1) -> int:
    """Print ``n`` lines, ``every`` seconds apart."""
    for i in range(n):
        print(f"chatty {i}")
        time.sleep(every)
    return n


async def nap(seconds: float) -> float:
    # straight to the terminal (past any router): the test sees the tasks have begun
    sys.__stderr__.write("[nap begins]\n")
    sys.__stderr__.flush()
    await asyncio.sleep(seconds)
    return seconds


def sleepers(n: int = 4, seconds: float = 10) -> backgrounder.Tasks:
    """``n`` async tasks sleeping ``seconds``, as one group: ``await g()``."""
    return backgrounder.Tasks([backgrounder.Task(nap, seconds) for _ in range(n)], as_group=True)


def bar(n: int = 50, every: float = 0.02) -> int:
    """A tqdm loop, as people write them."""
    from tqdm.auto import tqdm

    for _ in tqdm(range(n), desc="bar"):
        time.sleep(every)
    return n


def boom() -> None:
    raise ValueError("boom")


def rich_bar(n: int = 20) -> int:
    """tqdm's Rich front-end: a Rich live display."""
    from tqdm.rich import tqdm

    for _ in tqdm(range(n), desc="rich bar"):
        pass
    return n
