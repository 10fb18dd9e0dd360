"""Helpers for the browser tests: a JupyterLab server, a notebook page, its cells.

Kept out of conftest.py so the fixtures there read as a short list of what each test gets.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import nbformat

try:  # a missing Playwright is reported by the browser fixture (skip, or fail under CI)
    from playwright.sync_api import expect
except ImportError:  # pragma: no cover
    expect = None

REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO / "test-artifacts"

# Chromium flags that work on these machines: without the networking flags Chromium keeps
# trying to reach Google's hosts, which the closed network refuses.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

# JupyterLab plugins that fetch from the internet or pop up toasts over the notebook.
DISABLED_PLUGINS = [
    "@jupyterlab/apputils-extension:announcements",
    "@jupyterlab/extensionmanager-extension",
]


def find_chromium() -> str | None:
    """Debian's chromium (or $BACKGROUNDER_CHROMIUM): Playwright never downloads one here."""
    explicit = os.environ.get("BACKGROUNDER_CHROMIUM")
    if explicit:
        return explicit if Path(explicit).exists() else None
    for name in ("chromium", "chromium-browser"):
        found = shutil.which(name)
        if found:
            return found
    return None


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class LabServer:
    """``jupyter lab`` from this venv on 127.0.0.1, a random port, a token, a temp root dir."""

    def __init__(self, base: Path) -> None:
        self.base = base
        self.root = base / "root"
        self.token = secrets.token_hex(16)
        self.port = 0
        self.proc: subprocess.Popen[bytes] | None = None
        self.log_path = base / "jupyter.log"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 90.0) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        config = self.base / "config"
        (config / "labconfig").mkdir(parents=True, exist_ok=True)
        page_config = {"disabledExtensions": {name: True for name in DISABLED_PLUGINS}}
        (config / "labconfig" / "page_config.json").write_text(json.dumps(page_config))
        env = dict(os.environ)
        env.update(
            JUPYTER_CONFIG_DIR=str(config),
            # no user-level kernelspecs: "python3" is the venv's (make installs it there)
            JUPYTER_DATA_DIR=str(self.base / "data"),
            JUPYTER_RUNTIME_DIR=str(self.base / "runtime"),
            JUPYTERLAB_SETTINGS_DIR=str(self.base / "settings"),
            JUPYTERLAB_WORKSPACES_DIR=str(self.base / "workspaces"),
            IPYTHONDIR=str(self.base / "ipython"),
            PYTHONUNBUFFERED="1",
        )
        env.pop("JUPYTER_TOKEN", None)
        self.port = free_port()
        cmd = [
            sys.executable,
            "-m",
            "jupyterlab",
            "--no-browser",
            "--ServerApp.ip=127.0.0.1",
            f"--ServerApp.port={self.port}",
            "--ServerApp.port_retries=0",
            f"--IdentityProvider.token={self.token}",
            f"--ServerApp.root_dir={self.root}",
            "--ServerApp.disable_check_xsrf=False",
            "--LabApp.expose_app_in_browser=True",
            "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
            "--ServerApp.shutdown_no_activity_timeout=0",
            "--MappingKernelManager.cull_idle_timeout=0",
            "--ServerApp.terminals_enabled=False",
            "--LabApp.extension_manager=readonly",
        ]
        if hasattr(os, "geteuid") and os.geteuid() == 0:
            cmd.append("--allow-root")  # CI and these machines run as root
        log = self.log_path.open("wb")
        self.proc = subprocess.Popen(
            cmd, cwd=self.root, env=env, stdout=log, stderr=subprocess.STDOUT
        )
        log.close()
        deadline = time.monotonic() + timeout
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"jupyter lab exited ({self.proc.returncode}):\n{self.log()}")
            try:
                status = self.api("GET", "/api/status", timeout=2)
            except (OSError, urllib.error.URLError):
                status = None
            if isinstance(status, dict) and "started" in status:
                return
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"jupyter lab not ready in {timeout}s:\n{self.log()}")
            time.sleep(0.2)  # polling a server that is starting: there is no event to await

    def api(self, method: str, path: str, body: Any = None, timeout: float = 10) -> Any:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(
            self.url + path,
            data=data,
            method=method,
            headers={"Authorization": f"token {self.token}", "Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=timeout) as response:
            raw = response.read()
        return json.loads(raw) if raw else None

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-4000:]
        except OSError:
            return ""

    def shutdown_kernels(self) -> None:
        """Delete every session and kernel, so no test's work outlives it."""
        for session in self.api("GET", "/api/sessions"):
            self.api("DELETE", f"/api/sessions/{session['id']}")
        for kernel in self.api("GET", "/api/kernels"):
            self.api("DELETE", f"/api/kernels/{kernel['id']}")

    def stop(self, timeout: float = 30.0) -> None:
        proc = self.proc
        if proc is None or proc.poll() is not None:
            return
        try:
            self.shutdown_kernels()
            self.api("POST", "/api/shutdown", timeout=5)
        except (OSError, urllib.error.URLError, ValueError):
            proc.terminate()
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)

    def write_notebook(self, name: str, cells: Iterable[str]) -> str:
        """Write a notebook of code cells in a folder of its own; return its path from the root.

        The folder is the kernel's working dir: files one test makes never reach another.
        """
        folder = self.root / Path(name).stem
        folder.mkdir()
        nb = nbformat.v4.new_notebook()
        nb.metadata["kernelspec"] = {
            "name": "python3",
            "display_name": "Python 3",
            "language": "python",
        }
        nb.cells = [nbformat.v4.new_code_cell(source) for source in cells]
        nbformat.write(nb, folder / name)
        return f"{folder.name}/{name}"


