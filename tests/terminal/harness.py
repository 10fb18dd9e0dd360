"""Terminal IPython driven as a person drives it: a real ``ipython`` in a tmux pane.

tmux is the terminal: it plays every escape sequence prompt_toolkit sends, so ``screen()``
is what a person would read, scrollback included. Input is typed key by key (``type``) and
read back by waiting until the screen shows what is expected (``wait_for``), never by
sleeping a fixed time.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
IPYTHON = Path(sys.executable).with_name("ipython")


def available() -> str | None:
    """Why the terminal tests cannot run here, or None if they can."""
    if shutil.which("tmux") is None:
        return "tmux is not installed"
    if not IPYTHON.exists():
        return f"no ipython next to {sys.executable}"
    return None


class Terminal:
    """One terminal IPython session in its own tmux server."""

    def __init__(self, width: int = 160, height: int = 50) -> None:
        self.socket = f"bg-{uuid.uuid4().hex[:8]}"
        self.home = tempfile.mkdtemp(prefix="bg-ipython-")
        env = {
            "PYTHONPATH": os.pathsep.join([str(ROOT), str(Path(__file__).parent)]),
            "IPYTHONDIR": self.home,
            "TERM": "xterm-256color",
            "PYTHONDONTWRITEBYTECODE": "1",
        }
        command = [
            "env",
            *(f"{k}={v}" for k, v in env.items()),
            str(IPYTHON),
            "--no-banner",
            "--colors=NoColor",
            "--HistoryManager.hist_file=:memory:",
            "--TerminalInteractiveShell.term_title=False",
            "--TerminalInteractiveShell.autoindent=False",
            "--TerminalInteractiveShell.confirm_exit=False",
        ]
        self._tmux(
            "new-session", "-d", "-s", "main", "-x", str(width), "-y", str(height),
            "-c", str(ROOT), " ".join(_quote(c) for c in command),
        )  # fmt: skip
        self.count = 0  # prompts seen
        try:
            self._tmux("set-option", "-t", "main", "history-limit", "20000")
            self.wait_for_prompt(1)
        except BaseException:
            self.close()  # no server left behind when the session never came up
            raise

    # -- tmux ---------------------------------------------------------------------------------

    def _tmux(self, *args: str) -> str:
        done = subprocess.run(
            ["tmux", "-L", self.socket, "-f", "/dev/null", *args],
            capture_output=True,
            text=True,
            check=True,
        )
        return done.stdout

    def screen(self) -> str:
        """Everything the terminal shows, scrollback included, trailing blanks dropped."""
        text = self._tmux("capture-pane", "-p", "-J", "-S", "-", "-t", "main")
        return "\n".join(line.rstrip() for line in text.rstrip("\n").split("\n"))

    def close(self) -> None:
        try:
            self._tmux("kill-server")
        except subprocess.CalledProcessError:
            pass
        shutil.rmtree(self.home, ignore_errors=True)

    # -- what a person does ------------------------------------------------------------------

    def type(self, text: str) -> None:
        """Type ``text`` (no Enter)."""
        self._tmux("send-keys", "-t", "main", "-l", text)

    def press(self, *keys: str) -> None:
        """Press keys by tmux name: ``Enter``, ``C-c``."""
        self._tmux("send-keys", "-t", "main", *keys)

    def run(self, line: str, timeout: float = 30) -> str:
        """Type ``line``, press Enter, wait for the next prompt; what the cell printed."""
        before = self.count
        self.type(line)
        self.press("Enter")
        return self.wait_for_prompt(before + 1, timeout)

    def wait_for_prompt(self, number: int, timeout: float = 30) -> str:
        """Wait until ``In [number]:`` shows; the text between it and the prompt before."""
        screen = self.wait_for(lambda s: f"In [{number}]:" in s, timeout)
        self.count = number
        end = screen.rindex(f"In [{number}]:")
        previous = screen.rfind(f"In [{number - 1}]:", 0, end) if number > 1 else -1
        block = screen[previous:end] if previous >= 0 else screen[:end]
        return block.split("\n", 1)[1] if "\n" in block else ""

    def wait_for(self, predicate: Callable[[str], bool], timeout: float = 30) -> str:
        """Poll the screen until ``predicate`` holds; the screen then."""
        deadline = time.monotonic() + timeout
        while True:
            screen = self.screen()
            if predicate(screen):
                return screen
            if time.monotonic() > deadline:
                raise TimeoutError(f"the terminal never showed what was expected:\n{screen}")
            time.sleep(0.05)  # a poll interval, not a synchronisation

    def value(self, expression: str, timeout: float = 30) -> str:
        """``print(expression)`` in the session: its printed text."""
        return self.run(f"print({expression})", timeout).strip()


def _quote(arg: str) -> str:
    return "'" + arg.replace("'", "'\"'\"'") + "'"
