"""Importing the package is cheap and has no side effects; the public names are fixed."""

from __future__ import annotations

import subprocess
import sys

import backgrounder

PUBLIC = {
    "EventKind",
    "Handle",
    "Task",
    "TaskCancelled",
    "TaskEvent",
    "TaskState",
    "Tasks",
    "__version__",
    "background",
    "cancelled",
    "capture_output",
    "current_task",
    "load_ipython_extension",
    "progress",
    "release_output",
    "running_handles",
    "shutdown",
    "subscribe",
    "unload_ipython_extension",
}


def test_public_all() -> None:
    assert set(backgrounder.__all__) == PUBLIC
    for name in backgrounder.__all__:
        assert hasattr(backgrounder, name), name


def test_import_has_no_side_effects() -> None:
    code = """
import asyncio, sys, threading, io
before_threads = threading.active_count()
stdout, run = sys.stdout, asyncio.run
import backgrounder, backgrounder.concurrency
heavy = {"IPython", "ipywidgets", "ipykernel", "nest_asyncio", "nest_asyncio2", "distributed"}
print(sorted(heavy & set(sys.modules)))
print(threading.active_count() == before_threads, sys.stdout is stdout, asyncio.run is run)
"""
    done = subprocess.run(
        [sys.executable, "-W", "error", "-c", code], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split("\n")[:2] == ["[]", "True True True"]
