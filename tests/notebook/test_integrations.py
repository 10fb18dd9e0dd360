"""What the extension adds for tasks, installed on a shell and removed again."""

from __future__ import annotations

from collections.abc import Iterator
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


def test_a_tqdm_imported_later_is_patched_at_the_next_cell(shell: Any) -> None:
    tqdm_bars.uninstall()
    integrations.install(shell)
    shell.run_cell("import tqdm.notebook")
    shell.run_cell("pass")  # its pre_run_cell applies the patch
    assert tqdm_bars.patched()
    integrations.uninstall(shell)
    assert not tqdm_bars.patched()
    shell.run_cell("pass")
    assert not tqdm_bars.patched()  # no longer re-applied
    integrations.uninstall(shell)  # twice is harmless


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
