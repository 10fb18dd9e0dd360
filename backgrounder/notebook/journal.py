"""A journal of every task in an SQLite file, so that a kernel restart or crash forgets nothing.

Each task's record (id, name, call, state, times, result preview, error line, traceback,
output tail, dropped-output count, attempts made) is written by one daemon thread, in
batches, never by the task: a listener only appends the task to a queue. Each group's record
(name, size, state and its counts per state, rewritten while it runs) says how far a group
lost with its kernel got, including the tasks that never started and so have no record of
their own. A journal file belongs to one notebook (several kernels of it may write at once:
WAL mode, one row key per kernel) and is bounded (``RETAIN_ROWS`` task and ``RETAIN_GROUPS``
group records, ``RETAIN_DAYS`` days). If the file cannot be written (a full disk, a read-only
folder), the journal warns once and keeps this kernel's records in memory: a task never fails
because of it. A finished task is referenced by the queue until the next batch (at most
``FLUSH_EVERY`` seconds; ``%tasks clear`` flushes at once).

Where: ``BACKGROUNDER_JOURNAL`` names the file, or ``off`` turns the journal off; by default
``<jupyter data dir>/backgrounder/journals/<notebook>-<hash>.sqlite3``.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import socket
import sqlite3
import threading
import time
import uuid
import warnings
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .. import EventKind, Task, TaskEvent, Tasks, TaskState, subscribe
from .._validate import call_text, safe_repr
from .render import escape
from .snapshot import error_line

__all__ = [
    "ENV",
    "GroupRecord",
    "Journal",
    "JournalRecord",
    "PreviousView",
    "default_path",
    "records_text",
]

ENV = "BACKGROUNDER_JOURNAL"
FLUSH_EVERY = 0.5  # seconds between batches at most (a batch also goes when the queue is long)
TAIL_EVERY = 2.0  # seconds between updates of the running tasks' output tails
HEARTBEAT_EVERY = 5.0  # seconds: how often a kernel says it is alive
RETAIN_ROWS = 10_000  # task records kept per journal file (the newest)
RETAIN_GROUPS = 1_000  # group records kept per journal file (the newest)
RETAIN_DAYS = 30.0
QUEUE_WAKE = 1_000_000  # queued events that make the writer start before its time
OUTPUT_TAIL = 4_000  # characters of output kept per record (the tail)
TEXT_LIMIT = 20_000  # characters of a traceback kept
_OFF = {"", "0", "off", "false", "no", "none"}

_SCHEMA = """
CREATE TABLE IF NOT EXISTS kernels (
    kernel TEXT PRIMARY KEY, pid INTEGER, host TEXT, started REAL, seen REAL
);
CREATE TABLE IF NOT EXISTS tasks (
    kernel TEXT NOT NULL, id INTEGER NOT NULL, seq INTEGER NOT NULL,
    name TEXT, call TEXT, state TEXT, started REAL, ended REAL,
    result TEXT, error TEXT, traceback TEXT, output TEXT, output_dropped INTEGER,
    attempts INTEGER,
    PRIMARY KEY (kernel, id)
);
CREATE INDEX IF NOT EXISTS tasks_seq ON tasks (seq);
CREATE TABLE IF NOT EXISTS groups (
    kernel TEXT NOT NULL, id INTEGER NOT NULL, seq INTEGER NOT NULL,
    name TEXT, state TEXT, total INTEGER, pending INTEGER, running INTEGER, done INTEGER,
    failed INTEGER, cancelled INTEGER, started REAL, ended REAL, written REAL,
    known INTEGER,
    PRIMARY KEY (kernel, id)
);
"""
_UPSERT = """
INSERT INTO tasks (kernel, id, seq, name, call, state, started, ended, result, error,
                   traceback, output, output_dropped, attempts)
VALUES (:kernel, :id, :seq, :name, :call, :state, :started, :ended, :result, :error,
        :traceback, :output, :output_dropped, :attempts)
ON CONFLICT (kernel, id) DO UPDATE SET
    seq = excluded.seq, name = excluded.name, call = excluded.call, state = excluded.state,
    started = excluded.started, ended = excluded.ended, result = excluded.result,
    error = excluded.error, traceback = excluded.traceback, output = excluded.output,
    output_dropped = excluded.output_dropped, attempts = excluded.attempts
