"""The magics in IPython's in-process shell (the terminal case: text views, loop thread)."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from typing import Any

import pytest
from IPython.core.error import UsageError

import backgrounder
from backgrounder import Handle, TaskState
from backgrounder._loop import loop_thread
from backgrounder.notebook.magics import parse_call, split_options, split_words


@pytest.fixture
def ip(capsys: pytest.CaptureFixture[str]) -> Iterator[Any]:
    """The shell with the extension loaded (after capsys, so the output router wraps it)."""
    from IPython.core.getipython import get_ipython
    from IPython.testing.globalipapp import start_ipython

    shell = start_ipython() or get_ipython()
    assert shell is not None
    shell.run_line_magic("load_ext", "backgrounder")
    shell.run_cell(
        "import asyncio, time, backgrounder\n"
        "def add(x, y=2):\n"
        "    print('adding', x)\n"
        "    return x + y\n"
        "def boom():\n"
        "    raise ValueError('boom')\n"
        "async def later(x):\n"
        "    await asyncio.sleep(0.01)\n"
        "    return x\n"
        "not_callable = 3\n"
    )
    yield shell
    shell.run_line_magic("unload_ext", "backgrounder")


def run(ip: Any, code: str) -> Any:
    # pytest resumes its capture between setup and call, replacing sys.stdout: wrap it again
    backgrounder.capture_output()
    backgrounder.release_output()
    result = ip.run_cell(code)
    if result.error_in_exec is not None and not isinstance(result.error_in_exec, UsageError):
        raise result.error_in_exec
    return result


# -- the parser ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("line", "words"),
    [
        ("f 1 2", ["f", "1", "2"]),
        ('f "a b" [1, 2] x=3', ["f", '"a b"', "[1, 2]", "x=3"]),
        ("f x = 3 y= 4 z =5", ["f", "x=3", "y=4", "z=5"]),
        (
            "--name 'my job' --thread-loop f (1, 2)",
            ["--name", "'my job'", "--thread-loop", "f", "(1, 2)"],
        ),
        ("f {'a': 1} a==b", ["f", "{'a': 1}", "a==b"]),
        ("f 1  # a comment", ["f", "1"]),
        ("", []),
    ],
)
def test_split_words(line: str, words: list[str]) -> None:
    assert split_words(line) == words


def test_o_is_an_option_anywhere_but_minus_names_stay_arguments() -> None:
    options, rest = split_options(split_words("f -o x -y --out=z -1"))
    assert options == ["-o", "x", "--out", "z"]
    assert rest == ["f", "-y", "-1"]


@pytest.mark.parametrize("line", ["f 1 -o", "--name"])
def test_an_option_without_its_value_is_one_line(line: str) -> None:
    with pytest.raises(UsageError, match="needs a value"):
        split_options(split_words(line))


def test_split_options_before_or_after_the_call() -> None:
    words = split_words("--name 'a b' --timeout=5 f -1 x=-2 --thread-loop --group g")
    options, rest = split_options(words)
    assert options == ["--name", "a b", "--timeout", "5", "--thread-loop", "--group", "g"]
    assert rest == ["f", "-1", "x=-2"]


def test_parse_call_evaluates_in_the_namespace() -> None:
    def f(*args: Any, **kwargs: Any) -> None: ...

    ns = {"f": f, "n": 10}
    func, args, kwargs = parse_call(["f", "n + 1", "[n]", "*[1, 2]", "key=n", "**{'z': 0}"], ns)
    assert func is f
    assert args == (11, [10], 1, 2)
    assert kwargs == {"key": 10, "z": 0}


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("nope 1", "name `nope` is not defined"),
        ("not_callable", "`not_callable` is not callable"),
        ("add 1 2 3", "add() cannot take the arguments given"),
        ("add (1", "in: add (1"),
        ("add 1 )", "syntax error"),
        ("add missing_name", "NameError: name 'missing_name' is not defined"),
        ("add(1)", "did you mean `%background add 1`?"),
        ("--bogus add 1", "unrecognized arguments: --bogus"),
        ("--timeout soon add 1", "--timeout"),
        ("--timeout -1 add 1", "timeout must be a positive number"),
        ("", "which function?"),
        ("asyncio.nope", "`asyncio` has no attribute `nope`"),
    ],
)
def test_bad_input_gives_one_line(
    ip: Any, capsys: pytest.CaptureFixture[str], line: str, message: str
) -> None:
    result = run(ip, f"%background {line}")
    error = result.error_in_exec
    assert isinstance(error, UsageError)
    assert message in str(error)
    assert "\n" not in str(error)
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert err.strip().count("\n") == 0


def test_bad_tasks_input(ip: Any) -> None:
    for line, message in [
        ("cancel 9999", "no task #9999"),
        ("cancel x", "no task is named `x`"),
        ("cancel", "needs a task id"),
        ("frobnicate", "no task is named `frobnicate`"),
        ("cancel ²", "no task is named `²`"),
        ("clear 3", "takes no argument"),
    ]:
        error = run(ip, f"%tasks {line}").error_in_exec
        assert isinstance(error, UsageError) and message in str(error)


# -- the terminal shell -------------------------------------------------------------------------


def test_background_returns_the_handle_and_runs_on_the_loop_thread(
    ip: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    run(ip, "h = %background add 1 y=5")
    handle = ip.user_ns["h"]
    assert isinstance(handle, Handle)
    assert handle.result(10) == 6
    assert handle.loop is loop_thread.loop  # no loop runs between terminal cells
    assert handle.work.output == "adding 1\n"  # the task's print went to its row
    out = capsys.readouterr().out
    assert "add(1, y=5)" in out  # the text view of its row
    assert "adding 1" not in out


def test_background_options(ip: Any) -> None:
    run(ip, "h = %background --name 'my job' --timeout 5 --thread-loop later 4")
    handle = ip.user_ns["h"]
    assert handle.result(10) == 4
    assert handle.work.name == "my job"
    assert handle.work.timeout == 5


def test_named_group_collects_tasks(ip: Any, capsys: pytest.CaptureFixture[str]) -> None:
    run(ip, "h1 = %background --group batch add 1")
    run(ip, "h2 = %background --group batch add 2")
    assert ip.user_ns["h1"].result(10) == 3 and ip.user_ns["h2"].result(10) == 4
    out = capsys.readouterr().out
    assert "batch: 2 tasks" in out


def test_a_named_group_in_a_loop_shows_one_table(
    ip: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    run(ip, "hs = []\nfor i in range(3):\n    h = %background --group loop add i\n    hs += [h]")
    assert [h.result(10) for h in ip.user_ns["hs"]] == [2, 3, 4]
    assert capsys.readouterr().out.count("loop:") == 1


def test_background_decorator_calls_in_a_cell_show_one_table(
    ip: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    run(
        ip,
        "gate = __import__('threading').Event()\n"
        "@backgrounder.background\n"
        "def held(i):\n    gate.wait(10)\n    return i\n",
    )
    run(ip, "hs = [held(i) for i in range(3)]")
    assert "3 tasks started in this cell: 3 tasks" in capsys.readouterr().out
    ip.user_ns["gate"].set()
    assert [h.result(10) for h in ip.user_ns["hs"]] == [0, 1, 2]


def test_cell_magic_sync_and_async(ip: Any) -> None:
    run(ip, "%%background --name sync-cell\nvalue = 20\nprint('in the cell')\nvalue + 1\n")
    run(ip, "h = _")
    sync = ip.user_ns["h"]
    assert isinstance(sync, Handle)
    assert sync.result(10) == 21
    assert sync.work.is_async is False
    assert ip.user_ns["value"] == 20
    assert sync.work.output == "in the cell\n"
    run(ip, "h = %background --name unused later 1")  # the line form next to the cell form
    run(ip, "%%background\nawait asyncio.sleep(0.01)\nawait later(5)\n")
    run(ip, "h = _")
    assert ip.user_ns["h"].work.is_async is True
    assert ip.user_ns["h"].result(10) == 5


def test_cell_magic_bad_input(ip: Any) -> None:
    error = run(ip, "%%background\ndef (:\n").error_in_exec
    assert isinstance(error, UsageError) and "syntax error in the cell, line 1" in str(error)
    error = run(ip, "%%background f\npass\n").error_in_exec
    assert isinstance(error, UsageError) and "unexpected `f`" in str(error)


def test_failures_are_listed_by_tasks(ip: Any, capsys: pytest.CaptureFixture[str]) -> None:
    run(ip, "h = %background boom")
    handle = ip.user_ns["h"]
    with pytest.raises(ValueError):
        handle.result(10)
    capsys.readouterr()
    run(ip, "%tasks")
    out = capsys.readouterr().out
    assert f"#{handle.work.id}" in out and "ValueError: boom" in out
    run(ip, "%tasks clear")
    run(ip, "%tasks")
    assert "ValueError: boom" not in capsys.readouterr().out


def test_tasks_cancel(ip: Any, capsys: pytest.CaptureFixture[str]) -> None:
    run(ip, "gate = __import__('threading').Event()\ndef wait():\n    gate.wait(10)\n")
    run(ip, "h = %background wait")
    handle = ip.user_ns["h"]
    run(ip, f"%tasks cancel {handle.work.id}")
    assert handle.work.state is TaskState.CANCELLED
    assert "cancelled #" in capsys.readouterr().out
    run(ip, "h2 = %background wait\nh3 = %background wait")
    run(ip, "%tasks cancel all")
    assert ip.user_ns["h2"].work.state is TaskState.CANCELLED
    assert ip.user_ns["h3"].work.state is TaskState.CANCELLED
    ip.user_ns["gate"].set()


def test_await_tasks_in_a_terminal_cell_shows_the_final_table(
    ip: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    run(
        ip,
        "tasks = backgrounder.Tasks(as_group=True, name='sweep')\n"
        "for i in range(3):\n    tasks.add_task(later, i)\n"
        "results = await tasks()\n",
    )
    assert ip.user_ns["results"] == [0, 1, 2]
    out = capsys.readouterr().out
    assert "sweep: 3 tasks, 3 done" in out


def test_displaying_a_group_shows_text(ip: Any, capsys: pytest.CaptureFixture[str]) -> None:
    run(ip, "g = backgrounder.Tasks(name='shown')\ng.add_task(add, 1)\ng")
    assert "shown: 1 task, 1 pending" in capsys.readouterr().out


def test_load_twice_and_unload(ip: Any) -> None:
    stdout = sys.stdout
    ip.run_line_magic("load_ext", "backgrounder")  # harmless
    ip.run_line_magic("unload_ext", "backgrounder")
    assert "background" not in ip.magics_manager.magics["line"]
    assert "tasks" not in ip.magics_manager.magics["line"]
    assert "background" not in ip.magics_manager.magics["cell"]
    from backgrounder import Tasks

    formatter = ip.display_formatter.mimebundle_formatter
    with pytest.raises(KeyError):
        formatter.lookup_by_type(Tasks)
    assert type(sys.stdout).__name__ != "TaskStream" or sys.stdout is not stdout
    ip.run_line_magic("load_ext", "backgrounder")
    assert "background" in ip.magics_manager.magics["line"]


def test_without_ipywidgets_a_kernel_gets_text_and_html(monkeypatch: pytest.MonkeyPatch) -> None:
    from backgrounder import Tasks
    from backgrounder.notebook.kernel import Session

    monkeypatch.setitem(sys.modules, "ipywidgets", None)  # import ipywidgets now fails

    class FakeShell:
        kernel = object()

    session = Session(FakeShell())
    assert session.kernel is not None and not session.widgets
    bundle = session.bundle(Tasks(name="plain"))
    assert set(bundle) == {"text/plain", "text/html"}
    assert "plain: 0 tasks" in bundle["text/plain"]


def test_import_alone_loads_no_ipython_or_widgets() -> None:
    import subprocess

    code = (
        "import sys, backgrounder, backgrounder.notebook\n"
        "names = ('IPython', 'ipywidgets', 'ipykernel', 'nest_asyncio')\n"
        "bad = [m for m in names if m in sys.modules]\n"
        "assert not bad, bad"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_tasks_id_or_name_shows_one_task_in_full_and_cancel_takes_a_name(
    ip: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    import threading

    gate = threading.Event()

    def talker(n: int) -> int:
        for i in range(n):
            print(f"said {i}")
        return n

    def waiter() -> None:
        gate.wait(30)

    def usage_error(code: str) -> str:
        error = run(ip, code).error_in_exec
        assert isinstance(error, UsageError), code
        return str(error)

    ip.user_ns.update(talker=talker, waiter=waiter)
    run(ip, "done = %background --name talk talker 2")
    done = ip.user_ns["done"]
    done.result(30)
    capsys.readouterr()
    run(ip, f"%tasks {done.work.id}")
    shown = capsys.readouterr().out
    assert "talk" in shown and "said 0\nsaid 1" in shown
    run(ip, "%tasks talk")  # by its name, unambiguous
    assert "said 1" in capsys.readouterr().out
    run(ip, "waiting = %background --name wait waiter")
    waiting = ip.user_ns["waiting"]
    try:
        run(ip, "%tasks cancel wait")
        assert f"cancelled #{waiting.work.id} wait" in capsys.readouterr().out
    finally:
        gate.set()
    run(ip, "again = %background --name talk talker 2")
    ip.user_ns["again"].result(30)
    assert "2 tasks are named `talk`" in usage_error("%tasks talk")
    assert "no task is named `nobody`" in usage_error("%tasks cancel nobody")
    assert "needs a task id" in usage_error("%tasks cancel")
    assert "no task #99999" in usage_error("%tasks cancel 99999")
