"""In a real kernel (jupyter_client): a chatty task leaves the kernel responsive; shutdown and
restart with threads, async tasks and process-pool work exit promptly, run ``finally`` blocks
and leave no orphan process."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from .support import Kernel, alive, children, scaled, wait_until

pytestmark = pytest.mark.kernel

SETUP = """
%load_ext backgrounder
import asyncio, os, time
import backgrounder
from backgrounder.executors import process_pool

MARKERS = {markers!r}

def mark(name):
    with open(os.path.join(MARKERS, name), "w") as f:
        f.write("finally ran")

def cooperative(name):
    try:
        while not backgrounder.cancelled():
            time.sleep(0.02)
    finally:
        mark(name)

async def forever(name):
    try:
        await asyncio.sleep(3600)
    finally:
        mark(name)

def remote_sleep():
    import time
    time.sleep(3600)

h_thread = %background cooperative 'thread'
h_async = %background forever 'async'
h_remote = backgrounder.Task(remote_sleep).options(executor=process_pool(1)).start()
group = backgrounder.Tasks(
    [backgrounder.Task(cooperative, 'group-thread'), backgrounder.Task(forever, 'group-async')],
    as_group=True,
)
h_group = group.start()
await asyncio.sleep(0.5)
[h.state.value for h in (h_thread, h_async, h_remote, h_group)]
"""
MARKS = {"thread", "async", "group-thread", "group-async"}


@pytest.fixture
def kernel() -> Iterator[Kernel]:
    kernel = Kernel()
    yield kernel
    kernel.close()


def start_work(kernel: Kernel, markers: Path) -> set[int]:
    states = kernel.value(SETUP.format(markers=str(markers)))
    assert states == "['running', 'running', 'running', 'running']", states
    assert wait_until(lambda: children(kernel.pid), 10), "the process pool did not start"
    return children(kernel.pid)


def test_shutdown_with_running_work_is_prompt_runs_finally_and_leaves_no_orphans(
    kernel: Kernel, tmp_path: Path
) -> None:
    pids = start_work(kernel, tmp_path)
    process = kernel.manager.provisioner.process  # type: ignore[union-attr]
    start = time.monotonic()
    kernel.client.shutdown()
    process.wait(timeout=30)  # a hang guard; how long exit takes is measured, not asserted
    seconds = time.monotonic() - start
    assert process.returncode == 0  # it exited by itself, not killed by jupyter_client
    assert {p.name for p in tmp_path.iterdir()} == MARKS, f"exit took {seconds:.1f} s"
    assert wait_until(lambda: not any(alive(pid) for pid in pids), 10), [
        pid for pid in pids if alive(pid)
    ]


def test_restart_with_running_work_runs_finally_and_leaves_no_orphans(
    kernel: Kernel, tmp_path: Path
) -> None:
    old_pid = kernel.pid
    pids = start_work(kernel, tmp_path)
    old = kernel.manager.provisioner.process  # type: ignore[union-attr]
    # jupyter_client kills a kernel that takes longer than this to exit (default 5 s): on a
    # busy 2-core machine, let slowness be slowness; what is asserted is that it exited by
    # itself (its finally blocks ran), not that it was fast
    kernel.manager.shutdown_wait_time = 30
    start = time.monotonic()
    kernel.manager.restart_kernel(now=False)
    kernel.client.wait_for_ready(timeout=60)
    seconds = time.monotonic() - start
    assert not alive(old_pid)
    assert old.returncode == 0, f"killed after {seconds:.1f} s instead of exiting by itself"
    assert {p.name for p in tmp_path.iterdir()} == MARKS, f"restart took {seconds:.1f} s"
    assert wait_until(lambda: not any(alive(pid) for pid in pids), 10)
    assert kernel.value("1 + 1") == "2"  # the new kernel answers


@pytest.mark.heavy
def test_a_chatty_task_keeps_its_tail_and_the_kernel_stays_responsive(kernel: Kernel) -> None:
    lines = scaled(10, 100) * 1_000  # 10 MB (100 MB under make test-heavy) in 1,000-char lines
    kernel.value(
        "%load_ext backgrounder\n"
        "def chatty(n):\n"
        "    line = 'x' * 999 + '\\n'\n"
        "    for i in range(n):\n"
        "        print(line, end='')\n"
        "    return 'said it all'\n"
        f"h = %background chatty {lines}\n"
        "h.state.value"
    )
    slowest = 0.0
    rounds = 0
    while True:
        start = time.monotonic()
        state = kernel.value("h.state.value")
        slowest = max(slowest, time.monotonic() - start)
        rounds += 1
        if state != "'running'":
            break
    assert state == "'done'"
    assert slowest < 5, f"a trivial cell took {slowest:.1f} s while the task printed"
    reply, messages = kernel.execute(
        "await h\nprint(len(h.work.output), h.work.output_dropped, h.work.result)"
    )
    assert reply["content"]["status"] == "ok"
    out = "".join(m["content"]["text"] for m in messages if m["msg_type"] == "stream")
    assert out.split() == ["100000", str(lines * 1_000 - 100_000), "said", "it", "all"]