"""
_UPSERT_GROUP = """
INSERT OR REPLACE INTO groups (kernel, id, seq, name, state, total, pending, running, done,
                               failed, cancelled, started, ended, written, known)
VALUES (:kernel, :id, :seq, :name, :state, :total, :pending, :running, :done, :failed,
        :cancelled, :started, :ended, :written, :known)
"""


@dataclass(frozen=True)
class JournalRecord:
    """One task as the journal keeps it. ``lost`` is True for a task that was still running
    (or pending) when its kernel went away."""

    kernel: str
    id: int
    name: str
    call: str
    state: str
    started: float | None  # seconds since the epoch
    ended: float | None
    result: str | None
    error: str | None
    traceback: str | None
    output: str
    output_dropped: int
    lost: bool = False
    attempts: int = 1  # how many attempts the run made (more than 1 once retried)


@dataclass(frozen=True)
class GroupRecord:
    """One ``Tasks`` run as the journal keeps it: its counts per state when last written
    (``written``, seconds since the epoch). ``lost``: its kernel went away mid-run."""

    kernel: str
    id: int
    name: str
    state: str
    total: int
    counts: dict[str, int]
    started: float | None
    ended: float | None
    written: float
    lost: bool = False
    known: bool = True  # False: a map still reading its inputs (``total`` are those read)

    def summary(self) -> str:
        """``Tasks #3 (1,000 tasks) lost: the kernel stopped: 412 done, 3 running, ...``."""
        state = "lost: the kernel stopped" if self.lost else self.state
        counts = ", ".join(
            f"{n:,} {'not started' if self.lost and name == 'pending' else name}"
            for name, n in self.counts.items()
            if n
        )
        size = f"{self.total:,} task{'s' if self.total != 1 else ''}"
        if not self.known:
            size += " so far, more inputs unread"
        when = f" (as of {_clock(self.written)})" if self.lost else ""
        return f"{_printable(self.name)} ({size}) {state}: {counts or 'no tasks'}{when}"


def default_path(namespace: dict[str, Any] | None = None) -> Path | None:
    """The journal file for this kernel's notebook, or None if the journal is off."""
    chosen = os.environ.get(ENV)
    if chosen is not None:
        return None if chosen.strip().lower() in _OFF else Path(chosen).expanduser()
    # ipykernel puts the notebook's path in __session__ (from JPY_SESSION_NAME)
    notebook = (namespace or {}).get("__session__") or os.environ.get("JPY_SESSION_NAME")
    identity = os.path.abspath(notebook) if notebook else os.getcwd()
    stem = Path(notebook).stem if notebook else "kernel"
    slug = re.sub(r"[^A-Za-z0-9_.-]+", "-", stem)[:40] or "kernel"
    digest = hashlib.sha256(identity.encode()).hexdigest()[:10]
    return _data_dir() / "backgrounder" / "journals" / f"{slug}-{digest}.sqlite3"


def _data_dir() -> Path:
    try:
        from jupyter_core.paths import jupyter_data_dir
    except ImportError:  # terminal IPython without Jupyter: the same place by hand
        base = os.environ.get("XDG_DATA_HOME") or os.path.join("~", ".local", "share")
        return Path(base).expanduser() / "jupyter"
    return Path(jupyter_data_dir())


