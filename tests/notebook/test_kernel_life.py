"""In real kernels: a table's life after its work, and what it leaves behind."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from .kernel_client import WIDGET, Kernel, started

pytestmark = pytest.mark.kernel

HEAVY = os.environ.get("BACKGROUNDER_HEAVY") == "1"

PLAIN = """
import asyncio, gc, json, os, threading, time, weakref
import backgrounder
from backgrounder import Task, Tasks
from ipywidgets.widgets.widget import _instances

gate = threading.Event()

def wait_gate(x):
    gate.wait(30)
    return x

async def tiny(i):
    await asyncio.sleep(0)
    return i

def rss():
    with open(f"/proc/{os.getpid()}/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
"""
SETUP = "%load_ext backgrounder\n" + PLAIN


@pytest.fixture(scope="module")
def kernel() -> Iterator[Kernel]:
    with started(SETUP) as kernel:
        yield kernel


def _final_updates(kernel: Kernel, display_id: str) -> list[dict[str, str]]:
    return [
        m["content"]["data"]
        for m in kernel.log
        if m["msg_type"] == "update_display_data"
        and m["content"]["transient"]["display_id"] == display_id
    ]


def test_an_awaited_group_is_static_before_the_cells_reply(kernel: Kernel) -> None:
    before = kernel.value("len(_instances)")
    execution = kernel.execute(
        "g = Tasks([Task(tiny, i) for i in range(20)], as_group=True, name='awaited')\n"
        "_ = await g()"
    )
    updates = [m for m in execution.messages if m["msg_type"] == "update_display_data"]
    assert updates, "the final table came after the cell's end"
    final = updates[-1]["content"]["data"]
    assert WIDGET not in final and "20 done" in final["text/plain"]
    assert kernel.value("len(_instances)") == before  # its widgets closed with the cell


def test_a_background_row_that_ends_later_turns_static(kernel: Kernel) -> None:
    execution = kernel.execute("gate.clear()\nh = %background wait_gate 5")
    display_id = execution.displays_ids()[0]
    assert WIDGET in execution.displays[0]
    kernel.execute("gate.set()")
    kernel.read_until(
        lambda m: (
            m["msg_type"] == "update_display_data"
            and m["content"]["transient"]["display_id"] == display_id
        )
    )
    final = _final_updates(kernel, display_id)[-1]
    assert WIDGET not in final and "1 done" in final["text/plain"]
    assert 'data-state="done"' in final["text/html"]


def test_a_sync_task_started_alone_shows_its_row_like_an_async_one(kernel: Kernel) -> None:
    execution = kernel.execute(
        "gate.clear()\n"
        "h = Task(wait_gate, 3).start()\n"
        "threading.Timer(0.2, gate.set).start()\n"
        "print(await h)"
    )
    assert execution.stdout == "3\n"
    tables = [data for data in execution.displays if "wait_gate" in data.get("text/plain", "")]
    assert len(tables) == 1, execution.displays
    display_id = execution.displays_ids()[0]
    final = (_final_updates(kernel, display_id) or [tables[0]])[-1]
    assert WIDGET not in final and "1 done" in final["text/plain"]


def test_del_and_tasks_clear_release_the_results(kernel: Kernel) -> None:
    # ten 20 MB results, each from its own %background line, then let go of everything
    lines = ["gc.collect(); before = rss()"]
    lines += [f"h{i} = %background bytearray 20_000_000" for i in range(10)]
    lines += ["hs = [h0, h1, h2, h3, h4, h5, h6, h7, h8, h9]", "_ = [h.result(30) for h in hs]"]
    lines += ["refs = [weakref.ref(h.work) for h in hs]"]
    assert kernel.execute("\n".join(lines)).status == "ok"
    kernel.execute("del hs, h, _, h0, h1, h2, h3, h4, h5, h6, h7, h8, h9")
    kernel.execute("%tasks clear")
    alive = kernel.value("gc.collect(); sum(r() is not None for r in refs)")
    assert alive == "0", f"{alive} tasks (and their results) are still alive"
    grown = int(kernel.value("rss() - before"))
    assert grown < 60_000_000, f"RSS grew {grown / 1e6:.0f} MB"


def _groups_memory(kernel: Kernel, groups: int, clear: str = "") -> tuple[int, list[int]]:
    """RSS growth over ``groups`` groups of 1,000 tasks, and the open widgets after each.

    ``clear`` runs after each group: ``%tasks clear`` (the history keeps every task until
    told to forget the finished ones).
    """
    kernel.execute(
        "async def tiny(i):\n    return i\n"
        "gc.collect(); start = rss()\n"
        "def widgets():\n"
        "    try:\n"
        "        from ipywidgets.widgets.widget import _instances\n"
        "    except ImportError:\n"
        "        return 0\n"
        "    return len(_instances)\n"
    )
    opened = []
    for _ in range(groups):  # the widgets open after each group's cell, read in the next
        execution = kernel.execute(
            "print(widgets())\n"
            "_ = await Tasks([Task(tiny, i) for i in range(1000)], as_group=True)()"
        )
        if clear:
            kernel.execute(clear)
        assert execution.status == "ok", execution.stderr
        opened.append(int(execution.stdout.strip()))
    opened = [*opened[1:], int(kernel.value("widgets()"))]
    growth = int(kernel.value("gc.collect(); rss() - start"))
    return growth, opened


def test_a_hundred_groups_leave_no_widget_and_little_memory() -> None:
    groups = 100 if HEAVY else 25
    plain = Kernel()
    try:
        assert plain.execute(PLAIN).status == "ok"
        base, _ = _groups_memory(plain, groups)
    finally:
        plain.shutdown()
    extended = Kernel()
    try:
        assert extended.execute(SETUP).status == "ok"
        before = int(extended.value("len(_instances)"))
        growth, opened = _groups_memory(extended, groups, clear="%tasks clear")
    finally:
        extended.shutdown()
    assert set(opened) == {before}, opened  # every table's widgets closed as its group ended
    print(f"RSS growth: {growth / 1e6:.1f} MB with the extension, {base / 1e6:.1f} MB without")
    assert growth <= 2 * max(base, 0) + 10_000_000, (growth, base)


@pytest.mark.parametrize("restart", [False, True], ids=["shutdown", "restart"])
def test_a_stopping_kernel_turns_running_tables_static_and_says_so(restart: bool) -> None:
    kernel = Kernel()
    try:
        assert kernel.execute(SETUP).status == "ok"
        execution = kernel.execute(
            "async def forever():\n    await asyncio.sleep(3600)\n"
            "g = Tasks([Task(forever), Task(wait_gate, 1)], as_group=True, name='stopped')\n"
            "handle = g.start()\n"
            "h = %background forever"
        )
        ids = execution.displays_ids()
        assert len(ids) == 2 and all(WIDGET in data for data in execution.displays)
        kernel.client.shutdown(restart=restart)
        for display_id in ids:
            kernel.read_until(
                lambda m, display_id=display_id: (
                    m["msg_type"] == "update_display_data"
                    and m["content"]["transient"]["display_id"] == display_id
                    and "kernel stopped" in m["content"]["data"]["text/plain"]
                ),
                timeout=20,
            )
        for display_id in ids:
            final = _final_updates(kernel, display_id)[-1]
            assert WIDGET not in final and "cancelled" in final["text/plain"]
    finally:
        kernel.client.stop_channels()
        kernel.manager.shutdown_kernel(now=True)
