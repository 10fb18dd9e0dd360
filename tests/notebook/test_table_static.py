"""Every table's displays end as static HTML (no widget), so a saved notebook shows them."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from backgrounder import Task, Tasks
from backgrounder._errors import ExceptionGroup
from backgrounder.notebook import table as table_module
from backgrounder.notebook.sources import GroupSource, LooseSource
from backgrounder.notebook.table import LiveTable, finish_ended, stop_all

from .conftest import Frontend

WIDGET = "application/vnd.jupyter.widget-view+json"


class Handle:
    """What ``display(..., display_id=True)`` returns: records what each display shows."""

    def __init__(self, shown: list[dict[str, Any]]) -> None:
        self.shown = shown

    def update(self, obj: Any, raw: bool = False) -> None:
        assert raw
        self.shown.append(obj)


@pytest.fixture
def displays(monkeypatch: pytest.MonkeyPatch) -> list[list[dict[str, Any]]]:
    """Each display's bundles in order (the first one shown, then its updates)."""
    outputs: list[list[dict[str, Any]]] = []

    def display(obj: Any, raw: bool = False, display_id: bool = False) -> Handle:
        assert raw
        outputs.append([obj])
        return Handle(outputs[-1])

    monkeypatch.setattr(table_module, "display", display)
    return outputs


def _failing_group() -> Tasks:
    def fail() -> None:
        raise ValueError("kept <b>escaped</b>")

    return Tasks([Task(lambda: 1).options(name="one"), Task(fail)], as_group=True, name="g")


def test_a_finished_group_ends_its_display_as_static_html(
    frontend: Frontend, displays: Any
) -> None:
    tasks = _failing_group()
    table = LiveTable(GroupSource(tasks))
    table.display()
    assert WIDGET in displays[0][0]  # live while it can change
    with pytest.raises(ExceptionGroup):
        asyncio.run(tasks())
    assert table.wait_idle(10)
    final = displays[0][-1]
    assert set(final) == {"text/plain", "text/html"}
    html = final["text/html"]
    assert 'class="bg-table' in html and html.count('class="bg-row"') == 2
    assert 'data-state="done"' in html and 'data-state="failed"' in html
    assert "<summary" in html and "Traceback" in html  # one click away, no kernel needed
    assert "&lt;b&gt;escaped&lt;/b&gt;" in html and "<b>escaped" not in html
    assert "1 done" in final["text/plain"] and "1 failed" in final["text/plain"]


def test_a_loose_table_ends_static_too(frontend: Frontend, displays: Any) -> None:
    task = Task(lambda: 5)
    table = LiveTable(LooseSource("loose", [task]))
    table.display()
    assert task.start().result(10) == 5
    assert table.wait_idle(10)
    final = displays[0][-1]
    assert WIDGET not in final and "1 done" in final["text/plain"]
    assert 'data-state="done"' in final["text/html"]
    assert frontend.open_models() == 0


def test_the_end_of_a_cell_finishes_ended_tables_at_once(frontend: Frontend, displays: Any) -> None:
    tasks = Tasks([Task(lambda: 1)], as_group=True)
    table = LiveTable(GroupSource(tasks))
    table.display()
    asyncio.run(tasks())
    finish_ended()  # what the session does in post_run_cell, before the execute reply
    assert table.closed  # at once: no waiting for the writer (a kernel test checks the order)
    assert WIDGET not in displays[0][-1] and "1 done" in displays[0][-1]["text/plain"]


def test_a_stopping_kernel_turns_running_tables_static_with_a_note(
    frontend: Frontend, displays: Any
) -> None:
    async def forever() -> None:
        await asyncio.sleep(3600)

    tasks = Tasks([Task(forever)], as_group=True, name="stopped")
    table = LiveTable(GroupSource(tasks))
    table.display()
    handle = tasks.start(thread_loop=True)
    stop_all("The kernel stopped while this ran.")
    assert table.closed
    final = displays[0][-1]
    assert WIDGET not in final and "The kernel stopped while this ran." in final["text/html"]
    assert frontend.open_models() == 0
    handle.cancel()


def test_the_widget_carries_the_same_hooks(frontend: Frontend) -> None:
    tasks = Tasks([Task(lambda: 1)], as_group=True)
    LiveTable(GroupSource(tasks)).flush()
    state = frontend.models[frontend.table().root]
    assert "bg-table" in state["_dom_classes"]
