"""In a real kernel, the rows a frontend receives follow what the tasks themselves record.

The widget states are rebuilt from IOPub as a frontend would (comm_open, comm_msg,
comm_close, and the display's final update), each message stamped with when the client
read it; the tasks stamp their own progress and end. No row may lag its task by more than
``LAG`` seconds, and at no point may a row shown as ended keep an enabled Cancel.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from .conftest import TableModel
from .kernel_client import Kernel

pytestmark = pytest.mark.kernel

LAG = 0.5  # seconds: what the issue allows between a task's truth and its row

SETUP = """
%load_ext backgrounder
import asyncio, json, random, time
from backgrounder import Task, Tasks, progress
"""

SCENARIO = """
records = []

async def stepper(name, seconds):
    for k in range(10):
        await asyncio.sleep(seconds / 10)
        progress(k + 1, 10)
        records.append((name, k + 1, time.time()))
    return name

random.seed(7)
group = Tasks(
    [Task(stepper, f"t{i:02d}", random.uniform(0.5, 3)).options(name=f"t{i:02d}")
     for i in range(30)],
    as_group=True,
    name="thirty",
)
await group()
print(json.dumps({"progress": records, "ended": {t.name: t.ended_at.timestamp() for t in group}}))
"""

SYNC_SCENARIO = """
def sync_stepper(name, seconds):
    for k in range(10):
        time.sleep(seconds / 10)
        progress(k + 1, 10)
        records.append((name, k + 1, time.time()))
    return name

records = []
random.seed(11)
group = Tasks(
    [Task(sync_stepper, f"s{i:02d}", random.uniform(0.3, 1.2)).options(name=f"s{i:02d}")
     for i in range(12)],
    as_group=True,
    limit=4,
    name="twelve",
)
await group()
print(json.dumps({"progress": records, "ended": {t.name: t.ended_at.timestamp() for t in group}}))
"""


@dataclass
class Replay:
    """Widget models rebuilt from IOPub messages, as a frontend keeps them."""

    models: dict[str, dict[str, Any]] = field(default_factory=dict)
    closed: set[str] = field(default_factory=set)

    def apply(self, message: dict[str, Any]) -> None:
        kind = message["msg_type"]
        content = message["content"]
        if kind == "comm_open":
            self.models[content["comm_id"]] = dict(content["data"].get("state", {}))
        elif kind == "comm_msg" and content["data"].get("method") == "update":
            self.models.setdefault(content["comm_id"], {}).update(content["data"]["state"])
        elif kind == "comm_close":
            self.closed.add(content["comm_id"])

    def table(self) -> TableModel | None:
        roots = [
            comm_id
            for comm_id, state in self.models.items()
            if "bg-table" in state.get("_dom_classes", ()) and comm_id not in self.closed
        ]
        return TableModel(self, roots[-1]) if roots else None  # type: ignore[arg-type]


def _rows(model: TableModel) -> dict[str, tuple[str, int, bool]]:
    """name -> (state, progress done, Cancel enabled) of every row shown."""
    shown = {}
    for row in model.rows():
        name = re.search(r'title="([st]\d\d)"', row.html)
        done = re.search(r">(\d+)/10<", row.html)
        assert name is not None
        shown[name.group(1)] = (row.state, int(done.group(1)) if done else 0, row.cancel_enabled)
    return shown


def _check(kernel: Kernel, start: int, code: str) -> dict[str, float]:
    execution = kernel.execute(code, timeout=120)
    assert execution.status == "ok", execution.stderr
    truth = json.loads(execution.stdout.strip().splitlines()[-1])
    messages = list(zip(kernel.log[start:], kernel.arrived[start:], strict=True))
    replay = Replay()
    # when each (task, progress) and each task's end was first shown
    seen_progress: dict[tuple[str, int], float] = {}
    seen_end: dict[str, float] = {}
    wrong_cancel = []
    for message, at in messages:
        replay.apply(message)
        if message["msg_type"] == "update_display_data":
            html = message["content"]["data"].get("text/html", "")
            if 'class="bg-table' in html and "data-state=" in html:
                for name in re.findall(r'title="([st]\d\d)"', html):
                    seen_end.setdefault(name, at)
            continue
        model = replay.table()
        if model is None or message["msg_type"] != "comm_msg":
            continue
        try:
            rows = _rows(model)
        except (KeyError, ValueError):  # a table still being built
            continue
        for name, (state, done, cancel) in rows.items():
            if state in ("done", "failed", "cancelled"):
                seen_end.setdefault(name, at)
                if cancel:
                    wrong_cancel.append((name, state, at))
            for k in range(1, done + 1):
                seen_progress.setdefault((name, k), at)
    assert not wrong_cancel, f"ended rows with an enabled Cancel: {wrong_cancel[:5]}"
    lags = {}
    for name, k, at in truth["progress"]:
        shown = seen_progress.get((name, k), seen_end.get(name))
        assert shown is not None, f"{name} never showed {k}/10"
        lags[f"{name} {k}/10"] = max(0.0, min(shown, seen_end.get(name, shown)) - at)
    for name, at in truth["ended"].items():
        assert name in seen_end, f"{name} never showed as ended"
        lags[f"{name} ended"] = max(0.0, seen_end[name] - at)
    return lags


@pytest.fixture(scope="module")
def kernel() -> Iterator[Kernel]:
    kernel = Kernel()
    assert kernel.execute(SETUP).status == "ok"
    yield kernel
    kernel.shutdown()


def test_rows_follow_thirty_tasks_with_progress_within_half_a_second(kernel: Kernel) -> None:
    lags = _check(kernel, len(kernel.log), SCENARIO)
    worst = max(lags, key=lambda key: lags[key])
    assert lags[worst] <= LAG, f"{worst} lagged {lags[worst]:.2f} s"


def test_rows_follow_sync_tasks_under_a_limit_within_half_a_second(kernel: Kernel) -> None:
    lags = _check(kernel, len(kernel.log), SYNC_SCENARIO)
    worst = max(lags, key=lambda key: lags[key])
    assert lags[worst] <= LAG, f"{worst} lagged {lags[worst]:.2f} s"
