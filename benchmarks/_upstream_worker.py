"""Measured in the upstream venv: the same workloads on backgrounder 0.2 (same import name).

Protocol: one command per line on stdin (``async N``, ``sync N``, ``quit``), one line back:
the seconds the run took, or ``error <message>``. A persistent process lets the parent
interleave these runs with its own contenders round by round.
"""

import asyncio
import gc
import sys
import time

import backgrounder  # upstream 0.2: applies nest_asyncio at import
from backgrounder import Tasks


async def noop():
    pass


def tiny(i):
    return i + 1


async def group(kind, n):
    tasks = Tasks(as_group=True)
    if kind == "async":
        for _ in range(n):
            tasks.add_task(noop)
    else:
        for i in range(n):
            tasks.add_task(tiny, i)
    await tasks()


def main():
    loop = asyncio.new_event_loop()
    print("ready", getattr(backgrounder, "__version__", "0.2"), flush=True)
    for line in sys.stdin:
        parts = line.split()
        if not parts or parts[0] == "quit":
            break
        kind, n = parts[0], int(parts[1])
        try:
            gc.collect()
            start = time.perf_counter()
            loop.run_until_complete(group(kind, n))
            print(time.perf_counter() - start, flush=True)
        except Exception as exc:  # report, keep serving
            print("error", type(exc).__name__, str(exc).replace("\n", " "), flush=True)


if __name__ == "__main__":
    main()
