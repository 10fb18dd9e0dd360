"""tqdm's notebook bars inside tasks become text bars that feed the task; elsewhere they stay
widgets, and unloading puts tqdm back as it was."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from capturing import captured

from backgrounder import Task
from backgrounder.notebook import tqdm_bars

from .conftest import Frontend

pytest.importorskip("tqdm")
pytest.importorskip("ipywidgets")
from tqdm.asyncio import tqdm as tqdm_asyncio
from tqdm.notebook import tqdm as tqdm_notebook
from tqdm.notebook import trange as trange_notebook


def close_widgets(bar: Any) -> None:
    """Close the bar's widgets (they would be closed at exit, noisily, after ipywidgets')."""
    for widget in (*bar.container.children, bar.container):
        for part in (getattr(widget, "layout", None), getattr(widget, "style", None), widget):
            if part is not None:
                part.close()


class AutoInAKernel(tqdm_notebook, tqdm_asyncio):  # type: ignore[misc]
    """What ``tqdm.auto.tqdm`` is in a Jupyter kernel."""


pytestmark = pytest.mark.anyio


@pytest.fixture
def installed() -> Iterator[None]:
    assert tqdm_bars.install()
    try:
        yield
    finally:
        tqdm_bars.uninstall()
    assert not tqdm_bars.patched()
    assert "__new__" not in tqdm_notebook.__dict__


@pytest.mark.parametrize("make", [tqdm_notebook, AutoInAKernel], ids=["notebook", "auto"])
async def test_inside_a_task_a_notebook_bar_feeds_the_task(
    make: Any, frontend: Frontend, installed: None
) -> None:
    def loop() -> str:
        with make(range(1), display=False, leave=False) as bar:
            kind = type(bar).__name__
        for _ in make(range(50), desc="load", mininterval=0):
            pass
        for _ in trange_notebook(3, leave=False):
            pass
        return kind

    task = Task(loop)
    with captured():
        await task()
    assert task.result == "tqdm_asyncio"
    assert task.progress == (3, 3)
    assert task.output.startswith("load: 100%|") and task.output.count("\n") == 1
    assert frontend.opened == 0  # no widget made


async def test_async_for_still_works(frontend: Frontend, installed: None) -> None:
    async def numbers() -> Any:
        for i in range(20):
            yield i

    async def loop() -> int:
        return sum([i async for i in AutoInAKernel(numbers(), total=20, mininterval=0)])

    task = Task(loop)
    with captured():
        await task()
    assert task.result == sum(range(20)) and task.progress == (20, 20)
    assert frontend.opened == 0


def test_outside_tasks_the_bar_is_a_widget(frontend: Frontend, installed: None) -> None:
    bar = tqdm_notebook(range(3), display=False)
    assert isinstance(bar, tqdm_notebook) and frontend.opened > 0
    for _ in bar:
        pass
    close_widgets(bar)


async def test_uninstalled_tqdm_is_as_it_was(frontend: Frontend) -> None:
    assert not tqdm_bars.patched()
    assert tqdm_bars.install() and tqdm_bars.install()  # twice is harmless
    tqdm_bars.uninstall()
    tqdm_bars.uninstall()
    assert "__new__" not in tqdm_notebook.__dict__

    def loop() -> Any:
        return tqdm_notebook(range(1), display=False)

    task = Task(loop)
    await task()
    assert type(task.result).__name__ == "tqdm_notebook" and frontend.opened > 0
    task.result.close()
    close_widgets(task.result)
