"""Faults crossing the process boundary: a value that pickles on the worker but cannot be
rebuilt here fails its own task only; output cut on the worker is counted, as on threads."""

from __future__ import annotations

import multiprocessing
import pickle
import sys
import uuid
from collections.abc import Iterator
from concurrent.futures import Executor, ProcessPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from capturing import captured
from executor_work import (
    CardDeclined,
    Frame,
    declined,
    double,
    fan_out,
    flood,
    flood_text,
    frame,
    from_elsewhere,
    locked,
    unloadable,
)

import backgrounder as bg
from backgrounder._output import OUTPUT_LIMIT
from backgrounder.executors import RemoteError, close_process_pool, process_pool

if sys.version_info < (3, 11):  # pragma: no cover
    from exceptiongroup import ExceptionGroup

pytestmark = pytest.mark.anyio
REMOTE = ["process pool", "stdlib processes", "dask"]


@pytest.fixture(scope="module")
def executors(request: pytest.FixtureRequest) -> Iterator[dict[str, Any]]:
    stdlib = ProcessPoolExecutor(2, mp_context=multiprocessing.get_context("forkserver"))
    found: dict[str, Any] = {
        "threads": None,
        "process pool": process_pool(2),
        "stdlib processes": stdlib,
    }
    try:
        found["dask"] = request.getfixturevalue("client")  # see conftest.py
    except pytest.skip.Exception:  # pragma: no cover - the dask extra is not installed
        pass
    yield found
    stdlib.shutdown()
    close_process_pool()


def executor(executors: dict[str, Any], where: str) -> Executor | None:
    if where not in executors:
        pytest.skip("distributed is not installed")
    return executors[where]  # type: ignore[no-any-return]


@pytest.mark.parametrize("where", REMOTE)
async def test_a_value_that_cannot_be_rebuilt_fails_its_own_task_only(
    executors: dict[str, Any], where: str
) -> None:
    pool = executor(executors, where)
    tasks = [bg.Task(declined, 7), bg.Task(unloadable, 8), bg.Task(locked, 9)]
    siblings = [bg.Task(double, i) for i in range(6)]
    group = bg.Tasks([*tasks, *siblings], as_group=True, executor=pool)
    with captured(), pytest.raises(ExceptionGroup) as caught:
        await group()
    assert len(caught.value.exceptions) == 3
    # The siblings are untouched...
    assert [t.state for t in siblings] == [bg.TaskState.DONE] * 6
    assert [t.result for t in siblings] == [0, 2, 4, 6, 8, 10]
    card, result, lock = tasks
    # ...an exception whose __init__ takes two arguments comes back as itself, with its
    # message, its attributes and the worker's traceback...
    assert type(card.exception) is CardDeclined
    assert str(card.exception) == "card declined (code 7)"
    assert card.exception.code == 7
    assert card.traceback is not None
    assert "in declined" in card.traceback and "raise CardDeclined" in card.traceback
    assert "declined(7)" in card.traceback  # the note names the task
    assert card.output == "charging 7\n"
    # ...a result that does not unpickle fails its task with a message naming it...
    assert isinstance(result.exception, TypeError)
    message = str(result.exception)
    assert message.startswith("the result of unloadable(8) (executor_work.Unloadable)")
    assert "this object refuses to be rebuilt" in message and "\n" not in message
    assert result.output == "building 8\n"
    # ...and an exception that does not pickle at all is described: type, message, traceback.
    assert isinstance(lock.exception, RemoteError)
    assert lock.exception.type_name == "executor_work.LockedError"
    assert lock.exception.message == "stuck on 9"
    assert str(lock.exception).startswith("locked(9) raised executor_work.LockedError: stuck on 9")
    assert "in locked" in lock.exception.traceback
    assert lock.traceback is not None and 'raise LockedError(f"stuck on {x}")' in lock.traceback
    assert lock.output == "locking 9\n"
    copy = pickle.loads(pickle.dumps(lock.exception))  # the description itself travels
    assert str(copy) == str(lock.exception) and copy.traceback == lock.exception.traceback
    # The pool the user holds still works, for the library and directly.
    assert await bg.Task(double, 21).options(executor=pool)() == 42
    if where != "dask":
        assert pool.submit(double, 4).result(timeout=60) == 8  # type: ignore[union-attr]
    if where == "process pool":
        assert process_pool() is pool


@pytest.mark.parametrize("where", REMOTE)
async def test_a_class_found_on_the_worker_only_fails_its_task_only(
    executors: dict[str, Any], where: str, tmp_path: Path
) -> None:
    # Common with a cluster: a module installed on the workers, not in the notebook.
    module = f"only_on_workers_{uuid.uuid4().hex}"
    (tmp_path / f"{module}.py").write_text("class Elsewhere(Exception):\n    pass\n")
    pool = executor(executors, where)
    raised = bg.Task(from_elsewhere, str(tmp_path), module, True)
    returned = bg.Task(from_elsewhere, str(tmp_path), module, False)
    group = bg.Tasks([raised, returned, bg.Task(double, 1)], as_group=True, executor=pool)
    with captured(), pytest.raises(ExceptionGroup):
        await group()
    assert isinstance(raised.exception, RemoteError)
    assert raised.exception.type_name == f"{module}.Elsewhere"
    assert raised.exception.message == "from afar"
    assert "No module named" in str(raised.exception)
    assert raised.output == "elsewhere True\n"
    assert isinstance(returned.exception, TypeError)
    assert f"({module}.Elsewhere) was pickled on the worker" in str(returned.exception)
    assert returned.output == "elsewhere False\n"
    assert group.tasks[2].result == 2
    assert await bg.Task(double, 5).options(executor=pool)() == 10


@pytest.mark.parametrize("where", REMOTE)
async def test_results_with_out_of_band_buffers_come_back_whole(
    executors: dict[str, Any], where: str
) -> None:
    # NumPy arrays and pandas frames pickle their data out of band (protocol 5).
    task = bg.Task(frame, 1_000_000).options(executor=executor(executors, where))
    result = await task()
    assert type(result) is Frame and result == b"ab" * 1_000_000


@pytest.mark.parametrize("where", ["threads", *REMOTE])
async def test_output_cut_on_a_worker_is_counted_as_on_threads(
    executors: dict[str, Any], where: str
) -> None:
    lines = 81_250  # 650,000 characters
    task = bg.Task(flood, lines).options(executor=executor(executors, where))
    with captured():
        assert await task() == lines
    full = flood_text(lines)
    assert task.output == full[-OUTPUT_LIMIT:]
    assert task.output_dropped == len(full) - OUTPUT_LIMIT == 550_000


@pytest.mark.parametrize("where", ["threads", *REMOTE])
async def test_threads_a_call_starts_print_as_its_task(
    executors: dict[str, Any], where: str
) -> None:
    task = bg.Task(fan_out, 5).options(executor=executor(executors, where))
    with captured():
        assert await task() == 5
    assert sorted(task.output.splitlines()) == ["pool 5.0", "pool 5.1", "thread of 5"]


async def test_without_capture_a_worker_says_what_it_dropped(
    executors: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    task = bg.Task(flood, 20_000).options(executor=executors["process pool"])
    await task()
    out, err = capsys.readouterr()
    dropped = len(flood_text(20_000)) - OUTPUT_LIMIT
    assert err.startswith(f"[{dropped} earlier characters of output from flood(20000) dropped]\n")
    assert len(out) + len(err.split("\n", 1)[1]) == OUTPUT_LIMIT
