"""``%background``, ``%%background`` and ``%tasks``.

Arguments after the function name are Python expressions separated by spaces (``%background
fetch url retries=3 [1, 2]``), evaluated in the notebook's namespace; brackets and quotes
group as in Python. Every mistake raises ``UsageError``: IPython prints its one line and no
traceback.
"""

# IPython's magic_arguments decorators are untyped.
# mypy: disable-error-code="no-untyped-call,untyped-decorator"

from __future__ import annotations

import ast
import builtins
import inspect
import io
import re
import tokenize
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from IPython.core.error import UsageError
from IPython.core.magic import Magics, line_cell_magic, line_magic, magics_class
from IPython.core.magic_arguments import argument, magic_arguments, parse_argstring

from .. import Handle, Task, thread_stats
from .history import History
from .journal import Journal
from .kernel import Session
from .sources import LooseSource, cancel_task
from .views import display, static_bundle

__all__ = ["BackgroundMagics", "parse_call", "split_words"]

_DOTTED = re.compile(r"[A-Za-z_]\w*(\.[A-Za-z_]\w*)*\Z")
_SKIP = {tokenize.NEWLINE, tokenize.NL, tokenize.ENDMARKER, tokenize.INDENT, tokenize.DEDENT}
_OPTIONS_WITH_VALUE = {"--name", "--group", "--timeout"}
_OPTION = re.compile(r"--[A-Za-z]")


def split_words(line: str, magic: str = "%background") -> list[str]:
    """Split at spaces outside brackets and strings: ``f [1, 2] x="a b"`` -> 3 words."""
    spans: list[tuple[int, int]] = []
    start = end = -1
    depth = 0
    try:
        for tok in tokenize.generate_tokens(io.StringIO(line).readline):
            if tok.type in _SKIP:
                continue
            if tok.type == tokenize.ERRORTOKEN and not tok.string.isspace():
                raise UsageError(f"{magic}: syntax error at {tok.string!r} in: {line.strip()}")
            if tok.type == tokenize.COMMENT:
                break
            s, e = tok.start[1], tok.end[1]
            if start < 0:
                start = s
            elif depth == 0 and s > end:
                spans.append((start, end))
                start = s
            if tok.type == tokenize.OP and tok.string in "([{":
                depth += 1
            elif tok.type == tokenize.OP and tok.string in ")]}":
                depth -= 1
                if depth < 0:
                    raise UsageError(
                        f"{magic}: syntax error: unmatched {tok.string!r} in: {line.strip()}"
                    )
            end = e
    except (tokenize.TokenError, SyntaxError):
        raise UsageError(
            f"{magic}: syntax error: a bracket or a string is not closed in: {line.strip()}"
        ) from None
    if start >= 0:
        spans.append((start, end))
    return _join_equals([line[s:e] for s, e in spans])


def _join_equals(words: list[str]) -> list[str]:
    """``key = value`` written with spaces is still one keyword argument."""
    out: list[str] = []
    for word in words:
        if out and (
            (word.startswith("=") and not word.startswith("=="))
            or (out[-1].endswith("=") and not out[-1].endswith(("==", "!=", "<=", ">=")))
        ):
            out[-1] += word
        else:
            out.append(word)
    return out


def parse_call(
    words: list[str], namespace: dict[str, Any], magic: str = "%background"
) -> tuple[Callable[..., Any], tuple[Any, ...], dict[str, Any]]:
    """``["func", "1", "x=2"]`` -> ``(func, (1,), {"x": 2})``, evaluated in ``namespace``."""
    if not words:
        raise UsageError(f"{magic}: which function? e.g. {magic} func arg1 key=value")
    name, rest = words[0], words[1:]
    if not _DOTTED.match(name):
        hint = ""
        call = re.match(r"([A-Za-z_][\w.]*)\((.*)\)\Z", name)
        if call:
            hint = f"; did you mean `{magic} {call.group(1)} {call.group(2)}`?"
        raise UsageError(f"{magic}: expected the name of a function, got `{name}`{hint}")
    func = _lookup(name, namespace, magic)
    if not callable(func):
        raise UsageError(
            f"{magic}: `{name}` is not callable (it is a {type(func).__name__}); "
            f"give the name of a function"
        )
    if not rest:
        return func, (), {}
    source = "__backgrounder_collect__(" + ", ".join(rest) + ")"
    try:
        ast.parse(source, mode="eval")
    except SyntaxError as exc:
        raise UsageError(
            f"{magic}: syntax error in the arguments `{' '.join(rest)}`: {exc.msg}"
        ) from None
    local = {"__backgrounder_collect__": lambda *a, **k: (a, k)}
    try:
        args, kwargs = eval(compile(source, "<%background arguments>", "eval"), namespace, local)
    except Exception as exc:
        raise UsageError(
            f"{magic}: cannot evaluate the arguments `{' '.join(rest)}`: "
            f"{type(exc).__name__}: {exc}"
        ) from None
    return func, args, kwargs