# JavaScript run in the page. JupyterLab is started with expose_app_in_browser, so
# `window.jupyterapp` is the application: commands and the notebook model, no pixel guessing.
_CURRENT = "window.jupyterapp && window.jupyterapp.shell.currentWidget"
_READY_JS = f"""
(path) => {{
  const w = {_CURRENT};
  if (!w || !w.context || w.context.path !== path || !w.sessionContext) return false;
  const kernel = w.sessionContext.session && w.sessionContext.session.kernel;
  return !!kernel && kernel.status === 'idle' && w.content.widgets.length > 0;
}}
"""
_RUN_JS = f"""
([index, all]) => {{
  const w = {_CURRENT};
  w.content.activeCellIndex = index;
  w.content.deselectAll();
  // Not awaited: cells that run for a while are checked while they run.
  window.jupyterapp.commands.execute(all ? 'notebook:run-all-cells' : 'notebook:run-cell');
  return true;
}}
"""


class NotebookPage:
    """One notebook open in JupyterLab in a Playwright page."""

    def __init__(self, page: Any, server: LabServer, path: str) -> None:
        self.page = page
        self.server = server
        self.path = path

    def open(self, timeout: float = 60_000) -> NotebookPage:
        # a workspace of its own: JupyterLab would otherwise reopen the previous test's notebooks
        workspace = re.sub(r"\W", "-", self.path)
        self.page.goto(
            f"{self.server.url}/lab/workspaces/{workspace}/tree/{self.path}"
            f"?reset&token={self.server.token}"
        )
        self.wait_ready(timeout)
        return self

    def wait_ready(self, timeout: float = 60_000) -> None:
        """The notebook is the current tab and its kernel is idle."""
        self.page.wait_for_function(_READY_JS, arg=self.path, timeout=timeout)

    def open_gate(self, name: str) -> None:
        """Create the file ``name`` next to the notebook (what its tasks may wait for)."""
        (self.server.root / self.path).parent.joinpath(name).touch()

    def cell(self, index: int) -> Any:
        return self.page.locator(".jp-NotebookPanel .jp-Notebook .jp-Cell").nth(index)

    def output(self, index: int) -> Any:
        return self.cell(index).locator(".jp-OutputArea")

    def run(self, index: int) -> None:
        """Start running one cell (never run before) and return once it is queued or running."""
        self.page.evaluate(_RUN_JS, [index, False])
        prompt = self.cell(index).locator(".jp-InputPrompt")
        expect(prompt).to_have_text(re.compile(r"\[(\*|\d+)\]"))

    def run_with_keyboard(self, index: int) -> None:
        """Click into the cell's editor and press Shift+Enter, as a person would."""
        self.cell(index).locator(".jp-InputArea-editor").click()
        self.page.keyboard.press("Shift+Enter")
        prompt = self.cell(index).locator(".jp-InputPrompt")
        expect(prompt).to_have_text(re.compile(r"\[(\*|\d+)\]"))

    def run_all(self) -> None:
        self.page.evaluate(_RUN_JS, [0, True])

    def wait_done(self, index: int, timeout: float = 60_000) -> None:
        """The cell has finished: its prompt shows an execution count, not '*'."""
        prompt = self.cell(index).locator(".jp-InputPrompt")
        expect(prompt).to_have_text(re.compile(r"\[\d+\]"), timeout=timeout)

    def run_and_wait(self, index: int, timeout: float = 60_000) -> None:
        self.run(index)
        self.wait_done(index, timeout)

    def save(self, timeout: float = 30_000) -> None:
        self.page.evaluate("() => { window.jupyterapp.commands.execute('docmanager:save'); }")
        self.page.wait_for_function(
            f"() => {{ const w = {_CURRENT}; return w && !w.context.model.dirty; }}",
            timeout=timeout,
        )

    def screenshot(self, name: str, locator: Any = None) -> Path:
        """Save a PNG into test-artifacts/ (clipped to `locator` when given)."""
        ARTIFACTS.mkdir(exist_ok=True)
        target = ARTIFACTS / f"{name}.png"
        (locator if locator is not None else self.page).screenshot(path=str(target))
        return target