class Journal:
    """Writes every task's record to ``path`` from a daemon thread; reads earlier kernels'."""

    def __init__(
        self,
        path: Path | str | None,
        *,
        retain_rows: int = RETAIN_ROWS,
        retain_days: float = RETAIN_DAYS,
    ) -> None:
        self.path = None if path is None else Path(path)
        self.kernel = uuid.uuid4().hex
        self.retain_rows = retain_rows
        self.retain_days = retain_days
        self.in_memory = self.path is None
        self.warning: str | None = None  # why the file is not used, once it is not
        # the listener appends here (any thread); only the writer thread pops
        self._queue: deque[Task | Tasks] = deque()
        self._running: dict[int, Task] = {}  # writer thread only
        self._groups: dict[int, Tasks] = {}  # writer thread only: groups running
        self._seq = 0  # writer thread only: the order records were last written in
        self._wake = threading.Event()
        self._flushed = threading.Condition()  # tells flush() a batch went out
        self._batches = 0
        self._stop = False
        self._tails_now = False  # flush() asks for the running tasks' tails too
        self._db: sqlite3.Connection | None = None  # writer thread only, after start
        self._thread: threading.Thread | None = None
        self._unsubscribe: Callable[[], None] | None = None
        self._started = time.time()

    # -- life -------------------------------------------------------------------------------

    def start(self) -> None:
        if self._thread is not None:
            return
        self._unsubscribe = subscribe(self._on_event, (EventKind.STARTED, EventKind.FINISHED))
        self._thread = threading.Thread(
            target=self._write_loop, name="backgrounder-journal", daemon=True
        )
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        """Write what is queued, mark this kernel's unfinished tasks as lost, close the file."""
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None
        thread = self._thread
        if thread is None:
            return
        self._stop = True
        self._wake.set()
        thread.join(timeout)
        self._thread = None

    def flush(self, timeout: float = 10.0) -> bool:
        """Wait until everything queued before this call is written, with the running tasks'
        output so far (tests, %tasks)."""
        if self._thread is None:
            return True
        self._tails_now = True
        with self._flushed:
            target = self._batches + 2  # the batch under way may have missed our records
            self._wake.set()
            return self._flushed.wait_for(lambda: self._batches >= target, timeout)

    # -- events (any thread: a list append, nothing more) -----------------------------------

    def _on_event(self, event: TaskEvent) -> None:
        task = event.task
        if isinstance(task, (Task, Tasks)):
            self._queue.append(task)
            # no wake-up for a long queue: writing mid-burst would compete with the tasks for
            # the GIL (a 10,000-task group took 1.5x as long); the queue holds references only
            if len(self._queue) > QUEUE_WAKE:
                self._wake.set()

    # -- the writer thread ------------------------------------------------------------------

    def _write_loop(self) -> None:
        self._open()
        last_tail = last_beat = time.monotonic()
        while True:
            self._wake.wait(FLUSH_EVERY)
            self._wake.clear()
            stopping = self._stop
            now = time.monotonic()
            tails = now - last_tail >= TAIL_EVERY or stopping or self._tails_now
            if tails:
                self._tails_now = False
                last_tail = now
            beat = now - last_beat >= HEARTBEAT_EVERY
            if beat:
                last_beat = now
            self._write_batch(tails=tails, heartbeat=beat, closing=stopping)
            with self._flushed:
                self._batches += 1
                self._flushed.notify_all()
            if stopping:
                break
        if self._db is not None:
            with contextlib.suppress(sqlite3.Error):
                self._db.close()

    def _open(self) -> None:
        db = None
        if self.path is not None:
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                db = self._connect(str(self.path))
            except (OSError, sqlite3.Error) as exc:
                self._fall_back(exc)
                return
        else:
            db = self._connect(":memory:")
        self._db = db

    def _connect(self, where: str) -> sqlite3.Connection:
        db = sqlite3.connect(where, timeout=5.0, isolation_level=None, check_same_thread=False)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=NORMAL")
        db.executescript(_SCHEMA)
        if "attempts" not in _columns(db):  # a journal written before retries existed
            with contextlib.suppress(sqlite3.OperationalError):  # another kernel added it
                db.execute("ALTER TABLE tasks ADD COLUMN attempts INTEGER")
        db.execute(
            "INSERT OR REPLACE INTO kernels VALUES (?, ?, ?, ?, ?)",
            (self.kernel, os.getpid(), socket.gethostname(), self._started, time.time()),
        )
        return db

    def _fall_back(self, exc: BaseException) -> None:
        """The file cannot be used: warn once, keep this kernel's records in memory."""
        if self._db is not None:
            with contextlib.suppress(sqlite3.Error):
                self._db.close()
        self.in_memory = True
        self.warning = (
            f"backgrounder: the task journal {self.path} cannot be written "
            f"({type(exc).__name__}: {exc}); this kernel's tasks are kept in memory only"
        )
        warnings.warn(self.warning, RuntimeWarning, stacklevel=1)
        self._db = self._connect(":memory:")

    def _write_batch(self, *, tails: bool, heartbeat: bool, closing: bool) -> None:
        queue = self._queue
        seen: dict[int, Task] = {}
        groups: dict[int, Tasks] = {}
        while queue:
            item = queue.popleft()
            if isinstance(item, Task):
                seen[item.id] = item
            else:
                groups[item.id] = item
        for group in groups.values():
            if group.state.finished:
                self._groups.pop(group.id, None)
            else:
                self._groups[group.id] = group
        if tails:  # running groups: their counts so far
            for group in self._groups.values():
                groups.setdefault(group.id, group)
        for task in seen.values():
            if task.state.finished:
                self._running.pop(task.id, None)
            else:
                self._running[task.id] = task
        if tails:  # running tasks: their state and the tail of what they printed so far
            for task in self._running.values():
                seen.setdefault(task.id, task)
        if len(seen) > self.retain_rows:  # a huge batch: only the newest would be kept
            seen = dict(list(seen.items())[-self.retain_rows :])
        rows = [self._row(task) for task in seen.values()]
        group_rows = [self._group_row(group) for group in groups.values()]
        try:
            self._write(rows, group_rows, heartbeat=heartbeat or closing)
        except sqlite3.Error as exc:
            if self.in_memory:
                return  # nothing left to fall back to; the records of this batch are lost
            self._fall_back(exc)
            with contextlib.suppress(sqlite3.Error):
                self._write(rows, group_rows, heartbeat=True)

    def _write(
        self,
        rows: list[dict[str, Any]],
        group_rows: list[dict[str, Any]],
        *,
        heartbeat: bool,
    ) -> None:
        db = self._db
        if db is None or (not rows and not group_rows and not heartbeat):
            return
        with db:  # one transaction
            db.execute("BEGIN IMMEDIATE")
            if rows:
                db.executemany(_UPSERT, rows)
            if group_rows:
                db.executemany(_UPSERT_GROUP, group_rows)
            if heartbeat:
                db.execute(
                    "UPDATE kernels SET seen = ? WHERE kernel = ?", (time.time(), self.kernel)
                )
            self._prune(db, bool(rows or group_rows))

    def _prune(self, db: sqlite3.Connection, wrote: bool) -> None:
        if not wrote:
            return
        db.execute(
            "DELETE FROM tasks WHERE seq <= (SELECT seq FROM tasks ORDER BY seq DESC "
            "LIMIT 1 OFFSET ?)",
            (self.retain_rows,),
        )
        db.execute(
            "DELETE FROM groups WHERE seq <= (SELECT seq FROM groups ORDER BY seq DESC "
            "LIMIT 1 OFFSET ?)",
            (RETAIN_GROUPS,),
        )
        cutoff = time.time() - self.retain_days * 86_400
        db.execute("DELETE FROM tasks WHERE coalesce(ended, started, 0) < ?", (cutoff,))
        db.execute("DELETE FROM groups WHERE written < ?", (cutoff,))
        db.execute(
            "DELETE FROM kernels WHERE kernel != ? AND kernel NOT IN "
            "(SELECT DISTINCT kernel FROM tasks UNION SELECT DISTINCT kernel FROM groups)",
            (self.kernel,),
        )

    def _row(self, task: Task) -> dict[str, Any]:
        """The record of ``task`` now (the writer thread reads only public properties)."""
        self._seq = max(self._seq + 1, int(time.time() * 1000) * 1000)
        state = task.state
        output = task.output
        dropped = task.output_dropped + max(0, len(output) - OUTPUT_TAIL)
        exc = task.exception if state is TaskState.FAILED else None
        started, ended = task.started_at, task.ended_at
        traceback = task.traceback if exc is not None else None
        return {
            "kernel": self.kernel,
            "id": task.id,
            "seq": self._seq,
            "name": task.name,
            "call": call_text(task.func, task.args, task.kwargs),
            "state": state.value,
            "started": started.timestamp() if started is not None else None,
            "ended": ended.timestamp() if ended is not None else None,
            "result": safe_repr(task.result) if state is TaskState.DONE else None,
            "error": error_line(exc, limit=500),
            "traceback": traceback[-TEXT_LIMIT:] if traceback else None,
            "output": output[-OUTPUT_TAIL:],
            "output_dropped": dropped,
            "attempts": task.attempt,
        }

    def _group_row(self, group: Tasks) -> dict[str, Any]:
        """The record of ``group`` now: its counts per state (one pass over its tasks)."""
        self._seq = max(self._seq + 1, int(time.time() * 1000) * 1000)
        counts = group.counts()
        made, total = len(group), group.total  # a map: inputs not read yet count as pending
        if total is not None and total > made:
            counts[TaskState.PENDING] += total - made
        started = group.started_at
        elapsed = group.elapsed
        ended = (
            started.timestamp() + elapsed
            if group.state.finished and started is not None and elapsed is not None
            else None
        )
        row: dict[str, Any] = {
            "kernel": self.kernel,
            "id": group.id,
            "seq": self._seq,
            "name": group.name,
            "state": group.state.value,
            "total": made if total is None else total,
            "known": total is not None,
            "started": started.timestamp() if started is not None else None,
            "ended": ended,
            "written": time.time(),
        }
        row.update((state.value, counts[state]) for state in TaskState)
        return row

    # -- reading ------------------------------------------------------------------------------

    def previous(self, limit: int = 100) -> list[JournalRecord]:
        """The newest records of earlier (or other) kernels of this notebook, newest first.

        A task still marked running or pending whose kernel is gone is ``lost``: its kernel
        stopped before it ended (nothing is re-run).
        """
        if self.path is None or self.in_memory:
            return []
        # the writer added the attempts column to an older file when it opened it
        kernels, rows = _read(
            self.path,
            "SELECT kernel, id, name, call, state, started, ended, result, error, "
            "traceback, output, output_dropped, attempts FROM tasks WHERE kernel != ? "
            "ORDER BY seq DESC LIMIT ?",
            (self.kernel, limit),
        )
        records = []
        for row in rows:
            state = row[4]
            lost = state in ("running", "pending") and not _alive(*kernels.get(row[0], _NOBODY))
            (
                kernel,
                tid,
                name,
                call,
                _,
                started,
                ended,
                result,
                error,
                tb,
                output,
                dropped,
                tries,
            ) = row
            records.append(
                JournalRecord(
                    kernel=kernel,
                    id=tid,
                    name=name,
                    call=call,
                    state=state,
                    started=started,
                    ended=ended,
                    result=result,
                    error=error,
                    traceback=tb,
                    output=output or "",
                    output_dropped=dropped or 0,
                    lost=lost,
                    attempts=tries or 1,
                )
            )
        return records

    def previous_groups(self, limit: int = 20) -> list[GroupRecord]:
        """The newest group records of earlier (or other) kernels of this notebook, newest
        first; a group still running whose kernel is gone is ``lost``, with its last counts."""
        if self.path is None or self.in_memory:
            return []
        kernels, rows = _read(
            self.path,
            "SELECT kernel, id, name, state, total, started, ended, written, known, "
            + ", ".join(state.value for state in TaskState)
            + " FROM groups WHERE kernel != ? ORDER BY seq DESC LIMIT ?",
            (self.kernel, limit),
        )
        records = []
        for row in rows:
            kernel, gid, name, state, total, started, ended, written, known, *counts = row
            lost = state == "running" and not _alive(*kernels.get(kernel, _NOBODY))
            records.append(
                GroupRecord(
                    kernel=kernel,
                    id=gid,
                    name=name,
                    state=state,
                    total=total or 0,
                    counts={s.value: n or 0 for s, n in zip(TaskState, counts, strict=True)},
                    started=started,
                    ended=ended,
                    written=written or 0.0,
                    lost=lost,
                    known=known is None or bool(known),
                )
            )
        return records


