"""A small synchronous driver for a real Jupyter kernel (jupyter_client), for the kernel tests."""

from __future__ import annotations

import queue
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from jupyter_client import KernelManager

ROOT = Path(__file__).resolve().parents[2]
WIDGET = "application/vnd.jupyter.widget-view+json"

Message = dict[str, Any]


@dataclass
class Execution:
    """What one execute_request produced on IOPub, and its reply."""

    code: str
    msg_id: str = ""
    messages: list[Message] = field(default_factory=list)
    reply: Message | None = None
    seconds: float = 0.0

    def of_type(self, *types: str) -> list[Message]:
        return [m for m in self.messages if m["msg_type"] in types]

    @property
    def stdout(self) -> str:
        return "".join(
            m["content"]["text"] for m in self.of_type("stream") if m["content"]["name"] == "stdout"
        )

    @property
    def stderr(self) -> str:
        return "".join(
            m["content"]["text"] for m in self.of_type("stream") if m["content"]["name"] == "stderr"
        )

    @property
    def result(self) -> str | None:
        results = self.of_type("execute_result")
        return results[-1]["content"]["data"]["text/plain"] if results else None

    @property
    def displays(self) -> list[dict[str, Any]]:
        return [m["content"]["data"] for m in self.of_type("display_data")]

    def displays_ids(self) -> list[str]:
        """The display ids of the displays this cell made (tables have one each)."""
        return [
            m["content"]["transient"]["display_id"]
            for m in self.of_type("display_data")
            if (m["content"].get("transient") or {}).get("display_id")
        ]

    @property
    def status(self) -> str:
        assert self.reply is not None
        return str(self.reply["content"]["status"])

    def comm_messages(self) -> int:
        return len(self.of_type("comm_open", "comm_msg", "comm_close"))


class Kernel:
    """One kernel; every IOPub message is kept (``log``), whichever cell it belongs to."""

    def __init__(self, cwd: Path = ROOT) -> None:
        self.manager = KernelManager(kernel_name="python3")
        self.manager.start_kernel(cwd=str(cwd))
        self.client = self.manager.client()
        self.client.start_channels()
        self.client.wait_for_ready(timeout=60)
        self.log: list[Message] = []
        self.arrived: list[float] = []  # time.time() at which each message of log was read

    def execute(self, code: str, timeout: float = 60, wait: bool = True) -> Execution:
        """Run ``code``; return when the kernel is idle again and the reply has come."""
        start = time.monotonic()
        execution = Execution(code, self.client.execute(code))
        if not wait:
            return execution
        self.finish(execution, timeout)
        execution.seconds = time.monotonic() - start
        return execution

    def finish(self, execution: Execution, timeout: float = 60) -> Execution:
        msg_id = execution.msg_id
        self.read_until(
            lambda m: (
                m["parent_header"].get("msg_id") == msg_id
                and m["msg_type"] == "status"
                and m["content"]["execution_state"] == "idle"
            ),
            timeout,
        )
        execution.messages = [m for m in self.log if m["parent_header"].get("msg_id") == msg_id]
        deadline = time.monotonic() + timeout
        while execution.reply is None:
            reply = self.client.get_shell_msg(timeout=max(0.1, deadline - time.monotonic()))
            if reply["parent_header"].get("msg_id") == msg_id:
                execution.reply = reply
        return execution

    def read_until(self, predicate: Callable[[Message], bool], timeout: float = 30) -> Message:
        """Read IOPub into ``log`` until a message matches (already logged ones count)."""
        for message in self.log:
            if predicate(message):
                return message
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError("the expected IOPub message did not come")
            try:
                message = self.client.get_iopub_msg(timeout=remaining)
            except queue.Empty:
                continue
            self.log.append(message)
            self.arrived.append(time.time())
            if predicate(message):
                return message

    def value(self, expression: str) -> str:
        """The text/plain repr of ``expression`` evaluated in the kernel."""
        execution = self.execute(expression)
        assert execution.status == "ok", execution.stderr
        assert execution.result is not None, execution.messages
        return execution.result

    def shutdown(self) -> float:
        """Ask the kernel to shut down; how long it took to exit."""
        start = time.monotonic()
        self.client.stop_channels()
        self.manager.shutdown_kernel(now=False)
        return time.monotonic() - start


@contextmanager
def started(setup: str, cwd: Path = ROOT) -> Iterator[Kernel]:
    """A kernel that ran ``setup`` (asserted to succeed), shut down afterwards."""
    kernel = Kernel(cwd)
    try:
        done = kernel.execute(setup)
        assert done.status == "ok", done.stderr
        yield kernel
    finally:
        kernel.shutdown()
