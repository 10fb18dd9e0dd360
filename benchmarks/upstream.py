"""Upstream backgrounder 0.2 in its own venv and process (it has the same import name)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from _common import progress

HERE = Path(__file__).resolve().parent
VENV = HERE / ".upstream-venv"
PYTHON = VENV / "bin" / "python"
# 0.2.0 imports sniffio without declaring it; nest_asyncio is what it patches asyncio with.
REQUIREMENTS = ["backgrounder==0.2.0", "sniffio", "nest_asyncio"]


def ensure_venv() -> bool:
    """Create the venv once; False if that is impossible (offline, no venv module)."""
    if PYTHON.exists():
        return True
    progress(f"creating {VENV} with {' '.join(REQUIREMENTS)}")
    try:
        subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
        subprocess.run(
            [str(PYTHON), "-m", "pip", "install", "-q", *REQUIREMENTS],
            check=True,
            stdout=subprocess.DEVNULL,
        )
    except (OSError, subprocess.CalledProcessError) as exc:
        progress(f"upstream venv failed: {exc}")
        return False
    return True


class Upstream:
    """A persistent worker running upstream 0.2; ``run(kind, n)`` returns seconds."""

    def __init__(self) -> None:
        self.proc = subprocess.Popen(
            [str(PYTHON), str(HERE / "_upstream_worker.py")],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            cwd=HERE,  # never /work/main: our own package must not shadow upstream's
        )
        ready = self._read()
        if not ready.startswith("ready"):
            raise RuntimeError(f"upstream worker did not start: {ready!r}")

    def _read(self) -> str:
        assert self.proc.stdout is not None
        return self.proc.stdout.readline().strip()

    def run(self, kind: str, n: int) -> float:
        assert self.proc.stdin is not None
        self.proc.stdin.write(f"{kind} {n}\n")
        self.proc.stdin.flush()
        line = self._read()
        try:
            return float(line)
        except ValueError:
            raise RuntimeError(f"upstream {kind} run failed: {line}") from None

    def close(self) -> None:
        if self.proc.stdin is not None:
            self.proc.stdin.write("quit\n")
            self.proc.stdin.close()
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:  # 0.2 leaves a non-daemon thread behind at exit
            self.proc.kill()
            self.proc.wait()

    @classmethod
    def start(cls, smoke: bool) -> Upstream | None:
        """The worker, or None when the venv is missing in smoke mode (not built there)."""
        if smoke and not PYTHON.exists():
            return None
        if not ensure_venv():
            return None
        try:
            return cls()
        except (OSError, RuntimeError) as exc:
            progress(f"upstream worker failed: {exc}")
            return None
