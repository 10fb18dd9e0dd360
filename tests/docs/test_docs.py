"""Code in the docs and the README runs, so it cannot rot.

The convention (also at the top of docs/index.md): a ```python block runs; the blocks of a page
run in order in one namespace inside a running asyncio loop, like notebook cells, with
top-level ``await``. A block right after ``<!-- docs-test: skip -->`` is only compiled (IPython
syntax allowed); after ``<!-- docs-test: script -->`` it runs alone in a fresh interpreter.
"""

from __future__ import annotations

import ast
import asyncio
import inspect
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PAGES = [*sorted((ROOT / "docs").glob("*.md")), ROOT / "README.md"]
FENCE = re.compile(r"^(?P<indent> *)(?P<fence>`{3,}|~{3,})(?P<info>[^`\n]*)$")
MARKER = re.compile(r"^\s*<!--\s*docs-test:\s*(?P<mode>\w+)\s*-->\s*$")
MODES = {"run", "skip", "script"}
SCRIPT_TIMEOUT = 60


@dataclass
class Block:
    page: Path
    line: int  # 1-based line of the opening fence
    lang: str
    info: str
    mode: str
    source: str

    @property
    def where(self) -> str:
        return f"{self.page.relative_to(ROOT)}:{self.line}"


def extract(page: Path) -> list[Block]:
    """The fenced code blocks of a Markdown page, with the test mode each asks for."""
    lines = page.read_text(encoding="utf-8").splitlines()
    blocks: list[Block] = []
    i = 0
    while i < len(lines):
        match = FENCE.match(lines[i])
        if not match:
            i += 1
            continue
        indent, fence, info = match["indent"], match["fence"], match["info"].strip()
        body: list[str] = []
        j = i + 1
        while j < len(lines) and not lines[j].strip().startswith(fence):
            body.append(lines[j][len(indent) :] if lines[j].startswith(indent) else lines[j])
            j += 1
        mode = "run"
        k = i - 1
        while k >= 0 and not lines[k].strip():
            k -= 1
        marker = MARKER.match(lines[k]) if k >= 0 else None
        if marker:
            mode = marker["mode"]
        lang = info.split()[0].lower() if info else ""
        blocks.append(Block(page, i + 1, lang, info, mode, "\n".join(body) + "\n"))
        i = j + 1
    return blocks


def python_blocks(page: Path) -> list[Block]:
    return [b for b in extract(page) if b.lang in ("python", "py", "python3")]


def page_id(page: Path) -> str:
    return str(page.relative_to(ROOT))


def test_pages_found() -> None:
    assert (ROOT / "docs" / "index.md") in PAGES
    assert sum(len(python_blocks(page)) for page in PAGES) > 10


@pytest.mark.parametrize("page", PAGES, ids=page_id)
def test_fences_are_well_formed(page: Path) -> None:
    """Words after the language break highlighting; markers must name a known mode."""
    for block in extract(page):
        assert block.mode in MODES, f"{block.where}: unknown docs-test mode {block.mode!r}"
        if block.lang in ("python", "py", "python3"):
            assert block.info.lower() == block.lang, (
                f"{block.where}: write just ```python and put '<!-- docs-test: skip -->' on the "
                f"line before, not {block.info!r}"
            )


def ipython_to_python(source: str) -> str:
    from IPython.core.inputtransformer2 import TransformerManager

    return TransformerManager().transform_cell(source)


@pytest.mark.parametrize("page", PAGES, ids=page_id)
def test_blocks_compile(page: Path) -> None:
    for block in python_blocks(page):
        source = ipython_to_python(block.source) if block.mode == "skip" else block.source
        flags = 0 if block.mode == "script" else ast.PyCF_ALLOW_TOP_LEVEL_AWAIT
        try:
            compile(source, block.where, "exec", flags=flags, dont_inherit=True)
        except SyntaxError as exc:
            pytest.fail(f"{block.where}: {exc}")


async def _run_page(blocks: list[Block]) -> None:
    namespace: dict[str, object] = {"__name__": "__docs__"}
    for block in blocks:
        code = compile(block.source, block.where, "exec", flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT)
        try:
            outcome = eval(code, namespace)
            if inspect.iscoroutine(outcome):
                await outcome
        except Exception as exc:
            raise AssertionError(f"{block.where} failed: {type(exc).__name__}: {exc}") from exc


RUNNABLE = [page for page in PAGES if any(b.mode == "run" for b in python_blocks(page))]


@pytest.mark.parametrize("page", RUNNABLE, ids=page_id)
def test_page_runs(page: Path) -> None:
    blocks = [b for b in python_blocks(page) if b.mode == "run"]
    stdout, stderr = sys.stdout, sys.stderr
    try:
        asyncio.run(_run_page(blocks))
    finally:  # a page that turned on output capture must not leak it into other tests
        sys.stdout, sys.stderr = stdout, stderr


SCRIPTS = [b for page in PAGES for b in python_blocks(page) if b.mode == "script"]


@pytest.mark.parametrize("block", SCRIPTS, ids=[b.where for b in SCRIPTS])
def test_script_runs(block: Block) -> None:
    """Runs alone and exits promptly (upstream 0.2 could hang at exit on a leftover thread)."""
    done = subprocess.run(
        [sys.executable, "-W", "error", "-c", block.source],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=SCRIPT_TIMEOUT,
    )
    assert done.returncode == 0, f"{block.where} failed:\n{done.stderr}"
