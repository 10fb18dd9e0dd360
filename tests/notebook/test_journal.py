"""The task journal: real SQLite files, real processes that die mid-task, two writers at once."""

from __future__ import annotations

import os
import sqlite3
import stat
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from backgrounder import Task, Tasks
from backgrounder.notebook.journal import (
    GroupRecord,
    Journal,
    JournalRecord,
    PreviousView,
    default_path,
    records_text,
)

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def journal(tmp_path: Path) -> Iterator[Journal]:
    j = Journal(tmp_path / "nb.sqlite3")
    j.start()
    yield j
    j.stop()


def rows(path: Path, kernel: str | None = None) -> list[sqlite3.Row]:
    db = sqlite3.connect(path)
    db.row_factory = sqlite3.Row
    try:
        query = "SELECT * FROM tasks" + (" WHERE kernel = ?" if kernel else "") + " ORDER BY id"
        return db.execute(query, (kernel,) if kernel else ()).fetchall()
    finally:
        db.close()


def fail(message: str) -> None:
    raise ValueError(message)


def chatty(n: int) -> int:
    for i in range(n):
        print(f"line {i}")
    return n


async def test_every_finished_task_is_recorded_with_its_outcome(
    journal: Journal, tmp_path: Path
) -> None:
    from backgrounder import capture_output, release_output

    capture_output()
    try:
        group = Tasks([Task(chatty, 3), Task(fail, "card declined")], as_group=True)
        with pytest.raises(Exception):  # noqa: B017 - the group's ExceptionGroup
            await group()
    finally:
        release_output()
    assert journal.flush()
    done, failed = rows(tmp_path / "nb.sqlite3", journal.kernel)
    assert (done["name"], done["state"], done["result"]) == ("chatty(3)", "done", "3")
    assert done["output"] == "line 0\nline 1\nline 2\n"
    assert done["started"] <= done["ended"]
    assert (failed["state"], failed["error"]) == ("failed", "ValueError: card declined")
    assert "card declined" in failed["traceback"] and "fail" in failed["traceback"]
    assert failed["call"] == "fail('card declined')"


async def test_records_are_bounded(tmp_path: Path) -> None:
    journal = Journal(tmp_path / "small.sqlite3", retain_rows=100)
    journal.start()
    try:
        for _ in range(5):
            await Tasks([Task(int, i) for i in range(400)], as_group=True)()
            assert journal.flush()
    finally:
        journal.stop()
    kept = rows(tmp_path / "small.sqlite3")
    assert len(kept) == 100
    assert {row["id"] for row in kept} == set(range(kept[0]["id"], kept[0]["id"] + 100))


async def test_a_read_only_place_degrades_to_memory_with_one_warning(tmp_path: Path) -> None:
    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(stat.S_IRUSR | stat.S_IXUSR)
    if os.access(folder, os.W_OK):  # root ignores permissions: use a path under a file
        target = tmp_path / "a-file"
        target.write_text("")
        path = target / "journal.sqlite3"
    else:
        path = folder / "journal.sqlite3"
    journal = Journal(path)
    with pytest.warns(RuntimeWarning, match="cannot be written") as caught:
        journal.start()
        assert await Task(chatty, 1)() == 1
        assert journal.flush()
    journal.stop()
    assert len(caught) == 1
    assert journal.in_memory and journal.previous() == []


