"""The notebooks run in an environment built from binder/ the way repo2docker builds it.

A fresh venv (no system site-packages) of the Python that ``binder/runtime.txt`` pins,
``pip install -r binder/requirements.txt`` from the repository root, ``binder/postBuild``
with the venv first on PATH, then every notebook in a kernel from that venv's own kernel
spec. About a minute: the install is most of it. Where the machine has no interpreter of the
pinned version, the tests skip and say so (under CI they fail instead).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from nbrun import NOTEBOOKS, ROOT, problems, run_notebook

pytestmark = pytest.mark.kernel
INSTALL_TIMEOUT = 600


def runtime_version() -> str:
    """The Python version Binder builds with, from binder/runtime.txt (``python-3.X``)."""
    text = (ROOT / "binder" / "runtime.txt").read_text(encoding="utf-8").strip()
    match = re.fullmatch(r"python-(3\.\d+)", text)
    assert match, f"binder/runtime.txt should read python-3.X, not {text!r}"
    return match[1]


def runtime_python() -> str | None:
    """An interpreter of the pinned version on this machine, or None."""
    version = runtime_version()
    if f"{sys.version_info.major}.{sys.version_info.minor}" == version:
        return sys.executable
    return shutil.which(f"python{version}")


@pytest.fixture(scope="module")
def binder_env(tmp_path_factory: pytest.TempPathFactory) -> Path:
    python = runtime_python()
    if python is None:
        gap = f"no python{runtime_version()} on this machine: Binder's Python is not tested here"
        if os.environ.get("CI"):
            pytest.fail(gap)
        pytest.skip(gap)
    venv = tmp_path_factory.mktemp("binder") / "venv"
    subprocess.run([python, "-m", "venv", str(venv)], check=True)
    bin_dir = venv / "bin"
    env = {
        **os.environ,
        "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}",
        "VIRTUAL_ENV": str(venv),
    }
    env.pop("PYTHONPATH", None)
    env.pop("PYTHONHOME", None)
    for command in (
        [str(bin_dir / "python"), "-m", "pip", "install", "-q", "-r", "binder/requirements.txt"],
        ["bash", "binder/postBuild"],
    ):
        done = subprocess.run(
            command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=INSTALL_TIMEOUT
        )
        assert done.returncode == 0, f"{' '.join(command)} failed:\n{done.stdout}\n{done.stderr}"
    return venv


def test_binder_files_are_what_repo2docker_reads() -> None:
    assert (ROOT / "binder" / "requirements.txt").is_file()
    assert os.access(ROOT / "binder" / "postBuild", os.X_OK)
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "urlpath=lab/tree/notebooks/quickstart.ipynb" in readme


def test_binder_python_is_pinned_and_supported() -> None:
    """repo2docker ignores requires-python and takes its own default unless runtime.txt says."""
    version = tuple(int(part) for part in runtime_version().split("."))
    assert version >= (3, 11), "ipykernel 7.4, which the notebooks are tested with, needs 3.11"


def test_binder_venv_runs_the_pinned_python(binder_env: Path) -> None:
    done = subprocess.run(
        [str(binder_env / "bin" / "python"), "-c", "import sys; print(*sys.version_info[:2])"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert done.stdout.split() == runtime_version().split(".")


def test_kernel_and_package_come_from_the_binder_venv(binder_env: Path) -> None:
    spec = json.loads((binder_env / "share/jupyter/kernels/python3/kernel.json").read_text())
    assert Path(spec["argv"][0]).parent == binder_env / "bin"
    where = subprocess.run(
        [spec["argv"][0], "-c", "import backgrounder; print(backgrounder.__file__)"],
        cwd=ROOT / "notebooks",
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    # installed into the venv, not picked up from the checkout
    assert Path(where).is_relative_to(binder_env), where


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda path: path.name)
def test_notebook_runs_in_binder_env(binder_env: Path, path: Path) -> None:
    run = run_notebook(path, binder_env / "share" / "jupyter" / "kernels")
    found = problems(run)
    assert not found, f"{path.relative_to(ROOT)}:\n" + "\n".join(found)
