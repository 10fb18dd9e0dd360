"""The package as an index would serve it: an sdist built from this checkout, and the wheel
built from that sdist (as a packager builds it), in a temporary folder, once per session.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tarfile
from dataclasses import dataclass
from pathlib import Path

import pytest

if sys.version_info >= (3, 11):
    import tomllib
else:
    import tomli as tomllib

ROOT = Path(__file__).resolve().parents[2]
INSTALL_TIMEOUT = 600


def clean_env(venv: Path | None = None) -> dict[str, str]:
    """The environment of a process that must not see this checkout or the dev venv."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}
    env.pop("VIRTUAL_ENV", None)
    if venv is not None:
        env["VIRTUAL_ENV"] = str(venv)
        env["PATH"] = f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    return env


def run(*command: str | Path, cwd: Path | None = None, venv: Path | None = None) -> str:
    done = subprocess.run(
        [str(part) for part in command],
        cwd=cwd,
        env=clean_env(venv),
        capture_output=True,
        text=True,
        timeout=INSTALL_TIMEOUT,
    )
    assert done.returncode == 0, f"{command} failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    return done.stdout


def make_venv(path: Path) -> Path:
    run(sys.executable, "-m", "venv", path)
    return path


def dependency_group(name: str) -> list[str]:
    """The requirements of a PEP 735 group of pyproject.toml, included groups expanded."""
    groups = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))[
        "dependency-groups"
    ]
    out: list[str] = []
    for item in groups[name]:
        out += dependency_group(item["include-group"]) if isinstance(item, dict) else [item]
    return out


@dataclass
class Dists:
    sdist: Path
    wheel: Path
    sdist_members: list[str]  # paths inside the sdist, without its top folder


@pytest.fixture(scope="session")
def dists(tmp_path_factory: pytest.TempPathFactory) -> Dists:
    where = tmp_path_factory.mktemp("dists")
    venv = make_venv(where / "build-venv")
    python = venv / "bin" / "python"
    run(python, "-m", "pip", "install", "-q", "hatchling>=1.27")
    run(python, "-m", "hatchling", "build", "-t", "sdist", "-d", where, cwd=ROOT, venv=venv)
    (sdist,) = where.glob("backgrounder-*.tar.gz")
    with tarfile.open(sdist) as archive:
        names = archive.getnames()
        archive.extractall(where / "unpacked", filter="data")
    (source,) = (where / "unpacked").iterdir()
    run(python, "-m", "hatchling", "build", "-t", "wheel", "-d", where, cwd=source, venv=venv)
    (wheel,) = where.glob("backgrounder-*.whl")
    top = names[0].split("/")[0]
    members = [name.removeprefix(top + "/") for name in names if "/" in name]
    return Dists(sdist, wheel, members)
