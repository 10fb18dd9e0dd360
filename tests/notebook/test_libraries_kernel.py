"""Rich and logging inside a task, in a real kernel: where their text lands."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from .kernel_client import Kernel, started

pytestmark = pytest.mark.kernel
pytest.importorskip("rich")

SETUP = """
import logging
logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s")  # before the extension
%load_ext backgrounder
import threading, time, rich
go = threading.Event()
from rich.progress import track
log = logging.getLogger("demo")

def logs():
    log.info("info from the task")
    log.warning("warning from the task")

def rich_print():
    rich.print("[bold red]alert[/] plain")

def rich_track():
    go.wait(10)  # runs while the awaiting cell runs
    for _ in track(range(20), description="work"):
        time.sleep(0.01)
"""


@pytest.fixture(scope="module")
def kernel() -> Iterator[Kernel]:
    with started(SETUP) as kernel:
        yield kernel


def run(kernel: Kernel, name: str) -> tuple[str, list[str]]:
    """Run ``name`` as a task; its output, and the stream texts of the cell that started it."""
    start = kernel.execute(f"h = %background {name}")
    done = kernel.execute("await h\nprint(repr(h.work.output))")
    assert done.status == "ok", done.stderr
    started = [
        m["content"]["text"]
        for m in kernel.log
        if m["parent_header"].get("msg_id") == start.msg_id and m["msg_type"] == "stream"
    ]
    return done.stdout.strip().splitlines()[-1], started


def test_logging_lands_in_the_task_even_with_a_handler_made_before(kernel: Kernel) -> None:
    output, started = run(kernel, "logs")
    assert output == repr("INFO info from the task\nWARNING warning from the task\n")
    assert started == []


def test_rich_print_lands_in_the_task_with_its_colours(kernel: Kernel) -> None:
    output, started = run(kernel, "rich_print")
    assert output == repr("\x1b[1;31malert\x1b[0m plain\n")
    assert started == []


def test_rich_progress_stays_in_the_task(kernel: Kernel) -> None:
    start = kernel.execute("h = %background rich_track")
    done = kernel.execute("go.set()\nawait h\nprint('after')")
    assert done.stdout == "after\n", done.stdout  # no frames in the awaiting cell
    assert start.status == "ok"
    assert kernel.value("h.work.progress == (20, 20)") == "True"
    output = kernel.value("h.work.output")
    assert output.count("work") == 1 and "100%" in output  # its last frame
