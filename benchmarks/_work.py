"""Workloads sent to other processes: importable by name there (sys.path is inherited)."""

from __future__ import annotations


def tiny(i: int) -> int:
    return i + 1


def cpu_bound(n: int) -> int:
    """Pure-Python arithmetic that holds the GIL the whole time."""
    total = 0
    for i in range(n):
        total += i * i % 7
    return total
