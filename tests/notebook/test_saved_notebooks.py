"""Every example notebook, executed by nbclient, saves each ended table as its final HTML.

nbclient (and so nbconvert and papermill) keeps only what arrives before a cell's execute
reply, and a saved notebook has no widget models: each table's output must hold the
static table, with no widget view and no row left pending or running.
"""

from __future__ import annotations

import importlib.util
import re
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
WIDGET = "application/vnd.jupyter.widget-view+json"
_spec = importlib.util.spec_from_file_location("nbrun", ROOT / "tests" / "notebooks" / "nbrun.py")
assert _spec is not None and _spec.loader is not None
nbrun = importlib.util.module_from_spec(_spec)
sys.modules.setdefault("nbrun", nbrun)  # its dataclasses look their module up
_spec.loader.exec_module(nbrun)

pytestmark = pytest.mark.kernel
OURS = [path for path in nbrun.NOTEBOOKS if path.name != "dask.ipynb"]


@pytest.mark.parametrize("path", OURS, ids=lambda path: path.name)
def test_a_saved_notebook_holds_final_static_tables(path: Path) -> None:
    run = nbrun.run_notebook(path, Path(sys.prefix) / "share" / "jupyter" / "kernels")
    tables = 0
    for index, cell in enumerate(run.notebook.cells):
        for output in cell.get("outputs", []):
            data = output.get("data", {})
            assert WIDGET not in data, f"{path.name} cell {index} saved a widget view"
            html = data.get("text/html", "")
            if 'class="bg-table' not in html or "%tasks" in cell.source:
                continue
            tables += 1
            states = re.findall(r'class="bg-row" data-state="(\w+)"', html)
            unfinished = [state for state in states if state in ("pending", "running")]
            assert not unfinished, f"{path.name} cell {index} saved rows {states}"
    if path.name in ("quickstart.ipynb", "magics.ipynb"):
        assert tables, f"{path.name} saved no table"
