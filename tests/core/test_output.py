"""The output router: what a task prints goes to that task; other text passes through."""

from __future__ import annotations

import sys

import anyio
import pytest
from capturing import captured

from backgrounder import EventKind, Task, TaskEvent, Tasks, capture_output, release_output
from backgrounder._output import OutputBuffer


@pytest.mark.anyio
async def test_each_task_gets_its_own_text(capsys: pytest.CaptureFixture[str]) -> None:
    def sync_talk(name: str) -> None:
        print(f"hello from {name}")
        print("oops", file=sys.stderr)

    async def async_talk(name: str) -> None:
        print(f"hello from {name}")
        await anyio.sleep(0)
        print("bye")

    events: list[TaskEvent] = []
    tasks = Tasks([Task(sync_talk, "s"), Task(async_talk, "a")], as_group=True)
    tasks.subscribe(events.append)
    with captured():
        print("outside")
        await tasks()
    s, a = tasks.tasks
    assert s.output == "hello from s\noops\n"
    assert a.output == "hello from a\nbye\n"
    out = capsys.readouterr()
    assert out.out == "outside\n" and out.err == ""
    streams = {e.data[0] for e in events if e.kind is EventKind.OUTPUT and e.task is s}
    assert streams == {"stdout", "stderr"}


@pytest.mark.anyio
async def test_a_printing_listener_does_not_loop(capsys: pytest.CaptureFixture[str]) -> None:
    def on_output(event: TaskEvent) -> None:
        if event.kind is EventKind.OUTPUT:
            print("listener saw", event.data[1].strip())

    tasks = Tasks([Task(print, "x")])
    tasks.subscribe(on_output)
    with captured():
        await tasks()
    assert tasks.tasks[0].output == "x\n"
    assert "listener saw x\n" in capsys.readouterr().out


def test_install_is_counted_and_undone() -> None:
    original = sys.stdout
    capture_output()
    capture_output()
    wrapped = sys.stdout
    assert wrapped is not original
    release_output()
    assert sys.stdout is wrapped
    release_output()
    assert sys.stdout is original
    release_output()  # one too many is harmless
    assert sys.stdout is original


def test_no_output_without_capture() -> None:
    task = Task(print, "x")
    assert task.output == "" and task.output_dropped == 0


def test_buffer_keeps_the_tail() -> None:
    buffer = OutputBuffer(limit=10)
    for i in range(100):
        buffer.append(f"{i % 10}")
    assert buffer.text == "0123456789"
    assert buffer.dropped == 90
    assert OutputBuffer().text == ""
