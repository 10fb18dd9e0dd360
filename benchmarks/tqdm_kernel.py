"""tqdm.auto inside a task in a real kernel (where it is tqdm.notebook), before and after
``tqdm_bars``: IOPub messages caused, widgets opened, and what the task recorded.

    python benchmarks/tqdm_kernel.py
"""

from __future__ import annotations

import sys
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.notebook.kernel_client import Kernel  # noqa: E402

STEPS = 300
SETUP = f"""
%load_ext backgrounder
import time
from tqdm.auto import tqdm
from backgrounder.notebook import tqdm_bars

def work():
    for _ in tqdm(range({STEPS}), desc="load"):
        time.sleep(0.01)
    return {STEPS}
"""


def measure(patched: bool) -> str:
    kernel = Kernel(ROOT)
    try:
        kernel.execute(SETUP)
        kernel.execute("tqdm_bars.install()" if patched else "tqdm_bars.uninstall()")
        start = kernel.execute("h = %background work")
        kernel.execute("await h")
        progress = kernel.value("str(h.work.progress)")
        output = kernel.value("len(h.work.output)")

        def counted(msg_id: str) -> Counter[str]:
            return Counter(
                m["msg_type"] for m in kernel.log if m["parent_header"].get("msg_id") == msg_id
            )

        seen = counted(start.msg_id)
        shown = {k: seen[k] for k in ("comm_open", "comm_msg", "display_data", "stream")}
        return f"progress {progress}, output {output} ch; the starting cell got {shown}"
    finally:
        kernel.shutdown()


if __name__ == "__main__":
    print(f"tqdm.auto, {STEPS} steps of 10 ms, in a task (ipykernel):")
    print("  before:", measure(False))
    print("  after: ", measure(True))
