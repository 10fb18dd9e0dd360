"""What the extension adds for tasks, installed on a shell and removed again."""

from __future__ import annotations

import importlib
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from backgrounder.notebook import integrations, tqdm_bars

pytest.importorskip("tqdm")
pytest.importorskip("ipywidgets")


@pytest.fixture
def shell() -> Iterator[Any]:
    from IPython.core.getipython import get_ipython
    from IPython.testing.globalipapp import start_ipython

    ip = start_ipython() or get_ipython()
    assert ip is not None
    yield ip
    integrations.uninstall(ip)


def test_patches_are_applied_at_install_and_undone(shell: Any) -> None:
    import tqdm.notebook  # noqa: F401

    tqdm_bars.uninstall()
    integrations.install(shell)
    assert tqdm_bars.patched()
    integrations.uninstall(shell)
    assert not tqdm_bars.patched()
    shell.run_cell("pass")
    assert not tqdm_bars.patched()  # nothing re-applies it
    integrations.uninstall(shell)  # twice is harmless


@pytest.fixture
def probe(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[list[object]]:
    """A module ``bg_probe`` not imported yet, and what an AfterImport on it saw."""
    (tmp_path / "bg_probe.py").write_text("VALUE = 42\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    seen: list[object] = []

    def after() -> None:
        seen.append(sys.modules["bg_probe"].VALUE)  # the module's code has run
        if len(seen) > 1:
            raise RuntimeError("a broken patch")

    finder = integrations.AfterImport({"bg_probe": after})
    sys.meta_path.insert(0, finder)
    try:
        yield seen
    finally:
        sys.meta_path.remove(finder)
        sys.modules.pop("bg_probe", None)


def test_a_patch_runs_right_after_its_module_is_imported(probe: list[object]) -> None:
    import bg_probe  # type: ignore[import-not-found]

    assert probe == [42]
    assert bg_probe.VALUE == 42
    importlib.reload(bg_probe)  # a broken patch is logged; the import still works
    assert probe == [42, 42]
    assert bg_probe.__spec__.origin.endswith("bg_probe.py")


def test_a_shell_without_prompt_toolkit_keeps_its_loop_runner(shell: Any) -> None:
    before = shell.loop_runner
    integrations.install(shell)
    if getattr(shell, "pt_app", None) is None:
        assert shell.loop_runner is before
    integrations.uninstall(shell)
    assert shell.loop_runner is before


def test_task_output_is_not_kept_in_ipythons_output_history(shell: Any) -> None:
    import backgrounder

    backgrounder.capture_output()
    try:
        shell.run_cell(
            "import backgrounder\n"
            "def chatty(n):\n"
            "    for i in range(n):\n"
            "        print('x' * 99)\n"
            "t = backgrounder.Task(chatty, 100)\n"
            "await t()\n"
        )
    finally:
        backgrounder.release_output()
    assert len(shell.user_ns["t"].output) == 10_000
    kept = "".join(
        "".join(out.bundle.get("stream", []))
        for outs in shell.history_manager.outputs.values()
        for out in outs
    )
    assert "x" * 99 not in kept