def _lookup(name: str, namespace: dict[str, Any], magic: str) -> Any:
    first, *attrs = name.split(".")
    if first in namespace:
        value = namespace[first]
    elif hasattr(builtins, first):
        value = getattr(builtins, first)
    else:
        raise UsageError(f"{magic}: name `{first}` is not defined here")
    for i, attr in enumerate(attrs):
        try:
            value = getattr(value, attr)
        except Exception:
            owner = ".".join([first, *attrs[:i]])
            raise UsageError(f"{magic}: `{owner}` has no attribute `{attr}`") from None
    return value


def _option_value(word: str) -> str:
    """``"my job"`` -> ``my job``: option values may be quoted like Python strings."""
    if word[:1] in "'\"" or word[:2].lower() in ("r'", 'r"'):
        try:
            value = ast.literal_eval(word)
        except (ValueError, SyntaxError):
            return word
        if isinstance(value, str):
            return value
    return word


def split_options(words: list[str]) -> tuple[list[str], list[str]]:
    """Split ``--option [value]`` words (before or after the call) from the call's words."""
    options: list[str] = []
    rest: list[str] = []
    i = 0
    while i < len(words):
        word = words[i]
        if not _OPTION.match(word):
            rest.append(word)
        elif "=" in word:
            key, value = word.split("=", 1)
            options += [key, _option_value(value)]
        else:
            options.append(word)
            if word in _OPTIONS_WITH_VALUE and i + 1 < len(words):
                options.append(_option_value(words[i + 1]))
                i += 1
        i += 1
    return options, rest


