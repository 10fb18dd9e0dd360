"""Issue 14 in terminal IPython, as a person meets it: a real ``ipython`` in tmux.

Cases whose fix lies in modules being reworked elsewhere are ``xfail(strict=True)``, with
the fix in the reason: they turn into failures (XPASS) the day the fix lands.
"""

from __future__ import annotations

import re

import pytest

from .harness import Terminal

pytestmark = pytest.mark.terminal

TRACEBACK_INTO_ASYNCIO = re.compile(r"asyncio[/\\]base_events\.py|selectors\.py")


def wait_done(term: Terminal, handle: str = "h", timeout: float = 30) -> None:
    term.wait_for(lambda _: term.value(f"{handle}.done()") == "True", timeout)


# -- task output between prompts -------------------------------------------------------------


def test_every_line_a_task_prints_is_its_own_even_between_prompts(fixed: Terminal) -> None:
    fixed.run("h = %background chatty 20 every=0.05")
    fixed.run("1+1")  # the prompt shows while most of the lines are printed
    wait_done(fixed)
    assert fixed.value("h.work.output.count('chatty')") == "20"
    assert "chatty 3" not in fixed.screen()  # nothing leaked into the terminal


def test_other_threads_still_print_above_the_prompt(fixed: Terminal) -> None:
    fixed.run("import threading; threading.Thread(target=print, args=('plain thread',)).start()")
    fixed.wait_for(lambda screen: "plain thread" in screen)


def test_a_tqdm_bar_in_a_task_feeds_it_and_draws_nothing(fixed: Terminal) -> None:
    pytest.importorskip("tqdm")
    fixed.run("h = %background bar 40 every=0.01")
    fixed.run("1+1")
    wait_done(fixed)
    progress = fixed.value("h.work.progress")
    assert progress == "(40, 40)", fixed.value(
        "repr(h.work.output), h.work.state, h.work.exception"
    )
    assert fixed.value("repr(h.work.output)").startswith("'bar: 100%|")
    assert "40/40" not in fixed.screen().replace(fixed.value("h.work.output").strip(), "")


def test_a_tqdm_rich_bar_in_a_task_feeds_it_and_draws_nothing(terminal: Terminal) -> None:
    pytest.importorskip("rich")
    terminal.run("h = %background rich_bar 30")
    terminal.run("1+1")
    wait_done(terminal)
    assert terminal.value("h.work.progress") == "(30, 30)"
    assert "30/30" in terminal.value("h.work.output")
    assert "rich bar 100%" not in terminal.screen().split("h.work.output")[0]


def test_load_ext_alone_routes_task_output_between_prompts(terminal: Terminal) -> None:
    terminal.run("h = %background chatty 10 every=0.05")
    terminal.run("1+1")
    wait_done(terminal)
    assert terminal.value("h.work.output.count('chatty')") == "10"


# -- Ctrl-C during await ---------------------------------------------------------------------


def interrupt_group(term: Terminal) -> str:
    """``await g()`` on 4 tasks sleeping 10 s, Ctrl-C once they run; what the cell showed."""
    term.run("g = sleepers(4, 10)")
    prompt = term.count + 1
    term.type("await g()")
    term.press("Enter")
    term.wait_for(lambda screen: screen.count("[nap begins]") == 4)
    term.press("C-c")
    return term.wait_for_prompt(prompt, timeout=20)


def test_ctrl_c_cancels_the_awaited_group_and_nothing_leaks(fixed: Terminal) -> None:
    shown = interrupt_group(fixed)
    assert not TRACEBACK_INTO_ASYNCIO.search(shown), shown
    assert fixed.value("[t.state.value for t in g.tasks]") == str(["cancelled"] * 4)
    assert fixed.value("g.state.value") == "cancelled"
    later = fixed.run("import asyncio; await asyncio.sleep(0.01); 'fine'")
    assert "Error" not in later and "'fine'" in later, later


