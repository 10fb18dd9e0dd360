"""The benchmarks' smoke run: tiny sizes, no claims about speed, only that every figure is
still measured and written, so `make bench` cannot rot between full runs."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

# One fragment per figure of issue 8; each must appear in a row of the table.
FIGURES = [
    "backgrounder async group",
    "async group with status table vs without",
    "anyio task group vs asyncio.gather",
    "upstream 0.2 vs asyncio.gather",
    "backgrounder sync group",
    "sync group with status table vs without",
    "loop.run_in_executor vs",
    "anyio.to_thread.run_sync vs",
    "IPython BackgroundJobManager vs",
    "upstream 0.2 vs ThreadPoolExecutor",
    "async: worst growth of time per task",
    "async: memory kept per finished task",
    "sync: worst growth of time per task",
    "sync: memory kept per finished task",
    "memory kept per finished task in the %tasks history",
    "IOPub messages while a",
    "IOPub messages besides",
    "trivial cell round trip",
    "task end to its row showing it done, tasks ending 0.5 s apart",
    "task end to its row showing it done, tasks ending 0.137 s apart",
    "process pool group",
    "CPU-bound speed-up",
    "Dask group",
    "Tasks.map over a generator",
]


@pytest.mark.kernel
def test_smoke_run_writes_every_row(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "run.py"), "--smoke", "--out", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=180,
        cwd=ROOT,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    table = (tmp_path / "results.md").read_text()
    rows = [line for line in table.splitlines() if line.startswith("| ") and "---" not in line]
    for figure in FIGURES:
        assert any(figure in row for row in rows), f"no row for {figure!r}:\n{table}"
    assert "crashed" not in table, table
    assert (tmp_path / "results.svg").read_text().startswith("<svg")
