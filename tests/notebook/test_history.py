"""``%tasks``'s memory of the session: every unfinished task, a bounded tail of the finished."""

from __future__ import annotations

import gc
import weakref
from collections.abc import Iterator

import pytest

from backgrounder import Task, Tasks
from backgrounder._errors import BaseExceptionGroup
from backgrounder.notebook.history import History
from backgrounder.notebook.magics import HistoryView

pytestmark = pytest.mark.anyio


def boom(i: int) -> None:
    raise ValueError(f"boom {i}")


def ok(i: int) -> int:
    return i


@pytest.fixture
def history() -> Iterator[History]:
    kept = History(keep_finished=5, keep_failed=3)
    kept.start()
    yield kept
    kept.stop()


async def test_finished_tasks_beyond_the_bound_are_forgotten_oldest_first(
    history: History,
) -> None:
    await Tasks([Task(ok, i) for i in range(12)])()  # one after another: ends in order
    kept = history.tasks()
    assert [task.args[0] for task in kept] == list(range(7, 12))  # the 5 most recent
    assert history.forgotten == 7
    text = HistoryView(history)._repr_mimebundle_()["text/plain"]
    assert "7 older finished tasks are no longer listed" in text


async def test_failures_are_kept_apart_so_many_successes_do_not_push_them_out(
    history: History,
) -> None:
    failing = Tasks([Task(boom, i) for i in range(2)], as_group=True)
    with pytest.raises(BaseExceptionGroup):
        await failing()
    await Tasks([Task(ok, i) for i in range(50)], as_group=True)()
    failed = [task for task in history.tasks() if task.state.value == "failed"]
    assert sorted(task.args[0] for task in failed) == [0, 1]
    assert len(history.tasks()) == 5 + 2


async def test_a_forgotten_task_and_its_result_are_freed(history: History) -> None:
    class Result:
        pass

    def make() -> Result:
        return Result()

    first = Task(make)
    await first()
    ref = weakref.ref(first.result)
    del first
    await Tasks([Task(ok, i) for i in range(5)], as_group=True)()
    gc.collect()
    assert ref() is None


async def test_unfinished_tasks_are_never_forgotten(history: History) -> None:
    import anyio

    release = anyio.Event()

    async def waits() -> None:
        await release.wait()

    waiting = [Task(waits) for _ in range(8)]
    handles = [task.start() for task in waiting]
    await Tasks([Task(ok, i) for i in range(20)], as_group=True)()
    ids = {task.id for task in history.tasks()}
    assert all(task.id in ids for task in waiting)
    release.set()
    for handle in handles:
        await handle


async def test_clear_forgets_the_finished_and_the_bound_starts_again(history: History) -> None:
    await Tasks([Task(ok, i) for i in range(4)], as_group=True)()
    assert history.clear() == 4
    await Tasks([Task(ok, i) for i in range(5)], as_group=True)()
    assert len(history.tasks()) == 5
    assert history.forgotten == 0
