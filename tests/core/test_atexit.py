"""At exit, unfinished background work is waited for with a bound, then cancelled and unwound."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time


def run(code: str, exit_timeout: str) -> tuple[subprocess.CompletedProcess[str], float]:
    env = {**os.environ, "BACKGROUNDER_EXIT_TIMEOUT": exit_timeout}
    began = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-W", "error", "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
    )
    return done, time.monotonic() - began


def test_short_work_is_waited_for() -> None:
    done, _ = run(
        """
        import time
        from backgrounder import background

        @background
        def save():
            time.sleep(0.2)
            print("saved", flush=True)

        save()
        print("script ends", flush=True)
        """,
        exit_timeout="30",
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["script", "ends", "saved"]


def test_endless_work_is_cancelled_and_its_finally_runs() -> None:
    done, elapsed = run(
        """
        import asyncio, threading
        from backgrounder import background, cancelled

        began = [threading.Event() for _ in range(3)]

        @background
        async def forever():
            began[0].set()
            try:
                await asyncio.sleep(3600)
            finally:
                print("async finally ran", flush=True)

        @background
        def polite():
            began[1].set()
            try:
                while not cancelled():
                    threading.Event().wait(0.01)
            finally:
                print("sync finally ran", flush=True)

        @background
        def rude():  # ignores cancelled(): its daemon thread must not hold the exit
            began[2].set()
            threading.Event().wait(3600)

        forever(), polite(), rude()
        assert all(event.wait(30) for event in began)
        print("script ends", flush=True)
        """,
        exit_timeout="0.3",
    )
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0] == "script ends"
    assert sorted(lines[1:]) == ["async finally ran", "sync finally ran"]
    assert elapsed < 20  # 0.3 s of waiting, then cancellation: no hang on leftover threads
