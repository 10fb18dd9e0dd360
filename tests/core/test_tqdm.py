"""tqdm inside a task: the bar sets the task's progress and leaves no frames in its output;
tqdm outside tasks is untouched."""

from __future__ import annotations

import sys
import threading
from typing import Any

import pytest
from capturing import captured

from backgrounder import EventKind, Task, TaskEvent, Tasks
from backgrounder._tqdm import bar_status

tqdm_std = pytest.importorskip("tqdm")
from tqdm import tqdm, trange  # noqa: E402
from tqdm.asyncio import tqdm as tqdm_asyncio  # noqa: E402
from tqdm.auto import tqdm as tqdm_auto  # noqa: E402

pytestmark = pytest.mark.anyio


async def run(func: Any, *args: Any) -> tuple[Task, list[tuple[float, float | None]]]:
    """Run ``func`` as a task with output capture on; its task and every progress it set."""
    seen: list[tuple[float, float | None]] = []

    def on_event(event: TaskEvent) -> None:
        if event.kind is EventKind.PROGRESS:
            seen.append(event.data)

    tasks = Tasks([Task(func, *args)], as_group=True)
    tasks.subscribe(on_event)
    with captured():
        await tasks()
    return tasks.tasks[0], seen


@pytest.mark.parametrize(
    "make", [tqdm, tqdm_auto, tqdm_asyncio], ids=["tqdm", "tqdm.auto", "tqdm.asyncio"]
)
async def test_a_bar_sets_the_progress_and_leaves_one_line(make: Any) -> None:
    def loop() -> int:
        total = 0
        for i in make(range(300), desc="load", mininterval=0):
            total += i
        return total

    task, seen = await run(loop)
    assert task.result == sum(range(300))
    assert task.progress == (300, 300)
    # every frame set the progress (mininterval=0 draws each step), in order
    assert seen[0] == (0, 300) and len(seen) == 301
    assert [done for done, _ in seen] == sorted(done for done, _ in seen)
    # no frames: the bar's last line, once, as a terminal keeps it
    assert "\r" not in task.output
    assert task.output.startswith("load: 100%|") and task.output.count("\n") == 1
    assert "300/300" in task.output
    status = bar_status(task)
    assert status is not None
    assert (status.n, status.total, status.desc, status.unit, status.open) == (
        300,
        300,
        "load",
        "it",
        False,
    )


async def test_trange_and_manual_updates() -> None:
    def loop() -> None:
        for _ in trange(5, mininterval=0):
            pass
        with tqdm(total=1000, unit="B", unit_scale=True, mininterval=0, leave=False) as bar:
            for _ in range(4):
                bar.update(250)

    task, seen = await run(loop)
    assert task.output.startswith("100%|") and task.output.count("\n") == 1  # leave=False
    assert (5, 5) in seen and seen[-1] == (1000, 1000)
    assert "\r" not in task.output


async def test_an_async_task_with_async_for() -> None:
    async def numbers() -> Any:
        for i in range(50):
            yield i

    async def loop() -> int:
        return sum([i async for i in tqdm_asyncio(numbers(), total=50, mininterval=0)])

    task, _ = await run(loop)
    assert task.result == sum(range(50))
    assert task.progress == (50, 50)
    assert "\r" not in task.output


async def test_nested_bars_the_outer_one_feeds_the_task() -> None:
    def loop() -> None:
        for _ in trange(3, desc="epochs", mininterval=0):
            for _ in trange(100, desc="batches", leave=False, mininterval=0):
                pass

    task, seen = await run(loop)
    assert {total for _, total in seen} == {3}
    assert [done for done, _ in seen] == [0, 1, 2, 3]
    assert task.output.startswith("epochs: 100%|") and task.output.count("\n") == 1
    assert "\r" not in task.output and "\x1b" not in task.output
    status = bar_status(task)
    assert status is not None and status.desc == "epochs"


async def test_bars_one_after_another_each_feed_the_task() -> None:
    def loop() -> None:
        for epoch in range(2):
            for _ in tqdm(range(10 * (epoch + 1)), desc=f"epoch {epoch}", mininterval=0):
                pass

    task, seen = await run(loop)
    assert (10, 10) in seen and seen[-1] == (20, 20)
    lines = task.output.splitlines()
    assert [line.split(":")[0] for line in lines] == ["epoch 0", "epoch 1"]