_NOBODY = (None, None, None)


def _read(path: Path, query: str, args: tuple[Any, ...]) -> tuple[dict[str, Any], list[Any]]:
    """The kernels (pid, host, last seen) and the rows of ``query``, read-only; nothing if
    the file cannot be read (it may not exist yet, or be from an older version)."""
    try:
        db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5.0)
    except sqlite3.Error:
        return {}, []
    try:
        kernels = {
            row[0]: (row[1], row[2], row[3])
            for row in db.execute("SELECT kernel, pid, host, seen FROM kernels")
        }
        return kernels, db.execute(query, args).fetchall()
    except sqlite3.Error:
        return {}, []
    finally:
        db.close()


def _columns(db: sqlite3.Connection) -> set[str]:
    return {row[1] for row in db.execute("PRAGMA table_info(tasks)")}


def _alive(pid: int | None, host: str | None, seen: float | None) -> bool:
    """Whether a kernel that wrote to the journal still runs."""
    if pid is None:
        return False
    if host == socket.gethostname():
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:  # another user's process with that pid
            return True
        return True
    return seen is not None and time.time() - seen < 4 * HEARTBEAT_EVERY


def records_text(records: Iterable[JournalRecord]) -> str:
    """Plain text of earlier kernels' records (control characters shown escaped)."""
    lines = []
    for rec in records:
        state = "lost: the kernel stopped" if rec.lost else rec.state
        when = "-" if rec.started is None else _clock(rec.started)
        line = f"#{rec.id} {_printable(rec.name)}  {state}  started {when}"
        if rec.attempts > 1:
            line += f"  after {rec.attempts} attempts"
        if rec.error:
            line += f"  {_printable(rec.error)}"
        elif rec.result is not None:
            line += f"  -> {_printable(rec.result)}"
        lines.append(line)
    return "\n".join(lines) if lines else "no tasks from earlier kernels of this notebook"


