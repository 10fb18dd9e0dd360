"""Every ``%background``/``%%background``/``%tasks`` line, however malformed, ends in a
``UsageError`` (one line, no traceback) or a successful parse, and a rejected line changes
nothing. Property-based: hypothesis writes the lines."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from IPython.core.error import UsageError

from backgrounder import Task

WORDS = [
    *("f", "g", "h", "obj.method", "obj.missing", "obj..x", "not_callable", "undefined_name"),
    *("print", "len", "1", "-1", "2.5", "1e400", "'a b'", '"x"', "[1, 2]", "{'k': 1}", "()"),
    *("(", ")", "[", "]", "{", "}", ",", "=", "==", "x=1", "y = 2", "*", "**", "*[1]", "**{}"),
    *("--name", "--group", "--timeout", "--thread-loop", "--bogus", "-", "--", "-x", "--name=a"),
    *("--timeout=0", "--timeout=-1", "--timeout=inf", "--timeout=nan", "--timeout=abc"),
    *("#", "# comment", "\\", "'", '"', "'''", "f(1)", "f(", "lambda: 0", "1/0", ":", "@"),
    *("$", "!", "?", "await", "yield", "async", "None", "...", "0x", "1_", "f'{x'", "b'\\xff'"),
    *("\t", "\r", "\x00", "\x0c", "é", "🙂", "٣", "x" * 300, "[" * 120, ";", "import os"),
]
TASKS_WORDS = ["cancel", "clear", "all", "#1", "1", "999999", "-1", "--", "-h", "x", "ALL"]

line_of_words = st.lists(st.sampled_from(WORDS), max_size=8).flatmap(
    lambda words: st.lists(
        st.sampled_from([" ", "  ", "\t", ""]), min_size=len(words), max_size=len(words)
    ).map(lambda gaps: "".join(g + w for g, w in zip(gaps, words, strict=True)))
)
# IPython hands a line magic one line: no "\n" (other line breaks, such as "\r", can occur)
any_line = st.one_of(line_of_words, st.text(max_size=60).map(lambda s: s.replace("\n", " ")))


class Recorder:
    """Stands in for starting the task: the parse is what is tested, nothing runs."""

    def __init__(self) -> None:
        self.started: list[tuple[Task, str | None, bool]] = []

    def __call__(self, task: Task, group: str | None, thread_loop: bool) -> str:
        self.started.append((task, group, thread_loop))
        return "started"


@pytest.fixture(scope="module")
def magics() -> Iterator[tuple[Any, Recorder]]:
    from IPython.core.getipython import get_ipython
    from IPython.testing.globalipapp import start_ipython

    shell = start_ipython() or get_ipython()
    assert shell is not None
    shell.run_line_magic("load_ext", "backgrounder")
    shell.run_cell(
        "def f(*args, **kwargs):\n"
        "    return args, kwargs\n"
        "def g(x):\n"
        "    return x\n"
        "async def h(x=1):\n"
        "    return x\n"
        "class _O:\n"
        "    def method(self, *a):\n"
        "        return a\n"
        "obj = _O()\n"
        "not_callable = 3\n"
    )
    instance = shell.magics_manager.registry["BackgroundMagics"]
    recorder = Recorder()
    original = instance._start
    instance._start = recorder
    try:
        yield instance, recorder
    finally:
        instance._start = original
        shell.run_line_magic("unload_ext", "backgrounder")


def check_usage_error(exc: UsageError, magic: str, line: str) -> None:
    """One message, on one line unless it quotes a line that has line breaks of its own."""
    text = str(exc)
    assert text.startswith((magic, "%tasks")), text
    assert "Traceback" not in text
    assert len(text.splitlines()) <= len(line.splitlines()) + 1, text


SETTINGS = settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@SETTINGS
@given(line=any_line)
def test_any_background_line_is_a_usage_error_or_a_task(
    magics: tuple[Any, Recorder], line: str
) -> None:
    instance, recorder = magics
    before = len(recorder.started)
    history = len(instance.history.tasks())
    try:
        outcome = instance.background(line)
    except UsageError as exc:
        check_usage_error(exc, "%background", line)
        assert len(recorder.started) == before  # nothing started
    else:
        assert outcome == "started"
        assert len(recorder.started) == before + 1
        task, _, _ = recorder.started[-1]
        assert isinstance(task, Task)
    assert len(instance.history.tasks()) == history


# IPython's own input transformer warns about odd line breaks (e.g. "\x1e"); not ours
@pytest.mark.filterwarnings("ignore:`make_tokens_by_line`:UserWarning")
@SETTINGS
@given(line=line_of_words, cell=st.one_of(st.text(max_size=80), line_of_words))
def test_any_cell_magic_is_a_usage_error_or_a_task(
    magics: tuple[Any, Recorder], line: str, cell: str
) -> None:
    instance, recorder = magics
    before = len(recorder.started)
    try:
        outcome = instance.background(line, cell)
    except UsageError as exc:
        check_usage_error(exc, "%%background", line)
        assert len(recorder.started) == before
    else:
        assert outcome == "started"
        assert len(recorder.started) == before + 1


@SETTINGS
@given(
    line=st.one_of(
        st.lists(st.sampled_from(TASKS_WORDS + WORDS[:20]), max_size=4).map(" ".join),
        st.text(max_size=30),
    )
)
@example(line="'")  # found by hypothesis: shlex's "No closing quotation" was a traceback
def test_any_tasks_line_is_a_usage_error_or_an_answer(
    magics: tuple[Any, Recorder], line: str
) -> None:
    instance, _ = magics
    try:
        instance.tasks(line)
    except UsageError as exc:
        check_usage_error(exc, "%tasks", line)


@pytest.mark.parametrize(
    ("line", "fragment"),
    [
        ("", "which function?"),
        ("f(1)", "did you mean `%background f 1`?"),
        ("undefined_name", "name `undefined_name` is not defined"),
        ("obj.missing", "`obj` has no attribute `missing`"),
        ("not_callable", "`not_callable` is not callable"),
        ("g", "g() cannot take the arguments given"),
        ("g 1 2", "g() cannot take the arguments given"),
        ("f (", "in: f ("),
        ("f 1/0", "ZeroDivisionError"),
        ("--timeout abc f", "--timeout"),
        ("--timeout=-1 f", "timeout must be a positive number"),
        ("--timeout nan f", "timeout must be a positive number"),
        ("--bogus f", "unrecognized arguments"),
    ],
)
def test_malformed_lines_say_what_is_wrong(
    magics: tuple[Any, Recorder], line: str, fragment: str
) -> None:
    instance, recorder = magics
    before = len(recorder.started)
    with pytest.raises(UsageError) as info:
        instance.background(line)
    assert fragment in str(info.value)
    assert len(recorder.started) == before