@magics_class
class BackgroundMagics(Magics):
    """The magics; they share the extension's session (displays) and history (%tasks)."""

    shell: Any  # IPython types it Optional; a registered Magics always has its shell

    def __init__(self, shell: Any, session: Session, history: History) -> None:
        super().__init__(shell)
        self.session = session
        self.history = history
        self.journal: Journal | None = None  # set by the extension unless the journal is off
        self._groups: dict[str, Any] = {}

    @magic_arguments()
    @argument("--name", help="the name shown in the table (default: the call, or the cell)")
    @argument(
        "--group",
        metavar="NAME",
        help="add the task to the named group: one table for all its tasks",
    )
    @argument("--timeout", type=float, help="fail the task with TimeoutError past this many s")
    @argument(
        "--thread-loop",
        action="store_true",
        help="run on the library's own loop thread, so async work goes on while a cell blocks",
    )
    @argument(
        "call",
        nargs="*",
        help="(line form) FUNC ARG ... KEY=VALUE: a function of the notebook and its arguments, "
        "Python expressions separated by spaces",
    )
    @line_cell_magic
    def background(self, line: str, cell: str | None = None) -> Handle:
        """Start a function (``%background``) or the cell (``%%background``) in the background.

        Shows the task's row (or its group's table) and returns its handle at once:
        ``h = %background train model epochs=3``. In a cell, ``%%background`` runs the
        body in a worker thread, or on the notebook's loop if it uses ``await``; what it
        prints goes to its row; its last expression is its result.
        """
        magic = "%%background" if cell is not None else "%background"
        options, rest = split_options(split_words(line, magic))
        if cell is None:
            opts = self._parse_options(magic, [*options, *rest[:1]])
            func, args, kwargs = parse_call(rest, self.shell.user_ns, magic)
        else:
            if rest:
                raise UsageError(
                    f"%%background: unexpected `{' '.join(rest)}`; the cell body is the work "
                    f"(options: --name, --group, --timeout, --thread-loop)"
                )
            opts = self._parse_options(magic, options)
            func, args, kwargs = self._cell_function(cell), (), {}
        try:
            task = Task(func, *args, **kwargs)
            name = opts.name or (func.__name__ if cell is not None else None)
            task.options(name=name, timeout=opts.timeout)
        except (TypeError, ValueError) as exc:
            raise UsageError(f"{magic}: {exc}") from None
        return self._start(task, opts.group, opts.thread_loop)

    def _parse_options(self, magic: str, words: list[str]) -> Any:
        try:
            return self.background.parser.parse_args(words)
        except UsageError as exc:
            raise UsageError(f"{magic}: {exc} (see {magic}?)") from None

    def _start(self, task: Task, group: str | None, thread_loop: bool) -> Handle:
        table = None
        self.history.add(task)
        if group is not None:
            table = self._group_table(group, task)
        handle = task.start(thread_loop=thread_loop or self.session.thread_loop)
        try:
            if table is not None:
                self.session.show_table(table, task)
            else:
                self.session.show(task)
        except Exception as exc:  # a display problem must not lose the handle
            print(f"backgrounder: could not show the table: {exc}")
        return handle

    def _group_table(self, name: str, task: Task) -> Any:
        """The table of the named group, with ``task`` in it.

        A live table takes the task in; one whose tasks all ended is static, so the task
        starts a new table (shown in this cell) rather than reviving the old one. In a
        terminal the group is a list of tasks, shown as text.
        """
        table = self._groups.get(name)
        if self.session.widgets:
            from .table import LiveTable

            if table is None or not table.add(task):
                table = LiveTable(LooseSource(name, [task]))
        elif table is None:
            table = LooseSource(name, [task])
        else:
            table.add(task)
        self._groups[name] = table
        return table

    def _cell_function(self, cell: str) -> Callable[..., Any]:
        """The cell as a function: sync (run in a thread) unless it uses ``await``."""
        shell = self.shell
        source = shell.transform_cell(cell)
        try:
            tree = ast.parse(source)
        except SyntaxError as exc:
            raise UsageError(
                f"%%background: syntax error in the cell, line {exc.lineno}: {exc.msg}"
            ) from None
        filename = shell.compile.cache(source)
        last = None
        if tree.body and isinstance(tree.body[-1], ast.Expr):
            last = ast.Expression(tree.body.pop().value)
        flags = ast.PyCF_ALLOW_TOP_LEVEL_AWAIT
        try:
            body = compile(tree, filename, "exec", flags=flags, dont_inherit=True)
            tail = compile(last, filename, "eval", flags=flags, dont_inherit=True) if last else None
        except SyntaxError as exc:
            raise UsageError(
                f"%%background: syntax error in the cell, line {exc.lineno}: {exc.msg}"
            ) from None
        ns = shell.user_ns
        is_async = any(
            code.co_flags & inspect.CO_COROUTINE for code in (body, tail) if code is not None
        )
        if is_async:

            async def cell_async() -> Any:
                done = eval(body, ns)
                if inspect.isawaitable(done):
                    await done
                if tail is None:
                    return None
                value = eval(tail, ns)
                return (await value) if inspect.iscoroutine(value) else value

            run: Callable[..., Any] = cell_async
        else:

            def cell_sync() -> Any:
                exec(body, ns)
                return eval(tail, ns) if tail is not None else None

            run = cell_sync
        first = next((ln.strip() for ln in cell.splitlines() if ln.strip()), "")
        run.__name__ = run.__qualname__ = f"%%background: {first[:40]}"
        return run

    @magic_arguments()
    @argument(
        "action",
        nargs="?",
        help="ID or NAME: that task in full (its row, traceback and output); "
        "cancel ID|NAME|all: cancel a task (or every unfinished one); "
        "clear: forget the finished ones",
    )
    @argument("target", nargs="?", help="a task id as %%tasks lists it, its name, or `all`")
    @argument(
        "--previous",
        action="store_true",
        help="the tasks of earlier kernels of this notebook, from the journal (those still "
        "running when their kernel stopped are marked lost)",
    )
    @line_magic
    def tasks(self, line: str) -> None:
        """List every task this session started, with its id and state; cancel or clear them."""
        try:
            opts = parse_argstring(self.tasks, line)
        except (UsageError, ValueError) as exc:  # ValueError: shlex, e.g. an unclosed quote
            raise UsageError(f"%tasks: {exc} (see %tasks?)") from None
        if opts.previous:
            if opts.action is not None or opts.target is not None:
                raise UsageError("%tasks --previous takes no other argument")
            self._show_previous()
            return
        if opts.action is None:
            display(HistoryView(self.history))
            return
        if opts.action not in ("cancel", "clear"):  # %tasks ID|NAME: that task in full
            if opts.target is not None:
                raise UsageError(
                    f"%tasks: unexpected `{opts.target}`; use %tasks ID, or %tasks cancel ID|all"
                )
            display(TaskView(self._find(opts.action)))
            return
        if opts.action == "clear":
            if opts.target is not None:
                raise UsageError("%tasks clear takes no argument")
            if self.journal is not None:  # written, and its queue lets go of them too
                self.journal.flush(5)
            print(f"forgot {self.history.clear()} finished tasks")
            return
        if opts.target is None:
            raise UsageError("%tasks cancel needs a task id or name (as %tasks lists it) or `all`")
        if opts.target == "all":
            count = self.history.cancel_all()
            print(f"cancelled {count} task{'' if count == 1 else 's'}")
            return
        task = self._find(opts.target)
        if cancel_task(task):
            print(f"cancelled #{task.id} {task.name}")
        else:
            print(f"#{task.id} {task.name} had already finished ({task.state.value})")

    def _find(self, target: str) -> Task:
        """The task ``target`` names: its id (``7`` or ``#7``), or its name if one task has it."""
        number = target.removeprefix("#")
        if number.isascii() and number.isdigit():  # "²".isdigit() is True
            task = self.history.get(int(number))
            if task is None:
                raise UsageError(f"%tasks: no task #{number} in this session; %tasks lists them")
            return task
        named = [task for task in self.history.tasks() if task.name == target]
        if len(named) == 1:
            return named[0]
        if named:
            ids = ", ".join(f"#{task.id}" for task in named)
            raise UsageError(f"%tasks: {len(named)} tasks are named `{target}` ({ids}): give an id")
        raise UsageError(f"%tasks: no task is named `{target}` in this session; %tasks lists them")

    def _show_previous(self) -> None:
        from .journal import PreviousView

        journal = self.journal
        if journal is None:
            print("backgrounder: the task journal is off (BACKGROUNDER_JOURNAL=off)")
            return
        if journal.warning:
            print(journal.warning)
        display(PreviousView(journal.previous(), journal.path, journal.previous_groups()))


