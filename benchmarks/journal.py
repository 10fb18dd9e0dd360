"""The task journal's cost: a group with the journal writing against the same group without,
and the bytes a task's record takes on disk.

The journal's listener only queues the task; its writer thread writes in batches. Both
contenders run interleaved round by round on one loop (see ``_common``), the journal's writer
thread running all along, as in a kernel.
"""

from __future__ import annotations

import asyncio
import sqlite3
import tempfile
from pathlib import Path

from _common import Config, Row, Samples, atimed, progress, rotate

from backgrounder import Tasks
from backgrounder.notebook.history import History
from backgrounder.notebook.journal import Journal

SECTION = "Task journal"


async def noop() -> None:
    pass


def tiny(i: int) -> int:
    return i + 1


async def group_async(n: int) -> None:
    await Tasks([_task(noop) for _ in range(n)], as_group=True)()


async def group_sync(n: int) -> None:
    await Tasks([_task(tiny, i) for i in range(n)], as_group=True)()


def _task(func: object, *args: object) -> object:
    from backgrounder import Task

    return Task(func, *args)  # type: ignore[arg-type]


async def _measure(cfg: Config, folder: Path) -> list[Row]:
    # In a kernel the %tasks history always listens to the same events: both contenders do.
    history = History()
    history.start()
    rows = []
    for label, body, n in (
        ("async", group_async, cfg.async_tasks),
        ("sync", group_sync, cfg.sync_tasks),
    ):
        samples = Samples()
        journal = Journal(folder / f"{label}.sqlite3")
        for round_no in range(cfg.rounds + 1):
            for name in rotate(["off", "on"], round_no):
                if name == "on":
                    journal.start()
                    await asyncio.to_thread(journal.flush, 60)  # its file open, off the clock
                seconds = await atimed(lambda body=body, n=n: body(n))
                if name == "on":
                    await asyncio.to_thread(journal.flush, 60)  # its writes, off the clock
                    journal.stop()
                    journal = Journal(journal.path)
                if round_no:  # round 0 warms up
                    samples.add(name, seconds)
        ratio = samples.ratio("on", "off")
        rows.append(
            Row(
                SECTION,
                f"{label} group of {n:,}: journal on vs off",
                ratio,
                target="<= 1.05x",
                ok=ratio <= 1.05,
            )
        )
        progress(f"journal {label}: {ratio:.3f}x")
    history.stop()
    return rows


def _bytes_per_task(cfg: Config, folder: Path) -> list[Row]:
    """Disk kept per record, and what a 100,000-task group adds (the journal keeps 10,000)."""
    n = 2_000 if cfg.smoke else 100_000
    path = folder / "size.sqlite3"
    journal = Journal(path)
    journal.start()
    asyncio.run(group_async(n))
    journal.flush(120)
    journal.stop()
    db = sqlite3.connect(path)
    try:
        kept = db.execute("SELECT count(*) FROM tasks").fetchone()[0]
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        db.close()
    size = path.stat().st_size
    return [
        Row(SECTION, "bytes on disk per kept task record", size / max(kept, 1), unit="B"),
        Row(
            SECTION,
            f"journal file after a {n:,}-task group ({kept:,} records kept)",
            size / 2**20,
            unit="MiB",
            target="<= 5 MiB",
            ok=size <= 5 * 2**20,
        ),
    ]


def run(cfg: Config) -> list[Row]:
    with tempfile.TemporaryDirectory(prefix="bench-journal-") as tmp:
        folder = Path(tmp)
        rows = asyncio.run(_measure(cfg, folder))
        rows += _bytes_per_task(cfg, folder)
    return rows
