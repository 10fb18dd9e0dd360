"""The status table as a person sees it in JupyterLab: live rows, failures, output, Cancel.

Tasks wait on gate files in the server's root dir (the kernel's working dir), which the test
creates when it has seen what it wants to see: every "while it runs" check is deterministic,
with no timing guesses. Each test opens its own notebook, so each has its own kernel.
"""

from __future__ import annotations

import pytest
from e2e_lab import Table, expect

pytestmark = pytest.mark.e2e

PRELUDE = '''\
%load_ext backgrounder
import asyncio, pathlib, time
import backgrounder
from backgrounder import Task, Tasks

def gate(name):
    return pathlib.Path(name).exists()

async def until(name, value=None, text=None, done=None):
    """Wait for the test to create the file `name`, then return `value`."""
    if text:
        print(text)
    if done is not None:
        backgrounder.progress(done, 10)
    while not gate(name):
        await asyncio.sleep(0.05)
    return value

def until_sync(name, value=None, text=None, done=None):
    """The same in a worker thread; a cancel request ends the wait."""
    if done is not None:
        backgrounder.progress(done, 10)
    while not gate(name) and not backgrounder.cancelled():
        time.sleep(0.05)
    if text:
        print(text)
    return value

def deep_helper(message):
    raise ValueError(message)

async def fails(message):
    deep_helper(message)
'''


def test_await_tasks_draws_a_live_table(open_notebook):
    nb = open_notebook(
        "live.ipynb",
        [
            PRELUDE,
            "tasks = Tasks(as_group=True, name='nightly')\n"
            "tasks.add_task(until, 'gate-a', 1, done=7).options(name='download jan.csv')\n"
            "tasks.add_task(until_sync, 'gate-b', 2, done=3).options(name='resize images')\n"
            "tasks.add_task(until, 'gate-c', 3, text='fetching prices...')"
            ".options(name='fetch prices')\n"
            "results = await tasks()\n"
            "results",
            "print('later cell', results)",
        ],
    )
    nb.run_and_wait(0)
    nb.run(1)
    table = Table(nb.output(1))
    # first look while it runs: every row running
    for name in ("download jan.csv", "resize images", "fetch prices"):
        table.expect_state(name, "running")
    table.expect_counts("3 running")
    table.expect_live()
    table.expect_row("download jan.csv", "7/10")  # progress, from the loop...
    table.expect_row("resize images", "3/10")  # ...and from a worker thread
    nb.screenshot("table-running", table.root)

    nb.open_gate("gate-a")
    # second look while it runs: the download done, the others still running, the cell busy
    table.expect_state("download jan.csv", "done")
    table.expect_counts("1 done")
    for name in ("resize images", "fetch prices"):
        table.expect_state(name, "running", timeout=1_000)
    expect(nb.cell(1).locator(".jp-InputPrompt")).to_have_text("[*]:")
    nb.screenshot("table-partly-done", table.root)

    nb.open_gate("gate-b")
    nb.open_gate("gate-c")
    nb.wait_done(1)
    for name in ("download jan.csv", "resize images", "fetch prices"):
        table.expect_state(name, "done")
    table.expect_counts("3 done")
    expect(table.header).to_contain_text("3/3")
    table.expect_row("resize images", "→ 2")
    expect(nb.output(1)).to_contain_text("[1, 2, 3]")
    expect(nb.output(1)).not_to_contain_text("VBox(")  # a widget, not its repr
    # the group ended: its display is now the static table (no kernel needed to show it)
    table.expect_static()
    nb.screenshot("table-finished", table.root)

    # the task's print is in its own row (one click away), not in the cell's stream output
    table.expect_row_lacks("fetch prices", "fetching prices...")
    table.details("fetch prices").click()
    table.expect_row("fetch prices", "fetching prices...")
    streams = nb.output(1).locator('[data-mime-type="application/vnd.jupyter.stdout"]')
    expect(streams).to_have_count(0)

    nb.run_and_wait(2)
    expect(nb.output(2)).to_contain_text("later cell [1, 2, 3]")
    expect(nb.output(2)).not_to_contain_text("fetching prices...")


def test_failed_task_shows_its_error_and_traceback_on_click(open_notebook):
    nb = open_notebook(
        "failure.ipynb",
        [
            PRELUDE,
            "tasks = Tasks(as_group=True, name='with a failure')\n"
            "tasks.add_task(until, 'no-gate-needed-here', 'fine').options(name='good task')\n"
            "tasks.add_task(fails, 'boom 42').options(name='bad task')\n"
            "open('no-gate-needed-here', 'w').close()\n"
            "await tasks()",
        ],
    )
    nb.run_and_wait(0)
    nb.run_and_wait(1)
    table = Table(nb.output(1))
    table.expect_state("good task", "done")
    table.expect_state("bad task", "failed")
    table.expect_counts("1 failed")
    table.expect_static()
    table.expect_row("bad task", "ValueError: boom 42")
    table.expect_row_lacks("bad task", "deep_helper")
    table.details("bad task").click()
    table.expect_row("bad task", "Traceback")
    table.expect_row("bad task", "deep_helper")
    nb.screenshot("table-failure", table.root)


