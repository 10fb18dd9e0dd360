"""The example notebooks name the kernel that `make lab` and Binder's postBuild register, so
opening one in JupyterLab changes nothing in it but the Python version in ``language_info``
(JupyterLab writes the running kernel's exact version there, e.g. 3.11.7, and the stored
notebooks cannot know which patch release a reader runs: that one change is left).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from e2e_lab import REPO, NotebookPage

pytestmark = pytest.mark.e2e

NOTEBOOKS = sorted((REPO / "notebooks").glob("*.ipynb"))
KERNELSPEC = {"display_name": "Python 3 (backgrounder)", "language": "python", "name": "python3"}
_MODEL = "() => JSON.stringify(window.jupyterapp.shell.currentWidget.context.model.toJSON())"


def _metadata(path: Path) -> dict[str, object]:
    return json.loads(path.read_text(encoding="utf-8"))["metadata"]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_kernelspec_is_the_registered_kernel(path: Path) -> None:
    assert _metadata(path)["kernelspec"] == KERNELSPEC


def test_opening_changes_only_the_python_version(page, lab_server) -> None:
    folder = lab_server.root / "clean"
    folder.mkdir()
    shutil.copy(REPO / "notebooks" / "quickstart.ipynb", folder)
    NotebookPage(page, lab_server, "clean/quickstart.ipynb").open()
    stored = _metadata(folder / "quickstart.ipynb")
    # the kernel's info reply has arrived once language_info carries its version
    page.wait_for_function(
        "() => !!window.jupyterapp.shell.currentWidget.context.model"
        ".getMetadata('language_info')?.version"
    )
    opened = json.loads(page.evaluate(_MODEL))["metadata"]
    version = opened["language_info"].pop("version")
    assert version.startswith("3.")
    assert opened == stored
