"""Write the results: a Markdown table (included by the docs) and an SVG bar chart.

The chart is drawn by hand so the benchmarks need no plotting dependency: one bar per
figure that has a ratio target, its length the measured ratio over the target (1.0 is the
target line), green when it passes.
"""

from __future__ import annotations

import html
import json
import os
import platform
import re
from dataclasses import asdict
from datetime import datetime, timezone
from pathlib import Path

from _common import Config, Row

import backgrounder


def markdown(rows: list[Row], cfg: Config, seconds: float, load: str = "", when: str = "") -> str:
    passed = sum(row.ok is True for row in rows)
    failed = sum(row.ok is False for row in rows)
    lines = [
        f"Benchmark results for backgrounder {backgrounder.__version__}, "
        f"Python {platform.python_version()}, "
        f"{platform.system()} {platform.machine()}; "
        f"{'smoke run (tiny sizes, not meaningful)' if cfg.smoke else 'full run'} "
        f"of {seconds:.0f} s on {when} UTC. "
        f"Median of {cfg.rounds} interleaved rounds unless stated; ratios compare runs made "
        "side by side in the same round. How it is measured: "
        "[benchmarks method](benchmarks-method.md).",
        "",
        f"Load average (1 min) before and after the run: {load}. The machine has "
        f"{os.cpu_count()} cores; other work on it makes every ratio noisier.",
        "",
        f"**{passed} pass, {failed} fail** of {passed + failed} figures with a target.",
        "",
    ]
    section = None
    for row in rows:
        if row.section != section:
            section = row.section
            lines += [
                "",
                f"### {section}",
                "",
                "| Figure | Measured | Target | Result | Notes |",
                "| --- | --- | --- | --- | --- |",
            ]
        lines.append(
            f"| {_cell(row.figure)} | {row.shown_value()} | {_cell(row.target) or '-'} "
            f"| {row.verdict()} | {_cell(row.note)} |"
        )
    # The chart inline, so it shows in the docs page that includes this file (a relative
    # image path cannot be right both here and there); benchmarks/results.svg is the same.
    chart = f"<div>\n{svg(rows)}</div>"  # a block, so Markdown leaves the SVG alone
    lines += ["", "Measured over target, for every ratio with a target:", "", chart, ""]
    return "\n".join(lines)


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _limit(row: Row) -> float | None:
    match = re.search(r"<=?\s*([\d.]+)\s*x", row.target)
    return float(match.group(1)) if match and row.unit == "x" else None


def svg(rows: list[Row]) -> str:
    bars = [(row, _limit(row)) for row in rows if row.value is not None and _limit(row)]
    width, label_w, bar_w, row_h = 900, 470, 360, 22
    height = 40 + row_h * len(bars) + 20
    scale = bar_w / 2.0  # the bar area spans 0 .. 2x the target
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'font-family="sans-serif" font-size="12">',
        f'<rect width="{width}" height="{height}" fill="white"/>',
        '<text x="10" y="20" font-size="14" font-weight="bold">'
        "Measured / target (left of the line passes)</text>",
    ]
    x0 = label_w
    for i, (row, limit) in enumerate(bars):
        assert row.value is not None and limit is not None
        y = 40 + i * row_h
        frac = row.value / limit
        length = min(frac, 2.0) * scale
        colour = "#2e7d32" if row.ok else "#c62828"
        out.append(
            f'<text x="{x0 - 8}" y="{y + 14}" text-anchor="end">'
            f"{html.escape(row.figure[:72])}</text>"
        )
        out.append(
            f'<rect x="{x0}" y="{y + 3}" width="{length:.1f}" height="{row_h - 6}" '
            f'fill="{colour}"/>'
        )
        out.append(
            f'<text x="{x0 + length + 4:.1f}" y="{y + 14}">{row.value:.2f}x / {limit:g}x</text>'
        )
    line_x = x0 + scale
    out.append(
        f'<line x1="{line_x}" y1="30" x2="{line_x}" y2="{height - 10}" stroke="black" '
        'stroke-dasharray="4 3"/>'
    )
    out.append("</svg>")
    return "\n".join(out) + "\n"


def write(
    rows: list[Row], cfg: Config, seconds: float, directory: Path, load: str = "", when: str = ""
) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    when = when or f"{datetime.now(timezone.utc):%Y-%m-%d %H:%M}"
    raw = {
        "smoke": cfg.smoke,
        "seconds": seconds,
        "load": load,
        "when": when,
        "rows": [asdict(r) for r in rows],
    }
    (directory / "results.json").write_text(json.dumps(raw, indent=1) + "\n")
    table = directory / "results.md"
    table.write_text(markdown(rows, cfg, seconds, load, when))
    (directory / "results.svg").write_text(svg(rows))
    return table


def rerender(directory: Path) -> Path:
    """Write results.md and results.svg again from results.json (after a format change)."""
    raw = json.loads((directory / "results.json").read_text())
    rows = [Row(**row) for row in raw["rows"]]
    cfg = Config.make(raw["smoke"])
    return write(rows, cfg, raw["seconds"], directory, raw["load"], raw["when"])
