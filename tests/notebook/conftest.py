"""Fixtures for the notebook layer: a dummy comm whose messages a model store replays.

As ipywidgets' own tests do, ``comm.create_comm`` is replaced by a dummy comm; here every
comm_open, update and close is replayed into model states, as a frontend would, so a test
reads the table as the frontend has it (``Frontend.table()``), never the table's fields.
"""

from __future__ import annotations

import re
import threading
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest

_MODEL = "IPY_MODEL_"


@dataclass
class Message:
    comm_id: str
    kind: str  # "open", "update", "close"
    state: dict[str, Any]


@dataclass(frozen=True)
class Row:
    """One row of a table as the frontend shows it."""

    id: int
    state: str
    html: str
    cancel_enabled: bool

    @property
    def text(self) -> str:
        return re.sub(r"<[^>]+>", " ", self.html)


class TableModel:
    """A live table as the frontend's models hold it (read through the ``bg-*`` hooks)."""

    def __init__(self, frontend: Frontend, root: str) -> None:
        self.frontend = frontend
        self.root = root

    def _state(self, model: str) -> dict[str, Any]:
        return self.frontend.models[model]

    def _children(self, model: str) -> list[str]:
        return [ref[len(_MODEL) :] for ref in self._state(model).get("children", [])]

    @property
    def parts(self) -> tuple[str, str, str]:
        top, grid, details = self._children(self.root)
        return top, grid, details

    @property
    def header(self) -> str:
        header = self._children(self.parts[0])[0]
        return str(self._state(header)["value"])

    @property
    def cancel_all_enabled(self) -> bool:
        button = self._children(self.parts[0])[1]
        return not self._state(button)["disabled"]

    @property
    def cancel_all_id(self) -> str:
        return self._children(self.parts[0])[1]

    @property
    def rows_html(self) -> str:
        return str(self._state(self._children(self.parts[1])[0])["value"])

    @property
    def details_html(self) -> str:
        return str(self._state(self.parts[2])["value"])

    def buttons(self) -> list[tuple[str, str]]:
        """(details, cancel) model ids of each row, in order."""
        rest = self._children(self.parts[1])[1:]
        return list(zip(rest[0::2], rest[1::2], strict=True))

    def cancel_flags(self) -> tuple[bool, ...]:
        return tuple(not self._state(cancel)["disabled"] for _, cancel in self.buttons())

    def rows(self) -> list[Row]:
        html = self.rows_html
        starts = [m.start() for m in re.finditer(r'<div class="bg-row"', html)]
        flags = self.cancel_flags()
        rows = []
        for i, start in enumerate(starts):
            end = starts[i + 1] if i + 1 < len(starts) else len(html)
            piece = html[start:end]
            head = re.match(r'<div class="bg-row" data-state="(\w+)" data-id="(\d+)"', piece)
            assert head is not None, piece[:200]
            enabled = flags[i] if i < len(flags) else False
            rows.append(Row(int(head.group(2)), head.group(1), piece, enabled))
        return rows

    def row(self, name: str) -> Row:
        found = [row for row in self.rows() if f">{name}<" in row.html]
        assert len(found) == 1, (name, [row.text for row in self.rows()])
        return found[0]

    def click_cancel(self, index: int) -> None:
        self.frontend.click(self.buttons()[index][1])

    def click_details(self, index: int) -> None:
        self.frontend.click(self.buttons()[index][0])

    def click_cancel_all(self) -> None:
        self.frontend.click(self.cancel_all_id)


class Frontend:
    """Every comm the widgets opened, replayed into model states, and what was sent."""

    def __init__(self) -> None:
        self.models: dict[str, dict[str, Any]] = {}
        self.closed: set[str] = set()
        self.messages: list[Message] = []
        self.handlers: dict[str, Callable[[dict[str, Any]], Any]] = {}
        self.lock = threading.Condition(threading.RLock())  # comms send from two threads

    def record(self, comm_id: str, kind: str, state: dict[str, Any]) -> None:
        with self.lock:
            self.messages.append(Message(comm_id, kind, state))
            if kind == "open":
                self.models[comm_id] = dict(state)
            elif kind == "update":
                self.models.setdefault(comm_id, {}).update(state)
            elif kind == "close":
                self.closed.add(comm_id)
            self.lock.notify_all()

    def wait_for(self, check: Callable[[], bool], timeout: float = 10) -> None:
        """Wait until ``check()`` holds, re-checked at each message (never by polling)."""
        with self.lock:
            assert self.lock.wait_for(check, timeout), "the frontend never got there"

    @property
    def opened(self) -> int:
        return sum(m.kind == "open" for m in self.messages)

    @property
    def updates(self) -> list[Message]:
        return [m for m in self.messages if m.kind == "update"]

    def open_models(self) -> int:
        """Widgets open now (what the kernel keeps alive)."""
        with self.lock:
            return len(set(self.models) - self.closed)

    def tables(self, live: bool = True) -> list[TableModel]:
        with self.lock:
            roots = [
                comm_id
                for comm_id, state in self.models.items()
                if "bg-table" in state.get("_dom_classes", ())
                and (not live or comm_id not in self.closed)
            ]
        return [TableModel(self, root) for root in roots]

    def table(self) -> TableModel:
        """The one table the test made (the last one opened, live or not)."""
        tables = self.tables(live=False)
        assert tables, "no table was opened"
        return tables[-1]

    def click(self, model: str) -> None:
        """What a click on a button does: a custom message from the frontend."""
        handler = self.handlers[model]
        handler(
            {
                "content": {"data": {"method": "custom", "content": {"event": "click"}}},
                "buffers": [],
            }
        )


@pytest.fixture
def frontend(monkeypatch: pytest.MonkeyPatch) -> Iterator[Frontend]:
    """Install the dummy comm and give the frontend it feeds."""
    import comm

    fe = Frontend()

    class DummyComm:
        kernel = "truthy"

        def __init__(self, data: dict[str, Any] | None = None, **kwargs: Any) -> None:
            # one id per comm, as a kernel gives: ipywidgets registers open widgets by it
            self.comm_id = kwargs.get("comm_id") or uuid.uuid4().hex
            fe.record(self.comm_id, "open", (data or {}).get("state", {}))

        def open(self, *args: Any, **kwargs: Any) -> None:
            pass

        def on_msg(self, callback: Callable[[dict[str, Any]], Any]) -> None:
            fe.handlers[self.comm_id] = callback

        def send(self, data: Any = None, *args: Any, **kwargs: Any) -> None:
            if isinstance(data, dict) and data.get("method") == "update":
                fe.record(self.comm_id, "update", data.get("state", {}))
            else:
                fe.record(self.comm_id, "custom", {})

        def close(self, *args: Any, **kwargs: Any) -> None:
            fe.record(self.comm_id, "close", {})

    monkeypatch.setattr(comm, "create_comm", lambda **kwargs: DummyComm(**kwargs))
    yield fe
