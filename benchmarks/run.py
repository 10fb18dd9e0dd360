"""``make bench``: run every benchmark and write benchmarks/results.md and results.svg.

    python benchmarks/run.py            # the full run (a few minutes), results in benchmarks/
    python benchmarks/run.py --smoke    # tiny sizes, seconds; results in a temporary folder
    python benchmarks/run.py --only overhead,scaling

A benchmark that cannot run here (no kernel, no Dask) still reports its rows, marked
skipped with the reason, so the table always lists every figure.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))  # the sibling modules, however this file is started

import executors  # noqa: E402
import journal  # noqa: E402
import kernel  # noqa: E402
import mapping  # noqa: E402
import overhead  # noqa: E402
import report  # noqa: E402
import scaling  # noqa: E402
from _common import Config, Row, progress  # noqa: E402

BENCHMARKS: dict[str, Callable[[Config], list[Row]]] = {
    "overhead": overhead.run,
    "scaling": scaling.run,
    "kernel": kernel.run,
    "executors": executors.run,
    "journal": journal.run,
    "mapping": mapping.run,
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help="tiny sizes: checks it all runs")
    parser.add_argument("--only", default="", help="comma-separated: " + ",".join(BENCHMARKS))
    parser.add_argument("--out", type=Path, help="where to write results.md and results.svg")
    parser.add_argument(
        "--in-process",
        action="store_true",
        help="run here, not one child process per benchmark (they leave threads, pools "
        "and garbage behind that would slow the next one down)",
    )
    parser.add_argument(
        "--render", action="store_true", help="only rewrite the table from results.json"
    )
    args = parser.parse_args(argv)
    if args.render:
        progress(f"wrote {report.rerender(args.out or HERE)}")
        return 0
    cfg = Config.make(args.smoke)
    chosen = [name for name in args.only.split(",") if name] or list(BENCHMARKS)
    unknown = set(chosen) - set(BENCHMARKS)
    if unknown:
        parser.error(f"unknown benchmark(s): {', '.join(sorted(unknown))}")
    out = args.out or (Path(tempfile.mkdtemp(prefix="bench-smoke-")) if cfg.smoke else HERE)

    start = time.perf_counter()
    load_before = os.getloadavg()[0]
    rows: list[Row] = []
    for name in chosen:
        t0 = time.perf_counter()
        if args.in_process:
            rows += _run_here(name, cfg)
        else:
            rows += _run_child(name, args.smoke)
        progress(f"{name} took {time.perf_counter() - t0:.1f} s")
    load = f"{load_before:.1f} and {os.getloadavg()[0]:.1f}"
    path = report.write(rows, cfg, time.perf_counter() - start, out, load)
    progress(f"wrote {path}")
    for row in rows:
        print(f"  {row.verdict():7} {row.shown_value():>12}  {row.figure}  {row.target}")
    return 0


def _run_here(name: str, cfg: Config) -> list[Row]:
    try:
        return BENCHMARKS[name](cfg)
    except Exception as exc:  # one broken benchmark must not hide the others' figures
        traceback.print_exc()
        return [Row(name, f"{name} benchmark", None, note=f"crashed: {exc!r}"[:200])]


def _run_child(name: str, smoke: bool) -> list[Row]:
    """Run one benchmark in a fresh interpreter and read back its rows."""
    with tempfile.TemporaryDirectory(prefix=f"bench-{name}-") as tmp:
        command = [sys.executable, __file__, "--in-process", "--only", name, "--out", tmp]
        proc = subprocess.run([*command, *(["--smoke"] if smoke else [])], check=False)
        raw = Path(tmp) / "results.json"
        if proc.returncode != 0 or not raw.exists():
            note = f"crashed: exit status {proc.returncode}"
            return [Row(name, f"{name} benchmark", None, note=note)]
        return [Row(**row) for row in json.loads(raw.read_text())["rows"]]


if __name__ == "__main__":
    sys.exit(main())