def test_cancel_one_row_then_cancel_all(open_notebook):
    nb = open_notebook(
        "cancel.ipynb",
        [
            PRELUDE,
            "tasks = Tasks(as_group=True, name='cancel me')\n"
            "for n in ['one', 'two', 'three']:\n"
            "    tasks.add_task(until, 'never', n).options(name=f'job {n}')\n"
            "tasks.add_task(until_sync, 'never').options(name='job sync')\n"
            "await tasks()",
        ],
    )
    nb.run_and_wait(0)
    nb.run(1)
    table = Table(nb.output(1))
    for name in ("job one", "job two", "job three", "job sync"):
        table.expect_state(name, "running")
    # clicks reach the kernel while the cell awaits (ipykernel >= 7.4)
    table.cancel("job two").click()
    table.expect_state("job two", "cancelled")
    table.expect_counts("1 cancelled")
    for name in ("job one", "job three", "job sync"):
        table.expect_state(name, "running", timeout=1_000)
    table.cancel_all.click()
    for name in ("job one", "job three", "job sync"):
        table.expect_state(name, "cancelled")
    table.expect_counts("4 cancelled")
    nb.wait_done(1)
    table.expect_static()  # the group ended: no buttons left
    expect(table.cancel_all).to_have_count(0)
    table.expect_counts("4 cancelled")


def test_background_magic_returns_at_once_and_finishes_while_another_cell_runs(open_notebook):
    nb = open_notebook(
        "background.ipynb",
        [
            PRELUDE,
            "h = %background until_sync 'bg-gate' 42 'bg says hi'",
            "until_sync('cell-gate')\nprint('cell 2 ran')",  # blocks the kernel's main thread
            "h.result(timeout=10)",
        ],
    )
    nb.run_and_wait(0)
    nb.run_and_wait(1)  # returns at once: the row is still running after the cell is done
    table = Table(nb.output(1))
    table.expect_state("until_sync", "running")
    nb.run(2)
    expect(nb.cell(2).locator(".jp-InputPrompt")).to_have_text("[*]:")
    nb.open_gate("bg-gate")
    table.expect_state("until_sync", "done")
    expect(nb.cell(2).locator(".jp-InputPrompt")).to_have_text("[*]:")  # still blocking
    nb.open_gate("cell-gate")
    nb.wait_done(2)
    expect(nb.output(2)).to_contain_text("cell 2 ran")
    expect(nb.output(2)).not_to_contain_text("bg says hi")
    table.expect_static()  # its work ended: the row is final, static HTML
    table.details("until_sync").click()
    table.expect_row("until_sync", "bg says hi")
    nb.run_and_wait(3)
    expect(nb.output(3)).to_contain_text("42")


XSS = ["<img src=x onerror=window.__xss=1>", "<script>window.__xss=1</script>"]


def test_task_text_is_shown_as_text_and_never_runs(open_notebook, page):
    cells = [PRELUDE]
    source = f"tasks = Tasks(as_group=True, name={XSS[1]!r})\n"
    for i, payload in enumerate(XSS):
        source += (
            f"tasks.add_task(until, 'xss-go', {payload!r}, text={payload!r})"
            f".options(name='ok{i} ' + {payload!r})\n"
            f"tasks.add_task(fails, {payload!r}).options(name='bad{i} ' + {payload!r})\n"
        )
    source += "open('xss-go', 'w').close()\nawait tasks()"
    cells.append(source)
    # a control: the same markup unescaped in an HTML widget does run, so the check can fail
    cells.append("import ipywidgets\nipywidgets.HTML('<img src=x onerror=window.__control=1>')")
    nb = open_notebook("xss.ipynb", cells)
    nb.run_and_wait(0)
    nb.run_and_wait(1)
    table = Table(nb.output(1))
    table.expect_static()
    for i, payload in enumerate(XSS):
        table.expect_state(f"ok{i} ", "done")
        table.expect_state(f"bad{i} ", "failed")
        table.expect_row(f"ok{i} ", payload)  # name and result, as text
        table.expect_row(f"bad{i} ", f"ValueError: {payload}")
        table.details(f"ok{i} ").click()
        expect(table.row(f"ok{i} ").locator("pre")).to_contain_text(payload)  # its output
        table.details(f"bad{i} ").click()
        table.expect_row(f"bad{i} ", "Traceback")
    expect(table.header).to_contain_text(XSS[1])
    expect(nb.output(1).locator("img[src=x], script")).to_have_count(0)
    nb.run_and_wait(2)
    page.wait_for_function("() => window.__control === 1")
    assert page.evaluate("() => window.__xss") is None


def run_and_save_a_finished_group(open_notebook, name):
    nb = open_notebook(
        name,
        [
            PRELUDE,
            "tasks = Tasks(as_group=True, name='saved')\n"
            "tasks.add_task(until, 'no-gate', 'first').options(name='first task')\n"
            "tasks.add_task(fails, 'kept error').options(name='second task')\n"
            "open('no-gate', 'w').close()\n"
            "await tasks()",
        ],
    )
    nb.run_and_wait(0)
    nb.run_and_wait(1)
    table = Table(nb.output(1))
    table.expect_counts("1 failed")
    table.expect_static()  # saved once the display holds the final, static table
    nb.save()
    return nb


