"""Sizes for the load tests, process helpers and a small real-kernel driver."""

from __future__ import annotations

import os
import queue
import time
from pathlib import Path
from typing import Any

Message = dict[str, Any]

HEAVY = os.environ.get("BACKGROUNDER_HEAVY") == "1"
ROOT = Path(__file__).resolve().parents[2]


def scaled(normal: int, heavy: int) -> int:
    """``heavy`` under ``make test-heavy`` (BACKGROUNDER_HEAVY=1), else ``normal``."""
    return heavy if HEAVY else normal


def children(pid: int) -> set[int]:
    """Every live descendant of ``pid`` (Linux /proc), so that orphans can be looked for."""
    parents: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        parents.setdefault(ppid, []).append(int(entry.name))
    found: set[int] = set()
    todo = [pid]
    while todo:
        for child in parents.get(todo.pop(), []):
            if child not in found:
                found.add(child)
                todo.append(child)
    return found


def alive(pid: int) -> bool:
    """True if ``pid`` runs (a zombie, already dead, does not count)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def wait_until(predicate: Any, timeout: float, step: float = 0.05) -> bool:
    """Poll ``predicate`` (for other processes, which no event of ours can signal)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(step)
    return bool(predicate())


class Kernel:
    """A real ipykernel started with jupyter_client; cells run one at a time."""

    def __init__(self) -> None:
        from jupyter_client import KernelManager

        self.manager = KernelManager(kernel_name="python3")
        self.manager.start_kernel(cwd=str(ROOT))
        self.client = self.manager.client()
        self.client.start_channels()
        self.client.wait_for_ready(timeout=60)

    @property
    def pid(self) -> int:
        return int(self.manager.provisioner.process.pid)  # type: ignore[union-attr]

    def execute(self, code: str, timeout: float = 60) -> tuple[Message, list[Message]]:
        """Run ``code``; the reply and the IOPub messages of this cell."""
        msg_id = self.client.execute(code)
        messages: list[Message] = []
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError(f"the kernel did not finish {code!r} in {timeout} s")
            try:
                message = self.client.get_iopub_msg(timeout=remaining)
            except queue.Empty:
                continue
            if message["parent_header"].get("msg_id") != msg_id:
                continue
            messages.append(message)
            if message["msg_type"] == "status" and message["content"]["execution_state"] == "idle":
                break
        while True:
            reply = self.client.get_shell_msg(timeout=max(0.1, deadline - time.monotonic()))
            if reply["parent_header"].get("msg_id") == msg_id:
                return reply, messages

    def value(self, expression: str, timeout: float = 60) -> str:
        reply, messages = self.execute(expression, timeout)
        errors = [m["content"] for m in messages if m["msg_type"] == "error"]
        assert reply["content"]["status"] == "ok", errors
        results = [m for m in messages if m["msg_type"] == "execute_result"]
        assert results, messages
        return str(results[-1]["content"]["data"]["text/plain"])

    def close(self) -> None:
        self.client.stop_channels()
        if self.manager.has_kernel:
            self.manager.shutdown_kernel(now=True)
