"""The table in the browser against the truth the tasks record, its layout, its life's end.

While a 30-task group with progress runs, the page samples the rows of the DOM (state,
progress, whether Cancel is enabled) with their times; the tasks record when they reached
each step. Same machine, same clock: no row may lag its task by more than ``LAG`` seconds.
"""

from __future__ import annotations

import json
import re

import pytest
from e2e_lab import Table, expect

pytestmark = pytest.mark.e2e

LAG = 0.5 + 0.05  # what the issue allows, plus the sampling period

PRELUDE = """\
%load_ext backgrounder
import asyncio, json, pathlib, random, time
from backgrounder import Task, Tasks, progress

records = []

async def stepper(name, seconds):
    for k in range(10):
        await asyncio.sleep(seconds / 10)
        progress(k + 1, 10)
        records.append((name, k + 1, time.time()))
    return name

async def until(name):
    while not pathlib.Path(name).exists():
        await asyncio.sleep(0.05)
"""

THIRTY = """\
random.seed(7)
group = Tasks(
    [Task(stepper, f"t{i:02d}", random.uniform(1, 4)).options(name=f"t{i:02d}") for i in range(30)],
    as_group=True,
    name="thirty tasks with progress",
)
await group()
print(json.dumps({"progress": records, "ended": {t.name: t.ended_at.timestamp() for t in group}}))
"""

# Samples every row of the live table every 50 ms into window.__samples.
SAMPLE_JS = """
(root) => {
  window.__samples = [];
  window.__sampler = setInterval(() => {
    const rows = [...document.querySelectorAll('.bg-table.widget-vbox .bg-cell .bg-row')];
    const cancels = [...document.querySelectorAll('.bg-table.widget-vbox .bg-cancel')];
    const static_ = [...document.querySelectorAll('.bg-table.bg-static .bg-row')];
    const read = (row, i, live) => {
      const text = row.innerText;
      const name = (text.match(/t\\d\\d/) || [''])[0];
      const done = (text.match(/(\\d+)\\/10/) || [null, '0'])[1];
      const cancel = live && cancels[i] ? !cancels[i].disabled : false;
      return [name, row.dataset.state, Number(done), cancel];
    };
    window.__samples.push([
      Date.now() / 1000,
      rows.map((row, i) => read(row, i, true)).concat(static_.map((row, i) => read(row, i, false))),
    ]);
  }, 50);
  return true;
}
"""


def test_rows_in_the_dom_follow_the_truth_the_tasks_record(open_notebook, page):
    page.set_viewport_size({"width": 1280, "height": 1400})
    nb = open_notebook("truth.ipynb", [PRELUDE, THIRTY])
    nb.run_and_wait(0)
    page.evaluate(SAMPLE_JS, None)
    nb.run(1)
    table = Table(nb.output(1))
    table.expect_counts("30 running")
    nb.screenshot("table-thirty-running", table.root)
    nb.wait_done(1, timeout=60_000)
    table.expect_static()
    page.wait_for_function(  # the sampler has read the static table
        "() => window.__samples.some(([at, rows]) => "
        "rows.filter((r) => r[1] === 'done').length == 30)"
    )
    samples = page.evaluate("() => { clearInterval(window.__sampler); return window.__samples; }")
    text = nb.output(1).inner_text()
    truth = json.loads(re.search(r"\{\"progress\".*\}", text).group(0))
    shown_step: dict[tuple[str, int], float] = {}
    shown_end: dict[str, float] = {}
    wrong_cancel = []
    for at, rows in samples:
        for name, state, done, cancel in rows:
            if state in ("done", "failed", "cancelled"):
                shown_end.setdefault(name, at)
                if cancel:
                    wrong_cancel.append((name, at))
            for k in range(1, done + 1):
                shown_step.setdefault((name, k), at)
    assert not wrong_cancel, wrong_cancel[:5]
    lags = {}
    for name, k, at in truth["progress"]:
        seen = min(shown_step.get((name, k), 1e20), shown_end.get(name, 1e20))
        lags[f"{name} {k}/10"] = seen - at
    for name, at in truth["ended"].items():
        lags[f"{name} ended"] = shown_end.get(name, 1e20) - at
    worst = max(lags, key=lambda key: lags[key])
    assert lags[worst] <= LAG, f"{worst} showed {lags[worst]:.2f} s late"