class TaskView:
    """What ``%tasks ID`` displays: one task's row, traceback and output (in a terminal, the
    one place a task's output is shown)."""

    def __init__(self, task: Task) -> None:
        self.task = task

    def _repr_mimebundle_(self, **_: Any) -> dict[str, Any]:
        from .render import attempts_text, row_detail_html, row_html, row_text
        from .snapshot import snapshot_task
        from .terminal import escape_controls, terminal_text

        row = snapshot_task(self.task)
        text = [row_text(row)]
        if row.attempt_errors:
            text.append(attempts_text(row))
        if row.traceback:
            text.append(escape_controls(row.traceback, keep_newlines=True).rstrip("\n"))
        if row.output_dropped:
            text.append(f"[{row.output_dropped} earlier characters dropped]")
        if row.output:
            text.append(terminal_text(row.output).rstrip("\n"))
        html = f'<div class="bg-table bg-task">{row_html(row)}{row_detail_html(row)}</div>'
        return {"text/plain": "\n".join(text), "text/html": html}


class HistoryView:
    """What ``%tasks`` displays: a static listing (ids, states, errors)."""

    def __init__(self, history: History) -> None:
        self.history = history

    def _repr_mimebundle_(self, **_: Any) -> dict[str, Any]:
        snap = self.history.snapshot()
        stuck = thread_stats().abandoned
        if stuck:  # cancelled sync bodies that still run: they hold threads and memory
            note = (
                f"{stuck} worker thread{'s are' if stuck != 1 else ' is'} still running the "
                "body of a cancelled or timed-out task (a thread cannot be stopped)"
            )
            snap = replace(snap, note=f"{snap.note}; {note}" if snap.note else note)
        return static_bundle(snap)
