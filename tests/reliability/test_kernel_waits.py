"""In a real kernel: a sync cell waiting for work started in an earlier cell."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from .support import Kernel

pytestmark = pytest.mark.kernel


@pytest.fixture
def kernel() -> Iterator[Kernel]:
    started = Kernel()
    yield started
    started.close()


def test_result_with_a_timeout_in_a_later_sync_cell_raises_timeout_error(kernel: Kernel) -> None:
    """Issue 13, item 1: ``h.result(timeout=0.5)`` answered None while the work ran."""
    kernel.execute(
        "import asyncio\n"
        "from backgrounder import Task\n"
        "release = asyncio.Event()\n"
        "async def slow():\n"
        "    await release.wait()\n"
        "    return 'finished'\n"
        "h = Task(slow).start()\n"
    )
    outcome = kernel.value(
        "outcomes = []\n"
        "for wait in (h.result, h.exception):\n"
        "    try:\n"
        "        outcomes.append(repr(wait(timeout=0.5)))\n"
        "    except TimeoutError as exc:\n"
        "        outcomes.append(type(exc).__name__)\n"
        "outcomes, h.done()"
    )
    assert outcome == "(['TimeoutError', 'TimeoutError'], False)"
    kernel.execute("release.set()")
    assert kernel.value("h.result(timeout=10), h.exception(timeout=10)") == "('finished', None)"
