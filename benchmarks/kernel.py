"""In a real kernel (jupyter_client): IOPub traffic, cell latency under load, row latency.

The client counts every IOPub message from sending a cell until the kernel is idle again
(plus a short drain for trailing table updates). Bytes are the JSON size of each message's
header, parent header, metadata and content plus its binary buffers: what crosses the
socket, give or take the signature and framing.
"""

from __future__ import annotations

import json
import re
import statistics
import textwrap
import time
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from _common import Config, Row, progress

SECTION = "In a real kernel"
DRAIN = 0.5  # seconds to keep reading IOPub after idle: the table's last redraw
STARTUP_TIMEOUT = 60


@dataclass
class Execution:
    """What one cell produced: its reply, its IOPub messages, and when."""

    seconds: float
    reply: dict[str, Any]
    messages: list[dict[str, Any]] = field(default_factory=list)

    @property
    def bytes(self) -> int:
        return sum(_size(msg) for msg in self.messages)

    def stdout(self) -> str:
        return "".join(
            m["content"]["text"]
            for m in self.messages
            if m["msg_type"] == "stream" and m["content"]["name"] == "stdout"
        )

    def count(self, *types: str) -> int:
        return sum(m["msg_type"] in types for m in self.messages)


def _size(msg: dict[str, Any]) -> int:
    parts = (msg["header"], msg["parent_header"], msg["metadata"], msg["content"])
    size = sum(len(json.dumps(part, default=str)) for part in parts)
    return size + sum(len(memoryview(buf).cast("B")) for buf in msg.get("buffers") or [])


class Kernel:
    """A kernel started with jupyter_client, and a blocking client to run cells in it."""

    def __init__(self) -> None:
        from jupyter_client.manager import start_new_kernel

        self.manager, self.client = start_new_kernel(
            kernel_name="python3", startup_timeout=STARTUP_TIMEOUT
        )

    def execute(self, code: str, timeout: float = 120, drain: float = 0.0) -> Execution:
        """Run ``code``; return when the kernel is idle (and ``drain`` seconds later)."""
        client = self.client
        start = time.perf_counter()
        msg_id = client.execute(code, store_history=False)
        messages: list[dict[str, Any]] = []
        reply: dict[str, Any] | None = None
        idle = False
        deadline = time.monotonic() + timeout
        while not (idle and reply is not None):
            if time.monotonic() > deadline:
                raise TimeoutError(f"cell did not finish in {timeout} s: {code[:80]!r}")
            if reply is None and client.shell_channel.msg_ready():
                candidate = client.get_shell_msg(timeout=1)
                if candidate["parent_header"].get("msg_id") == msg_id:
                    reply = candidate
                continue
            try:
                msg = client.get_iopub_msg(timeout=0.05)
            except Exception:  # queue.Empty
                continue
            msg["_arrived"] = time.time()  # when the client read it (same clock as the kernel's)
            messages.append(msg)
            if (
                msg["msg_type"] == "status"
                and msg["parent_header"].get("msg_id") == msg_id
                and msg["content"]["execution_state"] == "idle"
            ):
                idle = True
        seconds = time.perf_counter() - start
        end = time.monotonic() + drain
        while time.monotonic() < end:
            try:
                messages.append(client.get_iopub_msg(timeout=max(0.01, end - time.monotonic())))
            except Exception:
                pass
        if reply["content"]["status"] != "ok":
            content = reply["content"]
            raise RuntimeError(
                f"cell failed: {content.get('ename')}: {content.get('evalue')}\n{code[:200]}"
            )
        return Execution(seconds, reply, messages)

    def round_trip(self) -> float:
        """Seconds for a trivial cell: request sent to idle and reply received."""
        return self.execute("pass").seconds

    def close(self) -> None:
        self.client.stop_channels()
        self.manager.shutdown_kernel(now=False)


