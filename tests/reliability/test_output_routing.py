"""Output routing gaps (issue 13, item 13): threads a task starts, logging handlers made before
capture, and sub-tasks all print as the task they belong to; nothing is patched outside
capture, and what is patched during it is put back."""

from __future__ import annotations

import asyncio
import logging
import sys
import threading
from concurrent.futures import ThreadPoolExecutor

import anyio
import pytest
from capturing import captured

import backgrounder as bg

pytestmark = pytest.mark.anyio


def shout(text: str) -> str:
    print(text)
    return text


def chatty(x: int) -> int:
    print(f"working on {x}")
    print(f"warning about {x}", file=sys.stderr)
    return x + 1


def in_threads(name: str) -> list[str]:
    """A task body that starts a plain Thread and fans work out to a ThreadPoolExecutor."""
    thread = threading.Thread(target=shout, args=(f"{name}: from a thread",))
    thread.start()
    thread.join()
    with ThreadPoolExecutor(2) as pool:
        said = list(pool.map(shout, [f"{name}: pool {i}" for i in range(3)]))
    print(f"{name}: done", file=sys.stderr)
    return said


async def test_threads_a_task_starts_print_as_that_task(
    capsys: pytest.CaptureFixture[str],
) -> None:
    tasks = [bg.Task(in_threads, "a"), bg.Task(in_threads, "b")]
    group = bg.Tasks(tasks, as_group=True)
    with captured():
        print("outside")
        await group()
    for task, name in zip(tasks, "ab", strict=True):
        lines = sorted(task.output.splitlines())
        assert lines == sorted(
            [f"{name}: from a thread", *(f"{name}: pool {i}" for i in range(3)), f"{name}: done"]
        )
    out = capsys.readouterr()
    assert out.out == "outside\n" and out.err == ""


@pytest.mark.parametrize("anyio_backend", ["asyncio"])
async def test_run_in_executor_from_an_async_task_prints_as_it(
    capsys: pytest.CaptureFixture[str],
) -> None:
    async def in_executor() -> None:
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(None, shout, "from the default executor")

    task = bg.Task(in_executor)
    with captured():
        await task()
    assert task.output == "from the default executor\n"
    assert capsys.readouterr().out == ""


async def test_a_pool_made_inside_a_task_is_not_pinned_to_it(
    capsys: pytest.CaptureFixture[str],
) -> None:
    # ipykernel 6.29 pinned each thread to the cell that started it, and a pool's long-lived
    # workers to whichever cell first used the pool (ipykernel issue 1289): work belongs to
    # whoever submits it, not to whoever started the worker thread.
    pool = ThreadPoolExecutor(1)

    def first() -> None:
        pool.submit(shout, "first's work").result()

    def second() -> None:
        pool.submit(shout, "second's work").result()

    with captured():
        one, two = bg.Task(first), bg.Task(second)
        await one()
        await two()
        pool.submit(shout, "nobody's work").result()
    pool.shutdown()
    assert one.output == "first's work\n"
    assert two.output == "second's work\n"
    assert capsys.readouterr().out == "nobody's work\n"


async def test_a_thread_outliving_its_task_no_longer_writes_into_it(
    capsys: pytest.CaptureFixture[str],
) -> None:
    go, said = threading.Event(), threading.Event()

    def linger() -> None:
        print("while the task runs")
        go.wait(30)
        print("after the task ended")
        said.set()

    def leave_a_thread() -> None:
        threading.Thread(target=linger, daemon=True).start()

    with captured():
        task = bg.Task(leave_a_thread)
        await task()
        # its thread may not have printed its first line yet: both lines are checked below
        go.set()
        assert await anyio.to_thread.run_sync(said.wait, 30)
    out = capsys.readouterr().out
    assert "after the task ended\n" in out
    assert "after the task ended" not in task.output
    assert "while the task runs\n" in task.output + out


async def test_a_logging_handler_made_before_capture_is_routed(
    capsys: pytest.CaptureFixture[str],
) -> None:
    logger = logging.getLogger("backgrounder.tests.routing")
    handler = logging.StreamHandler(sys.stderr)  # holds today's sys.stderr, as basicConfig does
    original = handler.stream
    logger.addHandler(handler)
    logger.propagate = False
    try:

        def work(n: int) -> int:
            logger.warning("step %d", n)
            return n

        with captured():
            logger.warning("before")
            group = bg.Tasks([bg.Task(work, 1), bg.Task(work, 2)], as_group=True)
            await group()
            logger.warning("after")
        assert [t.output for t in group] == ["step 1\n", "step 2\n"]
        assert capsys.readouterr().err == "before\nafter\n"
        assert handler.stream is original  # put back by release_output()
    finally:
        logger.removeHandler(handler)
        logger.propagate = True


async def test_a_sub_tasks_output_is_seen_in_its_parents() -> None:
    def child(name: str) -> None:
        print(f"child {name}")

    async def middle() -> None:
        print("middle starts")
        await bg.Tasks([bg.Task(child, "x"), bg.Task(child, "y")], as_group=True, limit=1)()

    async def parent() -> None:
        print("parent starts")
        await bg.Task(middle)()
        print("parent ends")

    top = bg.Task(parent)
    with captured():
        await top()
    assert top.output == "parent starts\nmiddle starts\nchild x\nchild y\nparent ends\n"