_ROW_INDEX_JS = """
(root, name) => [...root.querySelectorAll('.bg-cell .bg-row')]
  .findIndex((row) => row.innerText.includes(name))
"""


class Table:
    """The status table in one cell's output, live (a widget) or final (static HTML).

    Both renderings carry the same hooks: ``.bg-table`` on the root, ``.bg-header`` on the
    header, ``.bg-row`` with ``data-state`` on each row. The widget is a VBox: an HBox
    (header, "Cancel all"), a GridBox (one HTML widget, ``.bg-cell``, holding every row's
    line, then a "details" and a "Cancel" button per row, each on its row's line), and the
    details panel (``.bg-details`` per opened row). The static table (an ended table) has no
    buttons: a row's details are a ``<summary>`` away. Every helper works on either, so a
    check may start live and end static. All selectors live here, so a change of layout is
    one edit.
    """

    ROOT = ".bg-table"
    ROW = ".bg-row"
    STATIC = ".bg-table.bg-static"
    LIVE = ".bg-table.widget-vbox"

    def __init__(self, output: Any) -> None:
        self.output = output
        self.root = output.locator(self.ROOT).first
        self.header = self.root.locator(".bg-header").first
        self.cancel_all = self.root.locator(".widget-hbox button", has_text="Cancel all")

    def row(self, name: str) -> Any:
        return self.root.locator(self.ROW, has_text=name)

    def _index(self, name: str) -> int:
        index: int = self.root.evaluate(_ROW_INDEX_JS, name)
        assert index >= 0, f"no live row {name!r}"
        return index

    def details(self, name: str) -> Any:
        """What to click to open the row's traceback and output: button or ``<summary>``."""
        if self.output.locator(self.LIVE).count():
            return self.root.locator(".bg-details-button").nth(self._index(name))
        return self.root.locator(f'{self.ROW}:has-text("{name}") > details > summary')

    def cancel(self, name: str) -> Any:
        """The row's Cancel button (live tables only)."""
        return self.root.locator(".bg-cancel").nth(self._index(name))

    def mark(self, name: str, state: str) -> Any:
        """The row, present only while it is in ``state``."""
        return self.root.locator(f'{self.ROW}[data-state="{state}"]', has_text=name)

    def expect_state(self, name: str, state: str, timeout: float = 30_000) -> None:
        expect(self.mark(name, state)).to_have_count(1, timeout=timeout)

    def expect_counts(self, text: str, timeout: float = 30_000) -> None:
        """The header shows ``text`` (e.g. "3 done"), the number as a whole word."""
        pattern = re.compile(r"(^|\D)" + re.escape(text))
        expect(self.header).to_contain_text(pattern, timeout=timeout)

    def expect_row(self, name: str, text: str, timeout: float = 30_000) -> None:
        """The row, or its opened details, show ``text`` (what is rendered: a closed
        ``<details>`` hides its text)."""
        shown = self.root.locator(f"{self.ROW}, .bg-details").filter(has_text=name)
        expect(shown.filter(has_text=text).first).to_contain_text(
            text, use_inner_text=True, timeout=timeout
        )

    def expect_row_lacks(self, name: str, text: str) -> None:
        expect(self.row(name)).not_to_contain_text(text, use_inner_text=True)
        opened = self.root.locator(".bg-details", has_text=name)
        expect(opened.filter(has_text=text)).to_have_count(0)

    def expect_static(self, timeout: float = 30_000) -> None:
        """The table is final: its output holds the static HTML only, no widget."""
        expect(self.output.locator(self.STATIC)).to_have_count(1, timeout=timeout)
        expect(self.output.locator(self.LIVE)).to_have_count(0)

    def expect_live(self) -> None:
        expect(self.output.locator(self.LIVE)).to_have_count(1)
