"""notebooks/dask.ipynb runs top to bottom in a fresh kernel (tests/notebooks skips it)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

pytest.importorskip("distributed")
ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests" / "notebooks"))

from nbrun import problems, run_notebook  # noqa: E402


@pytest.mark.kernel
def test_dask_notebook_runs() -> None:
    run = run_notebook(
        ROOT / "notebooks" / "dask.ipynb", Path(sys.prefix) / "share/jupyter/kernels"
    )
    found = problems(run)
    assert not found, "notebooks/dask.ipynb:\n" + "\n".join(found)
    outputs = [
        "".join(o.get("text", "") for o in cell.get("outputs", []))
        for cell in run.notebook.cells
        if cell.cell_type == "code"
    ]
    assert any("in check" in text and "negative input: -1" in text for text in outputs)
