"""The status table in Notebook 7 (the `notebook` package's single-document frontend).

The same server that the JupyterLab tests use serves Notebook 7 too (its server extension is
enabled when the package is installed): here one of our own, configured so that Notebook 7
exposes its application object to the page, as `--LabApp.expose_app_in_browser` does for
JupyterLab, so that the shared helpers (cells, outputs, the table's hooks) work unchanged.
Tasks wait on gate files, as in test_e2e_table.py.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from e2e_lab import ARTIFACTS, LabServer, NotebookPage, Table, expect

pytestmark = pytest.mark.e2e
pytest.importorskip("notebook", reason="Notebook 7 is in the `test` dependency group")

PRELUDE = """\
%load_ext backgrounder
import asyncio, pathlib
from backgrounder import Task, Tasks

async def until(name, value=None, text=None):
    if text:
        print(text)
    while not pathlib.Path(name).exists():
        await asyncio.sleep(0.05)
    return value

async def fails(message):
    raise ValueError(message)
"""


class Notebook7Page(NotebookPage):
    """A notebook open in Notebook 7: one document per browser tab, at /notebooks/PATH."""

    def open(self, timeout: float = 60_000) -> Notebook7Page:
        self.page.goto(f"{self.server.url}/notebooks/{self.path}?token={self.server.token}")
        self.wait_ready(timeout)
        return self


@pytest.fixture(scope="module")
def notebook7_server(chromium_path: str) -> Iterator[LabServer]:
    with tempfile.TemporaryDirectory(prefix="bg-e2e-nb7-") as tmp:
        server = LabServer(Path(tmp))
        config = Path(tmp, "config")
        config.mkdir(parents=True)
        expose = {"JupyterNotebookApp": {"expose_app_in_browser": True}}
        (config / "jupyter_server_config.json").write_text(json.dumps(expose))
        server.start()
        try:
            yield server
        finally:
            server.stop()
            ARTIFACTS.mkdir(exist_ok=True)
            shutil.copyfile(server.log_path, ARTIFACTS / "jupyter-notebook7.log")


@pytest.fixture
def open_notebook7(
    browser_context: Any, notebook7_server: LabServer
) -> Iterator[Callable[[str, list[str]], NotebookPage]]:
    page = browser_context.new_page()
    page.set_default_timeout(30_000)

    def opener(name: str, cells: list[str]) -> NotebookPage:
        path = notebook7_server.write_notebook(name, cells)
        return Notebook7Page(page, notebook7_server, path).open()

    try:
        yield opener
    finally:
        page.close()
        notebook7_server.shutdown_kernels()


def test_notebook7_is_the_frontend(open_notebook7):
    nb = open_notebook7("frontend.ipynb", ["1 + 1"])
    # Notebook 7's shell, not JupyterLab's: no left/right side panels, one document
    expect(nb.page.locator("#main-panel, .jp-NotebookShell, #jp-top-panel").first).to_be_attached()
    assert "/notebooks/" in nb.page.url
    nb.run_and_wait(0)
    expect(nb.output(0)).to_contain_text("2")


def test_live_table_updates_then_ends_static(open_notebook7):
    nb = open_notebook7(
        "live7.ipynb",
        [
            PRELUDE,
            "tasks = Tasks(as_group=True, name='in notebook 7')\n"
            "tasks.add_task(until, 'gate-a', 1).options(name='first')\n"
            "tasks.add_task(until, 'gate-b', 2, text='second says hi').options(name='second')\n"
            "await tasks()",
        ],
    )
    nb.run_and_wait(0)
    nb.run(1)
    table = Table(nb.output(1))
    table.expect_state("first", "running")
    table.expect_state("second", "running")
    table.expect_live()
    nb.open_gate("gate-a")
    table.expect_state("first", "done")
    table.expect_state("second", "running", timeout=1_000)
    nb.screenshot("notebook7-table-running", table.root)
    nb.open_gate("gate-b")
    nb.wait_done(1)
    table.expect_counts("2 done")
    expect(nb.output(1)).to_contain_text("[1, 2]")
    expect(nb.output(1)).not_to_contain_text("VBox(")
    table.expect_static()
    table.details("second").click()
    table.expect_row("second", "second says hi")


def test_cancel_button_and_failure_row(open_notebook7):
    nb = open_notebook7(
        "cancel7.ipynb",
        [
            PRELUDE,
            "tasks = Tasks(as_group=True, name='cancel and fail')\n"
            "tasks.add_task(until, 'never-created').options(name='stuck')\n"
            "tasks.add_task(fails, 'bad input 42').options(name='broken')\n"
            "await tasks()",
        ],
    )
    nb.run_and_wait(0)
    nb.run(1)
    table = Table(nb.output(1))
    table.expect_state("broken", "failed")
    table.expect_row("broken", "bad input 42")
    table.expect_state("stuck", "running")
    table.cancel("stuck").click()  # the click reaches the kernel while the cell awaits
    table.expect_state("stuck", "cancelled")
    nb.wait_done(1)
    expect(nb.output(1)).to_contain_text("1 of 2 tasks failed")  # the cell's ExceptionGroup
    table.expect_static()
    table.details("broken").click()
    table.expect_row("broken", "Traceback")
    nb.screenshot("notebook7-table-failure", table.root)