def test_reload_after_the_work_shows_the_final_table(open_notebook, page):
    nb = run_and_save_a_finished_group(open_notebook, "reload.ipynb")
    page.reload()  # the kernel still runs: the widget comes back from it
    nb.wait_ready()
    table = Table(nb.output(1))
    table.expect_state("first task", "done")
    table.expect_state("second task", "failed")
    table.expect_counts("1 done")
    table.expect_row("second task", "ValueError: kept error")


def test_reopened_without_its_kernel_the_saved_table_still_shows(open_notebook, page, lab_server):
    nb = run_and_save_a_finished_group(open_notebook, "reopen.ipynb")
    lab_server.shutdown_kernels()
    page.reload()  # a new kernel starts, which knows nothing of the table's widgets
    nb.wait_ready()
    out = nb.output(1)
    expect(out).to_contain_text("Traceback")  # the saved outputs are back...
    # ...and the table with them, as static HTML: no "Loading widget..."
    table = Table(out)
    table.expect_static(timeout=5_000)
    expect(out).not_to_contain_text("Loading widget")
    table.expect_counts("1 done")
    table.expect_counts("1 failed")
    table.expect_row("first task", "→ 'first'")
    table.expect_row("second task", "ValueError: kept error")
    table.expect_row_lacks("second task", "deep_helper")
    table.details("second task").click()  # the traceback, one click away without a kernel
    table.expect_row("second task", "deep_helper")
    nb.screenshot("reopen-no-kernel", table.root)


def test_interrupt_cancels_the_awaited_group_but_not_background_work(open_notebook):
    nb = open_notebook(
        "interrupt.ipynb",
        [
            PRELUDE,
            "h = %background until 'bg-gate' 5",
            "tasks = Tasks(as_group=True, name='interrupted')\n"
            "tasks.add_task(until, 'never', 1).options(name='first waiter')\n"
            "tasks.add_task(until_sync, 'never', 2).options(name='second waiter')\n"
            "await tasks()",
        ],
    )
    nb.run_and_wait(0)
    nb.run_and_wait(1)
    background = Table(nb.output(1))
    background.expect_state("until", "running")
    nb.run(2)
    table = Table(nb.output(2))
    for name in ("first waiter", "second waiter"):
        table.expect_state(name, "running")
    # the toolbar's stop button, as a person would press it
    nb.page.locator('.jp-NotebookPanel-toolbar [data-command="notebook:interrupt-kernel"]').click()
    nb.wait_done(2)
    for name in ("first waiter", "second waiter"):
        table.expect_state(name, "cancelled")
    table.expect_counts("2 cancelled")
    table.expect_static()
    background.expect_state("until", "running", timeout=1_000)
    nb.open_gate("bg-gate")
    background.expect_state("until", "done")
    background.expect_row("until", "→ 5")


def test_a_large_group_shows_a_bounded_window_of_rows(open_notebook):
    nb = open_notebook(
        "large.ipynb",
        [
            PRELUDE,
            "tasks = Tasks(as_group=True, limit=20, name='many')\n"
            "for i in range(300):\n"
            "    tasks.add_task(until, 'go', i).options(name=f'item {i:03d}')\n"
            "open('go', 'w').close()\n"
            "results = await tasks()\n"
            "sum(results)",
        ],
    )
    nb.run_and_wait(0)
    nb.run_and_wait(1)
    table = Table(nb.output(1))
    table.expect_counts("300 done")
    table.expect_static()
    expect(table.header).to_contain_text("300/300")
    expect(table.header).to_contain_text("of 300 tasks")  # "showing N of 300 tasks"
    shown = table.root.locator(Table.ROW).filter(has_text="item ")
    assert 0 < shown.count() <= 50
    expect(nb.output(1)).to_contain_text(str(sum(range(300))))


def test_a_timed_out_background_row_has_no_stale_text_beside_it(open_notebook):
    """`%background --timeout 2 f` as a cell's last line: the row, and nothing else (it once
    left `<Handle until('never') pending>` under a row saying the task timed out)."""
    nb = open_notebook(
        "timeout.ipynb",
        [PRELUDE, "%background --timeout 2 until 'never'"],
    )
    nb.run_and_wait(0)
    nb.run_and_wait(1)
    output = nb.output(1)
    table = Table(output)
    expect(table.row("until")).to_have_count(1)
    nb.screenshot("background-timeout-running", output)
    expect(output.locator(".jp-OutputArea-child")).to_have_count(1)  # the table alone
    expect(output).not_to_contain_text("Handle")
    table.expect_state("until", "failed")
    table.expect_row("until", "TimeoutError")
    table.expect_static()
    nb.screenshot("background-timeout-ended", output)
    expect(output.locator(".jp-OutputArea-child")).to_have_count(1)
    expect(output).not_to_contain_text("Handle")
    expect(output).not_to_contain_text("pending")
