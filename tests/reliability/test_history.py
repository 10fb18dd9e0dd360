"""Nothing lost: every task started while the extension is loaded can be found in the
``%tasks`` history, with its state and its result or error, until the user clears it (of
the finished ones, the last 1,000 and apart the last 1,000 failures; a line says how many
older ones it forgot)."""

from __future__ import annotations

import asyncio
import re
import threading
from collections.abc import Iterator
from typing import Any

import pytest

import backgrounder
from backgrounder import Task, TaskCancelled, Tasks, TaskState
from backgrounder._errors import ExceptionGroup


def double(x: int) -> int:
    return 2 * x


async def async_double(x: int) -> int:
    await asyncio.sleep(0)
    return 2 * x


def explode(x: int) -> None:
    raise ValueError(f"exploded {x}")


@pytest.fixture
def shell(capsys: pytest.CaptureFixture[str]) -> Iterator[Any]:
    from IPython.core.getipython import get_ipython
    from IPython.testing.globalipapp import start_ipython

    ip = start_ipython() or get_ipython()
    assert ip is not None
    ip.run_line_magic("load_ext", "backgrounder")
    ip.user_ns.update(double=double, explode=explode)
    yield ip
    ip.run_line_magic("unload_ext", "backgrounder")


def magics(shell: Any) -> Any:
    return shell.magics_manager.registry["BackgroundMagics"]


def listing(shell: Any, capsys: pytest.CaptureFixture[str]) -> str:
    capsys.readouterr()
    magics(shell).tasks("")
    return capsys.readouterr().out


def test_every_task_started_any_way_is_in_the_history(
    shell: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    started: list[Task] = []
    # Task.start() from sync code (the library's loop thread)
    handles = [Task(double, i).start() for i in range(5)]
    started += [h.work for h in handles]  # type: ignore[misc]
    # @background
    decorated = backgrounder.background(explode)
    handles.append(decorated(7))
    started.append(handles[-1].work)  # type: ignore[arg-type]
    # %background
    handles.append(magics(shell).background("double 21"))
    started.append(handles[-1].work)  # type: ignore[arg-type]
    # a group awaited on another loop, and one started from other threads
    group = Tasks([Task(async_double, i) for i in range(10)], as_group=True)
    assert asyncio.run(group()) == [2 * i for i in range(10)]
    started += group.tasks
    from_threads: list[Task] = []
    lock = threading.Lock()

    def start_some() -> None:
        for i in range(10):
            task = Task(double, i)
            task.start(thread_loop=True).result(timeout=30)
            with lock:
                from_threads.append(task)

    workers = [threading.Thread(target=start_some) for _ in range(4)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    started += from_threads
    # a cancelled one
    cancelled = Task(asyncio.sleep, 3600)
    handle = cancelled.start()
    handle.cancel()
    with pytest.raises(TaskCancelled):
        handle.result(timeout=10)
    started.append(cancelled)
    for h in handles:
        h.exception(timeout=10)

    history = magics(shell).history
    for task in started:
        assert history.get(task.id) is task, task
        assert task.state.finished
    assert started[5].state is TaskState.FAILED
    assert "exploded 7" in str(history.get(started[5].id).exception)
    assert history.get(started[6].id).result == 42
    assert cancelled.state is TaskState.CANCELLED

    text = listing(shell, capsys)
    for task in [*started[:7], cancelled]:
        assert re.search(rf"#{task.id}\b", text), (task, text)
    assert "ValueError: exploded 7" in text


def test_a_big_history_keeps_every_failure_and_says_what_it_forgot(
    shell: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    from backgrounder.notebook.history import KEEP_FINISHED

    n = 5_000
    group = Tasks([Task(double if i % 100 else explode, i) for i in range(n)], as_group=True)
    with pytest.raises(ExceptionGroup):
        asyncio.run(group())
    history = magics(shell).history
    failed = [task for task in group if task.state is TaskState.FAILED]
    assert len(failed) == 50
    assert all(history.get(task.id) is task for task in failed)  # failures are kept apart
    kept_done = [task for task in group if history.get(task.id) is task]
    assert len(kept_done) == KEEP_FINISHED + len(failed)
    forgotten = n - len(kept_done)
    text = listing(shell, capsys)
    assert f"{forgotten} older finished tasks are no longer listed" in text
    for task in failed:  # the failures are listed first
        assert re.search(rf"#{task.id}\b.*exploded {task.args[0]}", text)


def test_clearing_forgets_finished_tasks_only(
    shell: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    release = threading.Event()
    began = threading.Event()

    def waits() -> str:
        began.set()
        release.wait(30)
        return "finished later"

    finished = Task(double, 1)
    finished.start().result(timeout=10)
    running = Task(waits)
    handle = running.start()
    # start() returns before the run begins on the loop thread; from then on it is listed
    assert began.wait(10)
    history = magics(shell).history
    capsys.readouterr()
    magics(shell).tasks("clear")
    assert "forgot" in capsys.readouterr().out
    assert history.get(finished.id) is None
    assert history.get(running.id) is running
    release.set()
    assert handle.result(timeout=10) == "finished later"
    assert re.search(rf"#{running.id}\b.*finished later", listing(shell, capsys))
