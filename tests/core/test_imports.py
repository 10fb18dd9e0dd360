"""Importing the package is cheap and has no side effects; the public names are what the
namespace holds, and they call the package their home."""

from __future__ import annotations

import subprocess
import sys
import types

import backgrounder

# Public subpackages and modules: reached as ``backgrounder.executors`` etc., never listed in
# ``__all__`` (importing one makes it an attribute of the package).
PUBLIC_MODULES = {"concurrency", "decorator", "executors", "notebook", "tasks"}


def test_every_public_name_of_the_namespace_is_exported() -> None:
    """Built from the namespace (as httpx's test is): a leaked helper fails it."""
    public = {
        name
        for name, value in vars(backgrounder).items()
        if not name.startswith("_")
        and not (isinstance(value, types.ModuleType) and name in PUBLIC_MODULES)
    }
    assert public == set(backgrounder.__all__) - {"__version__"}


def test_public_names_report_the_package_as_their_module() -> None:
    for name in backgrounder.__all__:
        member = getattr(backgrounder, name)
        if isinstance(member, (type, types.FunctionType)):
            assert member.__module__ == "backgrounder", name
    shown = repr(backgrounder.TaskCancelled("x"))
    assert shown == "TaskCancelled('x')"
    assert backgrounder.TaskCancelled.__module__ + ".TaskCancelled" == "backgrounder.TaskCancelled"


def test_a_task_cancelled_traceback_names_the_public_path() -> None:
    code = "import backgrounder; raise backgrounder.TaskCancelled('stopped')"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.stderr.strip().splitlines()[-1] == "backgrounder.TaskCancelled: stopped"


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