def run_writer(path: Path, code: str) -> None:
    """Run ``code`` in a new Python process whose journal writes to ``path``."""
    done = subprocess.run(
        [sys.executable, "-c", _writer_script(path, code)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr


def _writer_script(path: Path, code: str) -> str:
    return textwrap.dedent(
        f"""
        import asyncio, os, sys, time
        from backgrounder import Task, Tasks, capture_output
        from backgrounder.notebook.journal import Journal

        journal = Journal({str(path)!r})
        journal.start()
        capture_output()
        """
    ) + textwrap.dedent(code)


def test_tasks_running_when_the_process_died_are_lost_with_their_last_output(
    tmp_path: Path,
) -> None:
    path = tmp_path / "nb.sqlite3"
    code = """
    import threading
    printed = threading.Event()

    def long_job():
        print("step 1 of 100")
        printed.set()
        time.sleep(3600)

    async def main():
        await Task(chatty_done)()
        handle = Task(long_job).start()
        await asyncio.to_thread(printed.wait)
        assert journal.flush(10)  # with the running tasks' output so far
        os._exit(0)  # a crash: no exit hooks, no clean-up

    def chatty_done():
        print("finished fine")
        return 42

    asyncio.run(main())
    """
    run_writer(path, code)
    reader = Journal(path)
    records = {record.name: record for record in reader.previous()}
    assert set(records) == {"chatty_done()", "long_job()"}
    assert records["chatty_done()"].state == "done" and not records["chatty_done()"].lost
    assert records["chatty_done()"].result == "42"
    lost = records["long_job()"]
    assert lost.lost and lost.state == "running"
    assert lost.output == "step 1 of 100\n"
    assert "lost: the kernel stopped" in records_text([lost])
    html = PreviousView(reader.previous(), path)._repr_mimebundle_()["text/html"]
    assert "data-state='lost'" in html and "step 1 of 100" in html


def test_a_group_lost_with_its_process_says_how_far_it_got(tmp_path: Path) -> None:
    path = tmp_path / "nb.sqlite3"
    code = """
    import threading
    two_running = threading.Barrier(3)

    def step(i):
        if i >= 2:  # the third and fourth hang; the last two never start (limit=2)
            two_running.wait()
            time.sleep(3600)
        return i

    def endless():
        i = 0
        while True:
            yield i
            i += 1

    async def main():
        await Tasks([Task(step, i) for i in range(2)], as_group=True, name="warm-up")()
        group = Tasks([Task(step, i) for i in range(6)], as_group=True, limit=2, name="sweep")
        handle = group.start()
        await asyncio.to_thread(two_running.wait)
        # a map of a list counts its unread inputs; one of a generator cannot
        two_running.reset()
        listed = Tasks.map(step, [0, 1, 2, 3, 4, 5], limit=2, name="listed").start()
        await asyncio.to_thread(two_running.wait)
        two_running.reset()
        endless_map = Tasks.map(step, endless(), limit=2, name="endless").start()
        await asyncio.to_thread(two_running.wait)
        assert journal.flush(10)  # with the running groups' counts so far
        os._exit(0)  # a crash: no exit hooks, no clean-up

    asyncio.run(main())
    """
    run_writer(path, code)
    reader = Journal(path)
    groups = {group.name: group for group in reader.previous_groups()}
    assert set(groups) == {"warm-up", "sweep", "listed", "endless"}
    listed, endless = groups["listed"].summary(), groups["endless"].summary()
    assert listed.startswith("listed (6 tasks) lost: the kernel stopped: 2 not started, 2 running")
    assert endless.startswith("endless (4 tasks so far, more inputs unread) lost: the kernel")
    assert "stopped: 2 running, 2 done (as of " in endless
    assert not groups["warm-up"].lost and groups["warm-up"].state == "done"
    sweep = groups["sweep"]
    assert sweep.lost and sweep.total == 6
    assert sweep.counts == {"pending": 2, "running": 2, "done": 2, "failed": 0, "cancelled": 0}
    assert sweep.summary().startswith(
        "sweep (6 tasks) lost: the kernel stopped: 2 not started, 2 running, 2 done (as of "
    )
    bundle = PreviousView(reader.previous(), path, reader.previous_groups())._repr_mimebundle_()
    assert "sweep (6 tasks) lost: the kernel stopped: 2 not started" in bundle["text/plain"]
    assert "warm-up (2 tasks) done: 2 done" in bundle["text/plain"]
    assert "class='bg-group' data-state='lost'" in bundle["text/html"]


def test_earlier_records_are_escaped_in_every_view() -> None:
    record = JournalRecord(
        kernel="k",
        id=7,
        name="<script>alert(1)</script>\x1b[2J",
        call="f()",
        state="failed",
        started=0.0,
        ended=1.0,
        result=None,
        error="ValueError: <b>bad</b>",
        traceback="Traceback <i>",
        output="\x1b]0;title\x07<img src=x>",
        output_dropped=0,
    )
    group = GroupRecord(
        kernel="k",
        id=3,
        name="<script>g</script>\x1b[2J",
        state="running",
        total=1,
        counts={"pending": 0, "running": 1, "done": 0, "failed": 0, "cancelled": 0},
        started=0.0,
        ended=None,
        written=1.0,
        lost=True,
    )
    bundle = PreviousView([record], None, [group])._repr_mimebundle_()
    html = bundle["text/html"]
    assert "<script>" not in html and "<b>bad" not in html and "<img" not in html
    assert "&lt;script&gt;" in html and "&lt;img src=x&gt;" in html
    assert "\x1b" not in html and "\x1b" not in bundle["text/plain"]
    assert "\\x1b" in bundle["text/plain"]


def test_two_processes_write_one_journal_at_once(tmp_path: Path) -> None:
    path = tmp_path / "shared.sqlite3"
    code = """
    async def main():
        for round in range(20):
            await Tasks([Task(int, i) for i in range(50)], as_group=True)()
            journal.flush(10)
        journal.stop()
        print(journal.kernel, journal.in_memory)

    asyncio.run(main())
    """
    script = _writer_script(path, code)
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", script],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    outputs = [proc.communicate(timeout=180) for proc in procs]
    for proc, (out, err) in zip(procs, outputs, strict=True):
        assert proc.returncode == 0, err
        assert out.split()[1] == "False", err  # neither fell back to memory
    kernels = {out.split()[0] for out, _ in outputs}
    db = sqlite3.connect(path)
    try:
        assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        counts = dict(db.execute("SELECT kernel, count(*) FROM tasks GROUP BY kernel"))
    finally:
        db.close()
    assert counts == dict.fromkeys(kernels, 1000)


def test_the_default_place_is_one_file_per_notebook(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("BACKGROUNDER_JOURNAL", raising=False)
    monkeypatch.delenv("JPY_SESSION_NAME", raising=False)
    a = default_path({"__session__": "/home/me/work/train.ipynb"})
    b = default_path({"__session__": "/home/me/other/train.ipynb"})
    assert a is not None and b is not None
    assert a.name.startswith("train-") and a.suffix == ".sqlite3" and a != b
    assert a == default_path({"__session__": "/home/me/work/train.ipynb"})
    monkeypatch.setenv("BACKGROUNDER_JOURNAL", "off")
    assert default_path({"__session__": "/x.ipynb"}) is None
    monkeypatch.setenv("BACKGROUNDER_JOURNAL", str(tmp_path / "mine.sqlite3"))
    assert default_path() == tmp_path / "mine.sqlite3"


@pytest.mark.kernel
def test_after_a_kernel_restart_previous_shows_what_ran_and_what_was_lost(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from .kernel_client import Kernel

    monkeypatch.setenv("BACKGROUNDER_JOURNAL", str(tmp_path / "nb.sqlite3"))
    kernel = Kernel(cwd=tmp_path)
    try:
        setup = kernel.execute(
            "%load_ext backgrounder\n"
            "import threading, time\n"
            "from backgrounder import Task\n"
            "printed = threading.Event()\n"
            "def fine(): return 42\n"
            "def endless():\n"
            "    print('epoch 1 of 100')\n"
            "    printed.set()\n"
            "    time.sleep(3600)\n"
            "await Task(fine)()\n"
            "h = %background endless\n"
            "import asyncio\n"
            "await asyncio.to_thread(printed.wait, 30)  # a blocking wait would hold the loop\n"
            "journal = get_ipython().magics_manager.registry['BackgroundMagics'].journal\n"
            "journal.flush(30)"
        )
        assert setup.status == "ok", setup.stderr
        kernel.manager.restart_kernel(now=True)  # killed: no exit hook runs
        kernel.client.wait_for_ready(timeout=60)
        shown = kernel.execute("%load_ext backgrounder\n%tasks --previous")
        assert shown.status == "ok", shown.stderr
    finally:
        kernel.shutdown()
    text = shown.displays[-1]["text/plain"]
    assert "2 tasks from earlier kernels of this notebook (1 lost: the kernel stopped)" in text
    assert "fine()  done" in text and "-> 42" in text
    assert "endless()  lost: the kernel stopped" in text
    assert "epoch 1 of 100" in shown.displays[-1]["text/html"]


async def test_a_retried_task_records_its_attempts_and_older_files_are_migrated(
    tmp_path: Path,
) -> None:
    path = tmp_path / "old.sqlite3"
    old = sqlite3.connect(path)  # a journal written before retries existed: no attempts
    old.executescript(
        "CREATE TABLE tasks (kernel TEXT NOT NULL, id INTEGER NOT NULL, seq INTEGER NOT NULL,"
        " name TEXT, call TEXT, state TEXT, started REAL, ended REAL, result TEXT, error TEXT,"
        " traceback TEXT, output TEXT, output_dropped INTEGER, PRIMARY KEY (kernel, id));"
        f"INSERT INTO tasks VALUES ('gone', 1, 1, 'old()', 'old()', 'done', {time.time()},"
        f" {time.time()}, '1', NULL, NULL, '', 0);"
    )
    old.close()
    calls: list[int] = []

    def second_time() -> str:
        calls.append(1)
        if len(calls) < 2:
            raise OSError("flaky")
        return "ok"

    journal = Journal(path)
    journal.start()
    try:
        retried = Task(second_time).options(name="second_time()", retries=2, retry_delay=0)
        assert await retried() == "ok"
        await Task(int, 1)()
        assert journal.flush()
    finally:
        journal.stop()
    records = {row["name"]: row["attempts"] for row in rows(path)}
    assert records == {"old()": None, "second_time()": 2, "int(1)": 1}
    previous = Journal(path).previous()  # as the next kernel reads them
    assert {rec.name: rec.attempts for rec in previous} == records | {"old()": 1}
    record = JournalRecord("k", 1, "f()", "f()", "done", 0.0, 1.0, "1", None, None, "", 0, False, 3)
    assert "after 3 attempts" in records_text([record])
    assert "after 3 attempts" in PreviousView([record], None)._repr_mimebundle_()["text/html"]
