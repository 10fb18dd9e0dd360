"""Rich's live displays inside tasks: written to the task as to a file, feeding its progress."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterator

import pytest

import backgrounder
from backgrounder import Task
from backgrounder.notebook import rich_live

from .conftest import Frontend

pytest.importorskip("rich")
from rich.console import Console
from rich.progress import Progress, track

pytestmark = pytest.mark.anyio


@pytest.fixture
def installed() -> Iterator[None]:
    import rich.live  # noqa: F401

    assert rich_live.install() and rich_live.install()
    try:
        yield
    finally:
        rich_live.uninstall()
    assert not rich_live.patched()


def jupyter_console() -> Console:
    """What Rich's console is in a kernel while a cell runs."""
    return Console(force_jupyter=True, color_system="truecolor", width=80)


def terminal_console() -> Console:
    """What it is there between cells (FORCE_COLOR=1 and no get_ipython builtin)."""
    return Console(force_terminal=True, color_system="truecolor", width=80)


@pytest.mark.parametrize("make", [jupyter_console, terminal_console])
async def test_a_progress_in_a_task_writes_its_last_frame_and_feeds_the_task(
    make: Callable[[], Console], frontend: Frontend, installed: None
) -> None:
    streams: list[object] = []

    def work() -> None:
        with Progress(console=make(), refresh_per_second=50) as progress:
            job = progress.add_task("download", total=20)
            for _ in range(20):
                streams.append(sys.stdout)
                progress.advance(job)
                time.sleep(0.002)

    task = Task(work)
    backgrounder.capture_output()
    try:
        await task()
    finally:
        backgrounder.release_output()
    assert task.progress == (20, 20)
    assert "download" in task.output and "100%" in task.output
    assert task.output.count("download") == 1  # the last frame only
    assert frontend.opened == 0  # no ipywidgets Output
    assert not any(type(s).__name__ == "FileProxy" for s in streams)  # stdout never swapped


async def test_track_in_a_task(frontend: Frontend, installed: None) -> None:
    def work() -> int:
        return sum(track(range(10), description="sum", console=jupyter_console()))

    task = Task(work)
    backgrounder.capture_output()
    try:
        await task()
    finally:
        backgrounder.release_output()
    assert task.result == 45 and task.progress == (10, 10) and "sum" in task.output


async def test_on_a_plain_console_the_progress_still_feeds_the_task(installed: None) -> None:
    console = Console(force_jupyter=False, force_terminal=False, width=60)

    def work() -> int:
        return sum(track(range(10), description="sum", console=console))

    task = Task(work)
    await task()
    assert task.progress == (10, 10)


def test_outside_tasks_a_live_display_is_untouched(installed: None) -> None:
    console = Console(force_jupyter=False, force_terminal=False, width=60)
    with Progress(console=console) as progress:
        assert progress.live.console is console
