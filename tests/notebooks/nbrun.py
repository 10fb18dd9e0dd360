"""Execute a notebook top to bottom in a real kernel with nbclient, and judge the outcome."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import nbformat
from jupyter_client.kernelspec import KernelSpecManager
from jupyter_client.manager import AsyncKernelManager
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
# notebooks/dask.ipynb needs a Dask cluster: its owner tests it (and it is skipped where
# `distributed` is missing, e.g. a Binder image built without the [dask] extra).
CELL_TIMEOUT = 60
NOTEBOOK_BUDGET = 60.0  # seconds of execution per notebook (kernel start-up not counted)
EXPECTED_ERROR = "raises-exception"


@dataclass
class Run:
    path: Path
    notebook: nbformat.NotebookNode
    seconds: float


def kernel_manager(kernels_dir: Path) -> AsyncKernelManager:
    """A manager for the ``python3`` kernel found in ``kernels_dir`` and nowhere else.

    Looking only there keeps a user-level or system ``python3`` kernel from standing in for
    the environment under test.
    """
    specs = KernelSpecManager(kernel_dirs=[str(kernels_dir)], ensure_native_kernel=False)
    if "python3" not in specs.find_kernel_specs():
        raise AssertionError(f"no python3 kernel in {kernels_dir}")
    return AsyncKernelManager(kernel_name="python3", kernel_spec_manager=specs)


def run_notebook(path: Path, kernels_dir: Path) -> Run:
    """Run every cell in a fresh kernel; raises nbclient's CellExecutionError on a cell error.

    Cells tagged ``raises-exception`` may fail (and must: see ``check``).
    """
    notebook = nbformat.read(path, as_version=4)
    client = NotebookClient(
        notebook,
        km=kernel_manager(kernels_dir),
        kernel_name="python3",
        timeout=CELL_TIMEOUT,
        resources={"metadata": {"path": str(path.parent)}},
    )
    # cleanup_kc: nbclient leaves a kernel it was handed running (and its sockets open)
    with client.setup_kernel(cleanup_kc=True):
        start = time.monotonic()
        for index, cell in enumerate(notebook.cells):
            client.execute_cell(cell, index)
        seconds = time.monotonic() - start
    return Run(path, notebook, seconds)


def problems(run: Run) -> list[str]:
    """What is wrong with a finished run, beyond cell errors (which nbclient raises)."""
    found = []
    for index, cell in enumerate(run.notebook.cells):
        if cell.cell_type != "code":
            continue
        tags = cell.metadata.get("tags", [])
        outputs = cell.get("outputs", [])
        stderr = "".join(o.get("text", "") for o in outputs if o.get("name") == "stderr")
        errored = any(o.output_type == "error" for o in outputs) or "Error" in stderr
        if EXPECTED_ERROR in tags and not errored:
            found.append(f"cell {index} is tagged {EXPECTED_ERROR} but raised nothing")
        if EXPECTED_ERROR not in tags and "Traceback" in stderr:
            found.append(f"cell {index} printed a traceback on stderr:\n{stderr}")
    if run.seconds > NOTEBOOK_BUDGET:
        found.append(f"took {run.seconds:.0f} s, more than {NOTEBOOK_BUDGET:.0f} s")
    return found
