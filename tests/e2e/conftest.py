"""Fixtures for the browser tests: one JupyterLab server and one Chromium per session.

Every test opens its own notebook (so its own kernel) in a fresh page; the kernels are shut
down after each test. Without Chromium or Playwright the tests skip with the reason, except
under CI, where a missing browser is a failure.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from e2e_lab import ARTIFACTS, CHROMIUM_ARGS, LabServer, NotebookPage, find_chromium


def _missing(reason: str) -> None:
    if os.environ.get("CI"):
        pytest.fail(f"{reason} (CI is set, so this is a failure, not a skip)", pytrace=False)
    pytest.skip(reason)


@pytest.fixture(scope="session")
def chromium_path() -> str:
    path = find_chromium()
    if path is None:
        _missing("Chromium not found: run scripts/ensure-chromium (apt-get install chromium)")
    assert path is not None
    return path


@pytest.fixture(scope="session")
def lab_server(chromium_path: str) -> Iterator[LabServer]:
    with tempfile.TemporaryDirectory(prefix="bg-e2e-") as tmp:
        server = LabServer(Path(tmp))
        server.start()
        try:
            yield server
        finally:
            server.stop()
            ARTIFACTS.mkdir(exist_ok=True)  # the server's and kernels' log, for a failed run
            shutil.copyfile(server.log_path, ARTIFACTS / "jupyter.log")


# Module scope, not session: Playwright's sync API keeps an asyncio loop running on the main
# thread while it is open, and the tests after these must not see it.
@pytest.fixture(scope="module")
def browser_context(chromium_path: str) -> Iterator[Any]:
    try:
        from playwright.sync_api import sync_playwright
    except ImportError as exc:
        _missing(f"Playwright for Python is not installed: {exc}")
    for stale in ARTIFACTS.glob("FAILED-*.png"):
        stale.unlink()
    with (
        tempfile.TemporaryDirectory(prefix="bg-e2e-chromium-") as user_data,
        sync_playwright() as pw,
    ):
        context = pw.chromium.launch_persistent_context(
            user_data,
            executable_path=chromium_path,
            headless=True,
            args=CHROMIUM_ARGS,
            viewport={"width": 1280, "height": 900},
        )
        try:
            yield context
        finally:
            context.close()


@pytest.fixture
def page(
    browser_context: Any, lab_server: LabServer, request: pytest.FixtureRequest
) -> Iterator[Any]:
    page = browser_context.new_page()
    page.set_default_timeout(30_000)
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    try:
        yield page
    finally:
        failed = getattr(request.node, "rep_call", None)
        if failed is not None and failed.failed:
            ARTIFACTS.mkdir(exist_ok=True)
            page.screenshot(path=str(ARTIFACTS / f"FAILED-{request.node.name}.png"))
            print("page errors:", *errors, sep="\n  ")  # shown with the failure
            print("server log tail:\n" + lab_server.log())
        page.close()
        lab_server.shutdown_kernels()


@pytest.fixture
def open_notebook(page: Any, lab_server: LabServer) -> Callable[..., NotebookPage]:
    """``open_notebook(name, cells)`` writes the notebook, opens it and waits for its kernel."""

    def opener(name: str, cells: list[str]) -> NotebookPage:
        path = lab_server.write_notebook(name, cells)
        return NotebookPage(page, lab_server, path).open()

    return opener


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    # Lets the page fixture know whether the test failed, to keep a screenshot of it.
    report = yield
    setattr(item, f"rep_{report.when}", report)
    return report