SETUP = """
import asyncio, json, random, time
import backgrounder
from backgrounder import Task, Tasks, progress
try:
    get_ipython().run_line_magic("load_ext", "backgrounder")
    TABLE = True
except Exception as exc:
    TABLE = False
print(json.dumps({"table": TABLE}))
"""

# 10,000 tasks spread over about 2 s: each sleeps a random 0..0.4 s, at most 2,000 at once.
GROUP = """
async def _bench_sleep(seconds):
    await asyncio.sleep(seconds)

_group = Tasks(as_group=True, limit={limit}, name="bench-iopub")
random.seed(1)
for _ in range({n}):
    _group.add_task(_bench_sleep, random.random() * 0.4)
await _group()
_start = _group.started_at.timestamp()
print(json.dumps({{"elapsed": _group.elapsed, "start": _start, "end": _start + _group.elapsed}}))
"""

BACKGROUND = """
async def _bench_busy(steps):
    for i in range(steps):
        await asyncio.sleep(0.5)
        progress(i + 1, steps)

_busy = Tasks(as_group=True, name="bench-background")
for _ in range({n}):
    _busy.add_task(_bench_busy, 1000)
_busy_handle = _busy.start()
_busy_handle  # shown: its live table redraws while the round trips are measured
"""

STOP_BACKGROUND = """
_busy_handle.cancel()
try:
    await _busy_handle
except BaseException:
    pass
print(json.dumps(_busy.counts()[backgrounder.TaskState.CANCELLED]))
"""

# Tasks that end at known, spread-out times; the kernel reports when each ended.
ROWS = """
async def _bench_end(seconds):
    await asyncio.sleep(seconds)

_rows = Tasks(as_group=True, name="bench-rows")
for i in range({n}):
    _rows.add(Task(_bench_end, 0.15 + i * {spacing}).options(name=f"bench-row-{{i}}"))
await _rows()
print(json.dumps({{t.name: t.ended_at.timestamp() for t in _rows}}))
"""


def _epoch(msg: dict[str, Any]) -> float:
    date = msg["header"]["date"]
    if isinstance(date, str):
        date = datetime.fromisoformat(date)
    return float(date.timestamp())


