"""A core-only install: the wheel with no extras brings anyio and nothing of Jupyter, and the
core tests (Starlette's included) pass in it, with IPython not even installed.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from wheelhouse import ROOT, Dists, dependency_group, make_venv, run

pytestmark = pytest.mark.packaging

# anyio and what anyio needs on the supported Pythons
CORE = {"backgrounder", "anyio", "idna", "sniffio", "typing-extensions", "exceptiongroup"}
NOTEBOOK_STACK = {"ipython", "ipykernel", "ipywidgets", "nest-asyncio2", "nest-asyncio"}


def installed(venv: Path) -> set[str]:
    listing = run(venv / "bin" / "python", "-m", "pip", "list", "--format=json")
    names = {item["name"].lower().replace("_", "-") for item in json.loads(listing)}
    return names - {"pip", "setuptools"}


@pytest.fixture(scope="module")
def core_venv(dists: Dists, tmp_path_factory: pytest.TempPathFactory) -> Path:
    venv = make_venv(tmp_path_factory.mktemp("core") / "venv")
    run(venv / "bin" / "python", "-m", "pip", "install", "-q", dists.wheel)
    return venv


def test_the_wheel_alone_brings_only_anyio(core_venv: Path) -> None:
    assert installed(core_venv) <= CORE, installed(core_venv) - CORE


def test_core_tests_pass_without_ipython(core_venv: Path, tmp_path: Path) -> None:
    python = core_venv / "bin" / "python"
    run(python, "-m", "pip", "install", "-q", *dependency_group("test-core"))
    assert not installed(core_venv) & NOTEBOOK_STACK, "the test tools brought in Jupyter"
    # the tests are copied out, so that nothing can import the checkout's package
    shutil.copytree(ROOT / "tests" / "core", tmp_path / "tests" / "core")
    shutil.copy(ROOT / "tests" / "conftest.py", tmp_path / "tests")
    shutil.copy(ROOT / "tests" / "capturing.py", tmp_path / "tests")  # a shared helper
    shutil.copy(ROOT / "pyproject.toml", tmp_path)  # pytest's settings: warnings are errors
    where = run(python, "-c", "import backgrounder; print(backgrounder.__file__)", cwd=tmp_path)
    assert Path(where.strip()).is_relative_to(core_venv), where
    out = run(
        python,
        *("-m", "pytest", "-q", "-rA", "-p", "no:cacheprovider", "tests/core"),
        # re-entering a running loop from sync code needs nest-asyncio2, which comes with the
        # notebook extra; without it the call says to `await` instead (next test)
        *("--deselect", "tests/core/test_handle.py::test_result_reenters_the_running_loop"),
        cwd=tmp_path,
    )
    summary = out.strip().splitlines()[-1]
    assert " passed" in summary and "failed" not in summary and "error" not in summary, out
    assert "PASSED tests/core/test_asgi.py::" in out, "the Starlette test did not run"
    assert "PASSED tests/core/test_upstream_paths.py::test_starlette" in out


def test_waiting_on_the_running_loop_without_the_extra_says_await(core_venv: Path) -> None:
    code = (
        "import asyncio\n"
        "from backgrounder import Task\n"
        "async def work():\n"
        "    return 42\n"
        "async def main():\n"
        "    handle = Task(work).start()\n"
        "    try:\n"
        "        handle.result(timeout=5)\n"
        "    except RuntimeError as exc:\n"
        "        print(exc)\n"
        "    return await handle\n"
        "print(asyncio.run(main()))\n"
    )
    out = run(core_venv / "bin" / "python", "-W", "error", "-c", code).splitlines()
    assert "use `await handle` instead" in out[0] and out[1] == "42", out


def test_core_imports_leave_ipython_out(core_venv: Path) -> None:
    code = (
        "import importlib.util, sys\n"
        "import backgrounder, backgrounder.tasks, backgrounder.decorator\n"
        "import backgrounder.concurrency, backgrounder.executors\n"
        "assert importlib.util.find_spec('IPython') is None, 'IPython is installed'\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in"
        " {'IPython', 'ipywidgets', 'nest_asyncio2', 'loky', 'cloudpickle'}))\n"
    )
    assert run(core_venv / "bin" / "python", "-W", "error", "-c", code).strip() == "[]"