def _clock(timestamp: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(timestamp))


def _printable(text: str) -> str:
    return "".join(ch if ch.isprintable() else repr(ch)[1:-1] for ch in text)


class PreviousView:
    """What ``%tasks --previous`` shows: earlier kernels' tasks of this notebook, newest first."""

    def __init__(
        self,
        records: list[JournalRecord],
        where: Path | None,
        groups: list[GroupRecord] | None = None,
    ) -> None:
        self.records = records
        self.where = where
        self.groups = groups or []

    def _repr_mimebundle_(self, **_: Any) -> dict[str, Any]:
        return {"text/plain": self._text(), "text/html": self._html()}

    def __repr__(self) -> str:
        return self._text()

    def _title(self) -> str:
        n = len(self.records)
        lost = sum(record.lost for record in self.records)
        title = f"{n} task{'s' if n != 1 else ''} from earlier kernels of this notebook"
        return title + (f" ({lost} lost: the kernel stopped)" if lost else "")

    def _text(self) -> str:
        if not self.records and not self.groups:
            return records_text([])
        groups = "".join(f"{group.summary()}\n" for group in self.groups)
        return self._title() + "\n" + groups + records_text(self.records)

    def _html(self) -> str:
        if not self.records and not self.groups:
            return f"<div>{escape(records_text([]))}</div>"
        groups = "".join(
            f"<div class='bg-group' data-state='{'lost' if group.lost else escape(group.state)}'>"
            f"{escape(group.summary())}</div>"
            for group in self.groups
        )
        rows = []
        for rec in self.records:
            state = "lost: the kernel stopped" if rec.lost else rec.state
            when = "-" if rec.started is None else _clock(rec.started)
            outcome = rec.error or (f"→ {rec.result}" if rec.result is not None else "")
            details = "".join(
                f"<pre style='white-space:pre-wrap;margin:2px 0 6px 16px'>{escape(text)}</pre>"
                for text in (rec.traceback, rec.output)
                if text
            )
            tries = f" · after {rec.attempts} attempts" if rec.attempts > 1 else ""
            line = (
                f"<span style='font-family:monospace'>#{rec.id}</span> "
                f"<b>{escape(rec.name)}</b> · {escape(state)}{tries} · {escape(when)} "
                f"<span style='font-family:monospace'>{escape(outcome)}</span>"
            )
            data = "lost" if rec.lost else escape(rec.state)
            rows.append(
                f"<details class='bg-row' data-state='{data}'><summary>{line}</summary>"
                f"{details}</details>"
                if details
                else f"<div class='bg-row' data-state='{data}'>{line}</div>"
            )
        where = f" <span style='color:#80868b'>({escape(str(self.where))})</span>"
        return (
            f"<div class='bg-table bg-previous'><div><b>{escape(self._title())}</b>{where}</div>"
            + groups
            + "".join(rows)
            + "</div>"
        )