def _iopub(kern: Kernel, cfg: Config, table: bool) -> list[Row]:
    n = cfg.kernel_tasks
    limit = max(1, n // 5)
    run = kern.execute(GROUP.format(n=n, limit=limit), timeout=300, drain=DRAIN)
    times = json.loads(run.stdout().strip().splitlines()[-1])
    elapsed, end = times["elapsed"], times["end"]
    msgs = len(run.messages)
    opens = run.count("comm_open")
    # While the group runs: widget updates sent before it ended. The rest is a constant:
    # creating the table's widgets (comm_open) and the final redraw of its row window.
    during = sum(m["msg_type"] == "comm_msg" and _epoch(m) <= end for m in run.messages)
    constant = msgs - during
    rate = during / max(elapsed, 1e-9)
    tail = "" if table else "; no table (notebook extension missing): core only"
    return [
        Row(
            SECTION,
            f"IOPub messages while a {n:,}-task group with its table runs",
            during,
            unit="msgs",
            target="<= 10/s of run time + 10",
            ok=during <= 10 * elapsed + 10,
            note=f"{rate:.1f}/s over {elapsed:.2f} s of run time{tail}",
        ),
        Row(
            SECTION,
            "IOPub messages besides: table creation and final redraw",
            constant,
            unit="msgs",
            target="<= 400 (bounded by the 50-row window)",
            ok=constant <= 400,
            note=f"{opens} comm_open, {constant - opens} others (final rows, status, display); "
            f"all messages {run.bytes / 1024:.0f} KiB",
        ),
    ]


def _latency(kern: Kernel, cfg: Config) -> list[Row]:
    reps = 5 if cfg.smoke else 15
    rounds = 1 if cfg.smoke else 3
    idle: list[float] = []
    busy: list[float] = []
    for _ in range(rounds):
        idle += [kern.round_trip() for _ in range(reps)]
        kern.execute(BACKGROUND.format(n=cfg.kernel_background), drain=0.2)
        time.sleep(1.0)  # let every task reach its first sleep
        busy += [kern.round_trip() for _ in range(reps)]
        kern.execute(STOP_BACKGROUND, timeout=60, drain=0.2)
    ratio = statistics.median(busy) / statistics.median(idle)
    return [
        Row(
            SECTION,
            f"trivial cell round trip, {cfg.kernel_background:,} background tasks vs idle",
            ratio,
            target="<= 2x",
            ok=ratio <= 2.0,
            note=f"{statistics.median(busy) * 1e3:.1f} ms vs {statistics.median(idle) * 1e3:.1f} ms"
            f" idle; median of {len(busy)}",
        )
    ]


def _row_latency(kern: Kernel, cfg: Config, table: bool) -> list[Row]:
    """Rows ending 0.5 s apart (isolated ends, the target), then 0.137 s apart (7 a second)."""
    rows = []
    n = 4 if cfg.smoke else 12
    for spacing, target in ((0.5, 0.2), (0.137, None)):
        figure = f"task end to its row showing it done, tasks ending {spacing:g} s apart"
        shown_target = f"< {target:g} s" if target else ""
        if not table:
            rows.append(Row(SECTION, figure, None, "s", shown_target, note="no notebook extension"))
            continue
        run = kern.execute(ROWS.format(n=n, spacing=spacing), timeout=120, drain=DRAIN)
        ended = json.loads(run.stdout().strip().splitlines()[-1])
        delays = []
        for name, at in ended.items():
            shown = _first_shown(run.messages, name)
            if shown is not None:
                delays.append(shown - at)
        if not delays:
            rows.append(Row(SECTION, figure, None, "s", shown_target, note="no row seen"))
            continue
        median = statistics.median(delays)
        rows.append(
            Row(
                SECTION,
                figure,
                median,
                unit="s",
                target=shown_target,
                ok=None if target is None else median < target,
                note=f"median of {len(delays)} of {n} tasks, worst {max(delays):.3f} s",
            )
        )
    return rows


# 1,000 tasks, each reporting progress ten times a second for three seconds; each records
# when it reached each step, with the kernel's clock (the client's: same machine).
TRUTH = """
async def _bench_steps(name, steps):
    for k in range(steps):
        await asyncio.sleep(0.1)
        progress(k + 1, steps)
        _truth.append((name, k + 1, time.time()))

_truth = []
_steps = Tasks(as_group=True, name="bench-truth")
for i in range({n}):
    _steps.add(Task(_bench_steps, f"r{{i:04d}}", 30).options(name=f"r{{i:04d}}"))
await _steps()
print(json.dumps(_truth))
"""


def _truth_lag(kern: Kernel, cfg: Config, table: bool) -> list[Row]:
    """How stale a visible row is, sampled every 10 ms over the run, and redraws per second.

    The client rebuilds the widget states from IOPub (with the time it read each message)
    as a frontend would; at each sampled instant, a row shown at step k whose task had
    reached step k + 1 at time t is t seconds stale. Rows outside the window are not shown,
    so they are not stale.
    """
    n = 100 if cfg.smoke else 1000
    figure = f"truth lag p99: {n:,} tasks, progress 10/s each, row vs task's own record"
    if not table:
        return [Row(SECTION, figure, None, "s", "<= 0.3 s", note="no notebook extension")]
    run = kern.execute(TRUTH.format(n=n), timeout=300, drain=DRAIN)
    truth = json.loads(run.stdout().strip().splitlines()[-1])
    reached: dict[str, list[float]] = {}
    for name, k, at in truth:
        steps = reached.setdefault(name, [])
        steps.extend([at] * (k - len(steps)))  # reached[name][k - 1]: when step k was reached
    models: dict[str, dict[str, Any]] = {}
    timeline: list[tuple[float, dict[str, int]]] = []  # (arrival, name -> step shown)
    redraws, last = 0, 0.0
    for msg in run.messages:
        kind = msg["msg_type"]
        content = msg["content"]
        if kind == "comm_open":
            models[content["comm_id"]] = dict(content["data"].get("state", {}))
        elif kind == "comm_msg" and content["data"].get("method") == "update":
            models.setdefault(content["comm_id"], {}).update(content["data"]["state"])
            sent = _epoch(msg)
            redraws += sent - last > 0.02
            last = sent
        else:
            continue
        shown: dict[str, int] = {}
        for state in models.values():
            value = state.get("value")
            if isinstance(value, str) and 'class="bg-rows"' in value:
                for name, done in re.findall(
                    r'title="(r\d{4})".*?(?:>(\d+)/30<|</div></div>)', value
                ):
                    shown[name] = int(done or 30)
        timeline.append((msg["_arrived"], shown))
    start, end = min(at for _, _, at in truth), max(at for _, _, at in truth)
    stale: list[float] = []
    i, current = 0, {}
    at = start
    while at <= end:
        while i < len(timeline) and timeline[i][0] <= at:
            current = timeline[i][1]
            i += 1
        for name, k in current.items():
            steps = reached.get(name, [])
            stale.append(max(0.0, at - steps[k]) if k < len(steps) and steps[k] <= at else 0.0)
        at += 0.01
    stale.sort()
    p50 = stale[len(stale) // 2] if stale else None
    p99 = stale[int(len(stale) * 0.99)] if stale else None
    seconds = max(end - start, 1e-9)
    rate = redraws / seconds
    comm = run.count("comm_msg")
    return [
        Row(
            SECTION,
            figure,
            p99,
            unit="s",
            target="<= 0.3 s",
            ok=None if p99 is None else p99 <= 0.3,
            note=f"p50 {p50 or 0:.3f} s over {len(stale):,} row readings",
        ),
        Row(
            SECTION,
            f"redraws per second while those {n:,} tasks run",
            rate,
            unit="/s",
            target="<= 10/s",
            ok=rate <= 10.5,
            note=f"{comm} comm messages in {seconds:.1f} s: "
            f"{comm / max(redraws, 1):.1f} per redraw",
        ),
    ]


def _first_shown(messages: list[dict[str, Any]], name: str) -> float | None:
    """When the first widget update showing task ``name`` as done was sent (epoch seconds)."""
    from row_probe import shows_done

    for msg in messages:
        if msg["msg_type"] not in ("comm_msg", "comm_open"):
            continue
        if shows_done(msg["content"].get("data", {}), name):
            return _epoch(msg)
    return None


def run(cfg: Config) -> list[Row]:
    progress("kernel: starting a kernel")
    try:
        kern = Kernel()
    except Exception as exc:  # no kernelspec, no zmq: report every figure as skipped
        note = f"no kernel: {exc!r}"[:160]
        return [
            Row(SECTION, "IOPub messages while a group with its table runs", None, note=note),
            Row(SECTION, "trivial cell round trip under load vs idle", None, note=note),
            Row(SECTION, "task end to its row showing it done", None, note=note),
        ]
    try:
        setup = kern.execute(textwrap.dedent(SETUP))
        table = json.loads(setup.stdout().strip().splitlines()[-1])["table"]
        progress(f"kernel: IOPub for a {cfg.kernel_tasks:,}-task group (table: {table})")
        rows = _iopub(kern, cfg, table)
        progress(f"kernel: cell latency with {cfg.kernel_background:,} background tasks")
        rows += _latency(kern, cfg)
        progress("kernel: task end to row latency")
        rows += _row_latency(kern, cfg, table)
        progress("kernel: truth lag of the rows")
        rows += _truth_lag(kern, cfg, table)
    finally:
        kern.close()
    return rows
