"""A finished group's displays end as static HTML (no widget), so a saved notebook shows them."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from backgrounder import Task, Tasks
from backgrounder._errors import ExceptionGroup
from backgrounder.notebook import kernel as kernel_module
from backgrounder.notebook.render import group_html
from backgrounder.notebook.snapshot import GroupSource, LooseSource
from backgrounder.notebook.table import LiveTable

from .conftest import Wire

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
        assert raw and display_id
        outputs.append([obj])
        return Handle(outputs[-1])

    monkeypatch.setattr(kernel_module, "display", display)
    return outputs


def _failing_group() -> Tasks:
    def fail() -> None:
        raise ValueError("kept <b>escaped</b>")

    return Tasks([Task(lambda: 1).options(name="one"), Task(fail)], as_group=True, name="g")


def test_a_finished_group_ends_its_display_as_static_html(wire: Wire, displays: Any) -> None:
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
    assert set(table._repr_mimebundle_()) == {"text/plain", "text/html"}


def test_a_group_run_again_is_live_in_its_new_cell(wire: Wire, displays: Any) -> None:
    tasks = Tasks([Task(lambda i=i: i) for i in range(3)], as_group=True)
    table = LiveTable(GroupSource(tasks))
    table.display()
    asyncio.run(tasks())
    assert table.wait_idle(10)
    assert WIDGET not in displays[0][-1]

    async def again() -> list[int]:
        table.display()  # the new cell, as the session shows it when the group starts
        return await tasks()

    assert asyncio.run(again()) == [0, 1, 2]
    assert WIDGET in displays[1][0]
    assert table.wait_idle(10)
    for output in displays:  # both cells end static, with the last run's state
        assert WIDGET not in output[-1] and "3 done" in output[-1]["text/plain"]


def test_a_finished_group_shown_again_becomes_static(wire: Wire, displays: Any) -> None:
    tasks = Tasks([Task(lambda: 1)], as_group=True)
    table = LiveTable(GroupSource(tasks))
    asyncio.run(tasks())
    assert table.wait_idle(10)
    table._idle.clear()
    table.display()
    assert table.wait_idle(10)
    assert WIDGET not in displays[0][-1]


def test_a_loose_table_keeps_its_widget(wire: Wire, displays: Any) -> None:
    task = Task(lambda: 5)
    table = LiveTable(LooseSource("loose", [task]))
    table.display()
    assert task.start().result(10) == 5
    assert table.wait_idle(10)
    final = displays[0][-1]
    assert WIDGET in final and "1 done" in final["text/plain"]
    assert 'data-state="done"' in final["text/html"]


def test_the_widget_carries_the_same_hooks(wire: Wire) -> None:
    tasks = Tasks([Task(lambda: 1)], as_group=True)
    table = LiveTable(GroupSource(tasks))
    asyncio.run(tasks())
    assert table.wait_idle(10)
    assert "bg-table" in table.widget._dom_classes
    slot = table._slots[0]
    assert 'class="bg-row" data-state="done"' in slot.html.value
    assert 'class="bg-table' in group_html(table.snapshot())
