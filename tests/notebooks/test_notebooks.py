"""Every example notebook runs top to bottom in a fresh kernel without a cell error."""

from __future__ import annotations

import sys
from pathlib import Path

import nbformat
import pytest
from nbrun import NOTEBOOKS, ROOT, problems, run_notebook

OURS = [path for path in NOTEBOOKS if path.name != "dask.ipynb"]


def test_the_notebooks_exist() -> None:
    names = {path.stem for path in OURS}
    assert {
        "quickstart",
        "sync-and-async",
        "progress-and-cancellation",
        "errors-and-tracebacks",
        "limits-and-timeouts",
        "magics",
        "asgi-starlette",
        "large-groups",
    } <= names


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda path: path.name)
def test_stored_without_outputs(path: Path) -> None:
    """The README promises notebooks without outputs (and so, without stale ones)."""
    notebook = nbformat.read(path, as_version=4)
    nbformat.validate(notebook)
    for index, cell in enumerate(notebook.cells):
        if cell.cell_type == "code":
            assert not cell.outputs, f"{path.name} cell {index} has stored outputs"
            assert cell.execution_count is None, f"{path.name} cell {index} has a count"
    assert notebook.metadata.kernelspec.name == "python3"


@pytest.mark.kernel
@pytest.mark.parametrize("path", OURS, ids=lambda path: path.name)
def test_notebook_runs(path: Path) -> None:
    run = run_notebook(path, Path(sys.prefix) / "share" / "jupyter" / "kernels")
    found = problems(run)
    assert not found, f"{path.relative_to(ROOT)}:\n" + "\n".join(found)
