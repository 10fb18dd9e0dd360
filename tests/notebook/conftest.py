"""Fixtures for the notebook layer: a dummy comm that records what widgets would send."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest


class Wire:
    """Every comm message the widgets would have sent, in order."""

    def __init__(self) -> None:
        self.opened = 0
        self.messages: list[dict[str, Any]] = []

    @property
    def updates(self) -> list[dict[str, Any]]:
        return [m for m in self.messages if m.get("method") == "update"]

    def total(self) -> int:
        return self.opened + len(self.messages)


@pytest.fixture
def wire(monkeypatch: pytest.MonkeyPatch) -> Iterator[Wire]:
    """Install a dummy comm (as ipywidgets' own tests do) and record its traffic."""
    import comm

    recorded = Wire()

    class DummyComm:
        kernel = "truthy"

        def __init__(self, *args: Any, **kwargs: Any) -> None:
            recorded.opened += 1
            # one id per comm, as a kernel gives: ipywidgets registers open widgets by it
            self.comm_id = uuid.uuid4().hex

        def open(self, *args: Any, **kwargs: Any) -> None:
            pass

        def on_msg(self, *args: Any, **kwargs: Any) -> None:
            pass

        def send(self, data: Any = None, *args: Any, **kwargs: Any) -> None:
            recorded.messages.append(data)

        def close(self, *args: Any, **kwargs: Any) -> None:
            pass

    monkeypatch.setattr(comm, "create_comm", lambda **kwargs: DummyComm())
    yield recorded
