"""tqdm inside a task in a real kernel: ``tqdm.auto`` is the notebook bar there."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from .kernel_client import Kernel, started

pytestmark = pytest.mark.kernel
pytest.importorskip("tqdm")

SETUP = """
%load_ext backgrounder
import time
from tqdm.auto import tqdm, trange
from backgrounder.notebook import tqdm_bars

def work(n):
    for _ in tqdm(range(n), desc="load", mininterval=0):
        time.sleep(0.005)
    return n
"""


@pytest.fixture(scope="module")
def kernel() -> Iterator[Kernel]:
    with started(SETUP) as kernel:
        yield kernel


def test_tqdm_auto_in_a_task_feeds_its_row_and_shows_no_widget_bar(kernel: Kernel) -> None:
    start = kernel.execute("h = %background work 30")
    assert start.status == "ok", start.stderr
    done = kernel.execute("await h\nprint(h.work.progress)\nprint(repr(h.work.output))")
    assert done.status == "ok", done.stderr
    progress, output = done.stdout.splitlines()
    assert progress == "(30, 30)"
    assert output.startswith("'load: 100%|") and output.count("\\n") == 1
    assert "\\r" not in output
    # nothing but the task's table was displayed by the starting cell: no tqdm widget
    start_messages = [m for m in kernel.log if m["parent_header"].get("msg_id") == start.msg_id]
    shown = [
        m["content"]["data"].get("text/plain", "")
        for m in start_messages
        if m["msg_type"] == "display_data"
    ]
    assert shown and not any("load:" in text for text in shown)


def test_outside_tasks_tqdm_auto_is_still_the_widget_bar(kernel: Kernel) -> None:
    execution = kernel.execute("for _ in tqdm(range(3)): pass")
    assert execution.status == "ok"
    assert any("/3 [" in d.get("text/plain", "") for d in execution.displays)
    assert execution.comm_messages() > 0


def test_load_ext_alone_patches_the_notebook_bar(kernel: Kernel) -> None:
    # tqdm was imported after %load_ext, in the setup's cell: patched as it was imported
    assert kernel.value("tqdm_bars.patched()") == "True"


FIRST_IMPORT = {
    "in the task": (
        "def first(n):\n"
        "    from tqdm.auto import tqdm\n"
        "    for _ in tqdm(range(n), desc='first', mininterval=0):\n"
        "        pass\n"
        "    return n\n"
    ),
    "in the cell": (
        "from tqdm.auto import tqdm\n"
        "def first(n):\n"
        "    for _ in tqdm(range(n), desc='first', mininterval=0):\n"
        "        pass\n"
        "    return n\n"
    ),
}


@pytest.mark.parametrize("where", FIRST_IMPORT)
def test_the_first_bar_in_the_cell_that_imports_tqdm_feeds_its_row(where: str) -> None:
    with started("%load_ext backgrounder\nimport sys") as kernel:
        assert kernel.value("'tqdm' in sys.modules") == "False"
        start = kernel.execute(FIRST_IMPORT[where] + "h = %background first 20\nawait h")
        assert start.status == "ok", start.stderr
        assert kernel.value("h.work.progress") == "(20, 20)"
        assert kernel.value("h.work.output").startswith("'first: 100%|")
        # no tqdm widget bar was displayed: the task's table is the only display
        assert not any("first:" in d.get("text/plain", "") for d in start.displays)


def test_tqdm_rich_in_a_task_feeds_its_row() -> None:
    pytest.importorskip("rich")
    with started("%load_ext backgrounder") as kernel:
        code = (
            "def fancy(n):\n"
            "    from tqdm.rich import tqdm\n"  # Rich's Progress: a live display
            "    for _ in tqdm(range(n), desc='fancy'):\n"
            "        pass\n"
            "    return n\n"
            "h = %background fancy 20\n"
            "await h"
        )
        start = kernel.execute(code)
        assert start.status == "ok", start.stderr
        assert kernel.value("h.work.progress") == "(20, 20)"
        assert "20/20" in kernel.value("h.work.output")  # its last frame, as Rich leaves it
        models = [m["content"]["data"]["state"]["_model_name"] for m in start.of_type("comm_open")]
        assert "OutputModel" not in models, models  # Rich's Jupyter display was not made