@pytest.mark.parametrize("anyio_backend", ["asyncio"])
async def test_a_sub_task_in_a_worker_process_is_seen_in_its_parent() -> None:
    from backgrounder.executors import process_pool

    sub = bg.Task(chatty, 1).options(executor=process_pool(1))

    async def parent() -> int:
        print("sending")
        return int(await sub())

    top = bg.Task(parent)
    with captured():
        assert await top() == 2
    assert sub.output == "working on 1\nwarning about 1\n"
    assert top.output == "sending\nworking on 1\nwarning about 1\n"


def test_nothing_is_patched_outside_capture() -> None:
    start, submit = threading.Thread.start, ThreadPoolExecutor.submit
    stderr = sys.stderr
    bg.capture_output()
    bg.capture_output()
    assert threading.Thread.start is not start and ThreadPoolExecutor.submit is not submit
    bg.release_output()
    assert threading.Thread.start is not start  # one capture still on
    bg.release_output()
    assert threading.Thread.start is start and ThreadPoolExecutor.submit is submit
    assert sys.stderr is stderr


KERNEL_SETUP = """
import logging, threading
logging.basicConfig(level=logging.INFO, format="%(message)s", force=True)  # before %load_ext
log = logging.getLogger("routing-demo")
%load_ext backgrounder
import backgrounder
from concurrent.futures import ThreadPoolExecutor

go = threading.Event()

def work():
    def later():
        go.wait(60)
        print("thread line")
    thread = threading.Thread(target=later)
    thread.start()
    with ThreadPoolExecutor(2) as pool:
        list(pool.map(print, ["pool a", "pool b"]))
    log.info("logged line")
    thread.join()
    return "ok"

h = backgrounder.Task(work).start()
"""


@pytest.mark.kernel
def test_in_a_kernel_a_tasks_threads_and_logging_stay_out_of_later_cells() -> None:
    from .support import Kernel

    kernel = Kernel()
    try:
        reply, first = kernel.execute(KERNEL_SETUP)
        assert reply["content"]["status"] == "ok", first
        # The task's thread prints while this later cell runs: without routing, its line
        # would land here (a plain Thread falls back to the latest cell).
        reply, later = kernel.execute("go.set()\nprint(h.result(60))")
        assert reply["content"]["status"] == "ok", later
        streams = "".join(m["content"]["text"] for m in later if m["msg_type"] == "stream")
        assert streams == "ok\n"
        output = kernel.value("h.work.output")
        for line in ("thread line", "pool a", "pool b", "logged line"):
            assert line in output, output
        # text printed outside any task still reaches its cell, logging included
        reply, plain = kernel.execute("print('plain')\nlog.info('plain log')")
        streams = "".join(m["content"]["text"] for m in plain if m["msg_type"] == "stream")
        assert sorted(streams.split()) == ["log", "plain", "plain"]  # two streams: any order
    finally:
        kernel.close()


def test_a_handler_whose_stream_cannot_be_set_is_left_alone() -> None:
    class Fixed(logging.StreamHandler):  # type: ignore[type-arg]
        """A stream fixed at creation, behind a read-only property."""

        def __init__(self) -> None:
            logging.Handler.__init__(self)
            self.fixed = sys.stderr

        @property  # type: ignore[override]
        def stream(self) -> object:
            return self.fixed

    logger = logging.getLogger("backgrounder.tests.fixed")
    handler = Fixed()
    logger.addHandler(handler)
    try:
        bg.capture_output()  # neither raises nor breaks the handler
        bg.release_output()
        assert handler.stream is handler.fixed is sys.stderr
    finally:
        logger.removeHandler(handler)


def test_a_hook_put_on_ours_keeps_working_after_release() -> None:
    bg.capture_output()
    ours = threading.Thread.start

    def theirs(self: threading.Thread) -> None:  # e.g. a debugger's, put while capture is on
        ours(self)

    threading.Thread.start = theirs  # type: ignore[method-assign]
    try:
        bg.release_output()
        assert threading.Thread.start is theirs  # theirs is left in place...
        thread = threading.Thread(target=print, args=("still starts",))
        thread.start()  # ...and ours, under it, passes the call through
        thread.join()
    finally:
        threading.Thread.start = ours  # type: ignore[method-assign]
        bg.capture_output()  # ours again on top of the original: put it back
        bg.release_output()


async def test_the_librarys_own_threads_started_inside_a_task_carry_none(
    capsys: pytest.CaptureFixture[str],
) -> None:
    # The library starts its worker threads lazily: the first may start inside a task. A job
    # run in such a thread's own context (not a task's) prints as nobody's, even while the
    # task that happened to start the thread still runs.
    from backgrounder._threads import WorkerThreads

    pool = WorkerThreads(max_threads=1, name="backgrounder-test")
    started, done = threading.Event(), threading.Event()

    def job() -> None:
        print("a service job")
        done.set()

    def start_the_pool() -> None:
        pool.submit(started.set)  # the pool's thread starts here, inside this task
        done.wait(30)

    with captured():
        task = bg.Task(start_the_pool)
        handle = task.start()
        assert await anyio.to_thread.run_sync(started.wait, 30)
        pool.submit(job)  # from outside any task, while the task runs
        await handle
    assert task.output == ""
    assert capsys.readouterr().out == "a service job\n"