def test_the_table_holds_at_700_px_and_with_a_long_group_name(open_notebook, page):
    page.set_viewport_size({"width": 700, "height": 900})
    name = "a group with a very long name that goes on " * 3
    nb = open_notebook(
        "narrow.ipynb",
        [
            PRELUDE,
            f"tasks = Tasks(as_group=True, name={name!r})\n"
            "for i in range(4):\n"
            "    tasks.add_task(until, 'gate').options(name=f'download file number {i}')\n"
            "async def half():\n"
            "    progress(5, 10)\n"
            "    await until('gate')\n"
            "tasks.add_task(half).options(name='half way')\n"
            "await tasks()",
        ],
    )
    nb.run_and_wait(0)
    nb.run(1)
    table = Table(nb.output(1))
    table.expect_counts("5 running")
    table.expect_row("half way", "5/10")
    cancel_all = table.cancel_all
    expect(cancel_all).to_be_visible()
    box = cancel_all.bounding_box()
    output = nb.output(1).bounding_box()
    assert box["x"] + box["width"] <= output["x"] + output["width"] + 1  # not cut
    expect(cancel_all).to_have_text(re.compile("Cancel all"))
    assert cancel_all.evaluate("(b) => b.scrollWidth <= b.clientWidth + 1")
    # every row keeps its elapsed time, its progress and its two buttons on its own line
    rows = table.root.locator(".bg-cell .bg-row")
    cancels = table.root.locator(".bg-cancel")
    for i in range(rows.count()):
        row, cancel = rows.nth(i).bounding_box(), cancels.nth(i).bounding_box()
        assert abs((row["y"] + row["height"] / 2) - (cancel["y"] + cancel["height"] / 2)) < 4
        assert cancel["x"] + cancel["width"] <= output["x"] + output["width"] + 1
    expect(table.row("half way").locator("progress")).to_be_visible()
    expect(table.row("half way")).to_contain_text(re.compile(r"\d s"))
    nb.screenshot("table-700px-running", table.root)
    nb.open_gate("gate")
    nb.wait_done(1)
    table.expect_static()
    nb.screenshot("table-700px-finished", table.root)


def test_a_restart_with_work_running_leaves_static_tables_that_say_so(
    open_notebook, page, lab_server
):
    nb = open_notebook(
        "restart.ipynb",
        [
            PRELUDE,
            "group = Tasks([Task(until, 'never').options(name='waits forever')], "
            "as_group=True, name='interrupted by a restart')\n"
            "handle = group.start()",
            "h = %background until 'never'",
            "%load_ext backgrounder\n%tasks --previous",
        ],
    )
    nb.run_and_wait(0)
    nb.run_and_wait(1)
    nb.run_and_wait(2)
    for index in (1, 2):
        Table(nb.output(index)).expect_live()
    (kernel,) = lab_server.api("GET", "/api/kernels")
    lab_server.api("POST", f"/api/kernels/{kernel['id']}/restart")
    for index in (1, 2):
        table = Table(nb.output(index))
        table.expect_static()
        expect(table.root).to_contain_text("The kernel stopped")
        expect(table.root.locator('.bg-row[data-state="running"]')).to_have_count(0)
    nb.screenshot("table-after-restart", Table(nb.output(1)).root)
    # the new kernel's journal view: the restart ended the work (cancelled, not lost: the
    # kernel stopped cleanly and its exit hook cancelled what ran before the journal closed)
    nb.run_and_wait(3)
    previous = nb.output(3)
    expect(previous.locator(".bg-group").first).to_be_visible()
    expect(previous).to_contain_text("interrupted by a restart (1 task) cancelled: 1 cancelled")
    expect(previous).to_contain_text("waits forever")
    nb.screenshot("previous-after-restart", previous)


def test_reopened_without_its_kernel_no_output_shows_a_widget_error(
    open_notebook, page, lab_server
):
    nb = open_notebook(
        "reopen-all.ipynb",
        [
            PRELUDE,
            "h = %background until 'go'",
            "g = Tasks([Task(until, 'go').options(name='grouped')], as_group=True, name='g')\n"
            "gh = g.start()",
            "%%background --name cell-task\n1 + 1",
            "open('go', 'w').close()\nawait gh\nawait h",
        ],
    )
    for index in range(5):
        nb.run_and_wait(index)
    for index in (1, 2, 3):
        Table(nb.output(index)).expect_static()
    nb.save()
    lab_server.shutdown_kernels()
    page.reload()
    nb.wait_ready()
    for index in (1, 2, 3):
        Table(nb.output(index)).expect_static(timeout=5_000)
    notebook = page.locator(".jp-NotebookPanel .jp-Notebook")
    expect(notebook).not_to_contain_text("Error displaying widget")
    expect(notebook).not_to_contain_text("model not found")
    expect(notebook).not_to_contain_text("Loading widget")
