"""Without the `notebook` extra: `%load_ext backgrounder` still works, with static tables, and
says in one line how to get live ones. Runs IPython in a subprocess with ipywidgets hidden.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

pytest.importorskip("IPython")

LOAD = """
import sys
if {hide}:
    sys.modules["ipywidgets"] = None  # an environment without the notebook extra
if {old}:  # Colab's ipywidgets 7
    import types
    sys.modules["ipywidgets"] = types.SimpleNamespace(__version__="7.7.1")
from IPython.core.interactiveshell import InteractiveShell
shell = InteractiveShell.instance()
shell.kernel = {kernel}
shell.run_line_magic("load_ext", "backgrounder")
shell.run_line_magic("unload_ext", "backgrounder")
"""


def load_ext(*, hide_widgets: bool, in_kernel: bool, old_widgets: bool = False) -> str:
    kernel = "object()" if in_kernel else "None"
    code = LOAD.format(hide=hide_widgets, old=old_widgets, kernel=kernel)
    done = subprocess.run(
        [sys.executable, "-W", "error", "-c", code], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
    return done.stdout


def test_without_ipywidgets_one_line_names_the_extra() -> None:
    out = load_ext(hide_widgets=True, in_kernel=True)
    assert out.count("\n") == 1, out
    assert "static" in out and '"backgrounder[notebook]"' in out


def test_ipywidgets_7_gets_static_tables_and_says_why() -> None:
    out = load_ext(hide_widgets=False, old_widgets=True, in_kernel=True)
    assert out.count("\n") == 1, out
    assert "ipywidgets 7.7.1 is installed, live tables need 8" in out
    assert '"backgrounder[notebook]"' in out


def test_with_ipywidgets_nothing_is_said() -> None:
    pytest.importorskip("ipywidgets")
    assert load_ext(hide_widgets=False, in_kernel=True) == ""


def test_terminal_ipython_is_not_told_about_widgets() -> None:
    """Terminal IPython shows text tables whatever is installed: no advice there."""
    assert load_ext(hide_widgets=True, in_kernel=False) == ""
