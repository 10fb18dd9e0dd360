"""The terminal shell's prompt and loop runner, installed on a stand-in shell (the real
terminal is driven in tests/terminal)."""

from __future__ import annotations

import asyncio
import signal
import sys
from typing import Any

import pytest
from IPython.core.async_helpers import _asyncio_runner

from backgrounder._output import TaskStream
from backgrounder.notebook import terminal_ipython
from backgrounder.notebook.terminal_ipython import CellInterrupted, InterruptibleRunner


class Session:
    """Stands in for prompt_toolkit's PromptSession: reports the streams it prompted with."""

    def __init__(self) -> None:
        self.seen: list[object] = []

    def prompt(self, *args: Any, **kwargs: Any) -> str:
        self.seen.append(sys.stdout)
        return "1+1"


class Shell:
    def __init__(self) -> None:
        self.pt_app = Session()
        self.loop_runner: Any = _asyncio_runner
        self.options_seen: list[object] = []

    def _extra_prompt_options(self) -> dict[str, Any]:
        self.options_seen.append(sys.stdout)
        return {}


def test_the_prompt_runs_with_a_router_on_top_and_is_put_back() -> None:
    shell = Shell()
    proxy = sys.stdout  # what patch_stdout would have put there
    assert terminal_ipython.install(shell) and terminal_ipython.install(shell)
    assert shell.pt_app.prompt(**shell._extra_prompt_options()) == "1+1"
    (options_stdout,) = shell.options_seen
    (prompt_stdout,) = shell.pt_app.seen
    assert isinstance(prompt_stdout, TaskStream) and prompt_stdout.original is proxy
    assert options_stdout is prompt_stdout  # routed from the options on
    assert sys.stdout is proxy
    assert isinstance(shell.loop_runner, InterruptibleRunner)
    terminal_ipython.uninstall(shell)
    assert "prompt" not in vars(shell.pt_app) and "_extra_prompt_options" not in vars(shell)
    assert shell.loop_runner is _asyncio_runner


def test_a_shell_without_a_prompt_session_is_left_alone() -> None:
    class Kernel:
        loop_runner = _asyncio_runner

    kernel = Kernel()
    assert not terminal_ipython.install(kernel)
    assert kernel.loop_runner is _asyncio_runner


def test_a_runner_the_user_chose_is_kept() -> None:
    shell = Shell()
    shell.loop_runner = mine = lambda coro: None
    terminal_ipython.install(shell)
    assert shell.loop_runner is mine
    terminal_ipython.uninstall(shell)


def test_the_runner_returns_what_the_cell_returns() -> None:
    async def cell() -> int:
        await asyncio.sleep(0)
        return 42

    runner = InterruptibleRunner(_asyncio_runner)
    assert runner(cell()) == 42
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_ctrl_c_cancels_the_cell_instead_of_unwinding_asyncio() -> None:
    reached: list[str] = []

    async def cell() -> None:
        signal.raise_signal(signal.SIGINT)  # the person presses Ctrl-C now
        try:
            await asyncio.sleep(30)
        except asyncio.CancelledError:
            reached.append("cancelled at its await")
            raise

    runner = InterruptibleRunner(_asyncio_runner)
    with pytest.raises(CellInterrupted) as info:
        runner(cell())
    assert reached == ["cancelled at its await"]
    assert info.value._render_traceback_() == ["KeyboardInterrupt: the cell was cancelled"]
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_a_second_ctrl_c_raises_at_once() -> None:
    async def cell() -> None:
        signal.raise_signal(signal.SIGINT)
        try:
            await asyncio.sleep(30)
        except asyncio.CancelledError:
            signal.raise_signal(signal.SIGINT)  # stuck cleaning up: Ctrl-C again
            await asyncio.sleep(30)

    runner = InterruptibleRunner(_asyncio_runner)
    with pytest.raises(KeyboardInterrupt):
        runner(cell())
