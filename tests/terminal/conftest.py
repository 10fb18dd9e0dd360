"""Terminal IPython sessions (tmux): skipped where tmux or ipython is missing."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from .harness import Terminal, available


def pytest_configure(config: pytest.Config) -> None:
    # (to move to pyproject's markers list)
    config.addinivalue_line("markers", "terminal: drives terminal IPython in tmux")


@pytest.fixture
def terminal() -> Iterator[Terminal]:
    """A fresh ``ipython`` with the extension loaded and the test functions imported."""
    reason = available()
    if reason is not None:
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