def test_ctrl_c_says_so_in_one_line(fixed: Terminal) -> None:
    shown = interrupt_group(fixed)
    said = [line for line in shown.splitlines() if line.strip() and "[nap begins]" not in line]
    # the cell's own line, then the table of the group (shown when the cell ends)
    assert "interrupted" in said[0] and "4 tasks cancelled" in said[0], shown
    assert not any("Traceback" in line or "CancelledError" in line for line in said), shown


def test_without_the_runner_ctrl_c_leaves_the_group_running(terminal: Terminal) -> None:
    """What issue 14 saw, kept as the reference the runner fixes."""
    terminal.run(
        "from backgrounder.notebook import terminal_ipython; "
        "terminal_ipython.uninstall(get_ipython())"
    )
    shown = interrupt_group(terminal)
    assert TRACEBACK_INTO_ASYNCIO.search(shown), shown
    assert terminal.value("[t.state.value for t in g.tasks]") == str(["running"] * 4)


# -- %background in a terminal ----------------------------------------------------------------


def test_background_prints_one_true_line(terminal: Terminal) -> None:
    terminal.run("import time")
    shown = terminal.run("%background time.sleep 1")
    assert shown.count("sleep(1)") == 1, shown
    assert "pending" not in shown, shown


def test_an_assigned_background_prints_its_row_once(terminal: Terminal) -> None:
    terminal.run("import time")
    shown = terminal.run("h = %background time.sleep 1")
    assert shown.count("sleep(1)") == 1 and "running" in shown, shown
    assert "Out[" not in shown and "pending" not in shown, shown


def test_a_group_prints_its_table_once(terminal: Terminal) -> None:
    terminal.run("import time")
    terminal.run("%background --group naps time.sleep 5")
    shown = terminal.run("%background --group naps time.sleep 1")
    assert shown.count("naps:") == 1 and shown.count("sleep(1)") == 1, shown
    assert "2 tasks, 2 running" in shown, shown


def test_o_binds_the_result_before_the_next_cell(terminal: Terminal) -> None:
    terminal.run("h = %background -o lines chatty 2 every=0")
    wait_done(terminal)
    assert terminal.value("lines") == "2"
    listing = terminal.run("%tasks")
    assert "-> lines = 2" in listing, listing


def test_o_leaves_the_name_alone_when_the_task_fails(terminal: Terminal) -> None:
    terminal.run("lines = 'before'")
    shown = terminal.run("h = %background -o lines boom")
    wait_done(terminal)
    assert terminal.value("lines") == "before"
    said = terminal.run("%tasks 1")
    assert "ValueError: boom (result not bound to lines)" in said, shown + said


def test_o_with_a_bad_name_says_so_in_one_line_and_starts_nothing(terminal: Terminal) -> None:
    said = terminal.run("%background -o 2x chatty 1")
    assert said.strip() == (
        "UsageError: %background: -o takes the Python name to bind the result to, got `2x`"
    ), said
    assert "no task" in terminal.run("%tasks 1")


# -- texts ------------------------------------------------------------------------------------


def test_one_task_is_singular(terminal: Terminal) -> None:
    terminal.run("h = %background chatty 1")
    wait_done(terminal)
    listing = terminal.run("%tasks")
    assert "1 task," in listing and "1 tasks" not in listing, listing


def test_one_output_line_is_singular(terminal: Terminal) -> None:
    terminal.run("h = %background chatty 1")
    wait_done(terminal)
    listing = terminal.run("%tasks")
    assert "(1 output line)" in listing, listing


def test_an_unknown_name_is_not_said_to_be_in_a_notebook(terminal: Terminal) -> None:
    said = terminal.run("%background nowhere_to_be_found 5")
    assert "nowhere_to_be_found" in said and "notebook" not in said, said


def test_tasks_id_shows_the_output(terminal: Terminal) -> None:
    terminal.run("h = %background chatty 3")
    wait_done(terminal)
    shown = terminal.run("%tasks 1")
    assert "chatty 0" in shown and "chatty 2" in shown, shown