async def test_prints_and_tqdm_write_inside_a_loop_stay_in_the_output() -> None:
    def loop() -> None:
        for i in tqdm(range(3), mininterval=0, leave=False):
            print(f"step {i}")
            tqdm.write(f"note {i}")

    task, _ = await run(loop)
    assert task.output == "step 0\nnote 0\nstep 1\nnote 1\nstep 2\nnote 2\n"


async def test_a_bar_refreshed_from_another_thread_still_belongs_to_its_task(
    capsys: pytest.CaptureFixture[str],
) -> None:
    # tqdm's monitor thread refreshes slow bars from outside the task's context
    made: list[Any] = []

    def loop() -> None:
        bar = tqdm(total=10, mininterval=0)
        made.append(bar)
        bar.update(3)
        other = threading.Thread(target=bar.refresh)
        other.start()
        other.join()
        bar.update(7)
        bar.close()

    task, seen = await run(loop)
    assert "\r" not in task.output and seen[-1] == (10, 10)
    assert "\r" not in capsys.readouterr().err  # nothing leaked to the real stderr


async def test_bars_outside_tasks_are_untouched(capsys: pytest.CaptureFixture[str]) -> None:
    with captured():
        for _ in tqdm(range(3), mininterval=0, desc="cell"):
            pass
    err = capsys.readouterr().err
    assert err.count("\rcell:") == 5 and err.endswith("3/3 [" + err.split("3/3 [")[-1])


async def test_a_bar_made_outside_and_updated_by_a_task_stays_outside(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with captured():
        shared = tqdm(total=4, desc="shared", mininterval=0)

        def step() -> None:
            shared.update(2)
            print("worked")

        tasks = Tasks([Task(step), Task(step)], as_group=True)
        await tasks()
        shared.close()
    assert [t.output for t in tasks.tasks] == ["worked\n", "worked\n"]
    assert all(t.progress is None for t in tasks.tasks)
    err = capsys.readouterr().err
    assert "\rshared: 100%" in err and err.endswith("\n")


async def test_without_capture_tqdm_is_untouched(capsys: pytest.CaptureFixture[str]) -> None:
    def loop() -> None:
        for _ in tqdm(range(3), mininterval=0, desc="raw", file=sys.stderr):
            pass

    task = Task(loop)
    await task()
    assert task.output == "" and task.progress is None
    assert capsys.readouterr().err.count("\rraw:") == 5


async def test_a_half_imported_tqdm_breaks_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    # another thread importing tqdm: sys.modules holds tqdm.std without its names yet
    import types

    half = types.ModuleType("tqdm.std")
    half.__file__ = tqdm_std.std.__file__
    monkeypatch.setitem(sys.modules, "tqdm.std", half)

    def talk() -> None:
        print("still printed")
        sys.stderr.write("\rframe-like\n")

    task, _ = await run(talk)
    assert task.output == "still printed\n\rframe-like\n"


async def test_a_bar_made_while_the_stream_write_is_wrapped() -> None:
    # IPython 9 wraps sys.stdout/stderr.write during each cell (its history of outputs): a
    # bar made in a task meanwhile writes through that wrapper for the rest of its life
    def loop() -> None:
        stream = sys.stderr
        original = stream.write

        def write(data: str) -> int:
            return original(data)

        stream.write = write  # type: ignore[method-assign]
        try:
            bar = tqdm(total=5, mininterval=0)
        finally:
            del stream.write
        bar.update(5)
        bar.close()

    task, seen = await run(loop)
    assert seen[-1] == (5, 5) and "\r" not in task.output


@pytest.mark.parametrize("how", ["thread", "pool"])
async def test_a_bar_in_a_thread_the_task_started_feeds_the_task(
    how: str, capsys: pytest.CaptureFixture[str]
) -> None:
    from concurrent.futures import ThreadPoolExecutor

    def loop() -> None:
        for _ in tqdm(range(50), desc="in a thread", mininterval=0):
            pass

    def work() -> None:
        if how == "thread":
            thread = threading.Thread(target=loop)
            thread.start()
            thread.join()
        else:
            with ThreadPoolExecutor(1) as pool:
                pool.submit(loop).result()

    task, seen = await run(work)
    assert seen[-1] == (50, 50)
    assert task.output.startswith("in a thread: 100%|")
    assert "in a thread" not in capsys.readouterr().err  # no frame left the task
