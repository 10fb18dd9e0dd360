"""Terminal IPython sessions (tmux): skipped where tmux or ipython is missing."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from .harness import Terminal, available


@pytest.fixture
def terminal() -> Iterator[Terminal]:
    """A fresh ``ipython`` with the extension loaded and the test functions imported."""
    reason = available()
    if reason is not None:
        if os.environ.get("CI"):  # `make test` installs tmux as root: CI must not skip
            pytest.fail(reason)
        pytest.skip(reason)
    term = Terminal()
    try:
        loaded = term.run("%load_ext backgrounder")
        assert "Error" not in loaded, loaded
        term.run("from terminal_work import *")
        yield term
    finally:
        term.close()


@pytest.fixture
def fixed(terminal: Terminal) -> Terminal:
    """The session with the terminal fixes installed by hand (until ``%load_ext`` does it)."""
    out = terminal.run(
        "from backgrounder.notebook import terminal_ipython; "
        "terminal_ipython.install(get_ipython())"
    )
    assert "True" in out, out
    return terminal
