"""What the package says about itself on an index: dependencies and extras, licence, links,
the sdist's contents, and the repository address kept in one place (`[tool.backgrounder]`).
"""

from __future__ import annotations

import ast
import email
import importlib.util
import re
import shutil
import subprocess
import sys
import zipfile
from email.message import Message
from pathlib import Path

import pytest
from wheelhouse import ROOT, Dists, tomllib

pytestmark = pytest.mark.packaging

SETTINGS = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
SLUG = SETTINGS["tool"]["backgrounder"]["repository"]
REF = SETTINGS["tool"]["backgrounder"]["ref"]

# Third-party modules the package imports (lazily, outside the core), and what declares them.
IMPORTS = {
    "anyio": None,  # core
    "exceptiongroup": None,  # core, before 3.11
    "IPython": "notebook",
    "ipywidgets": "notebook",
    "nest_asyncio2": "notebook",
    "loky": "process",
    "cloudpickle": "process",
    "distributed": "dask",
    "trio": "(only imported inside a running trio program, which brought it)",
    "jupyter_core": "(optional: the journal's folder where Jupyter runs, a fallback elsewhere)",
    "rich": "(only when a task uses Rich, which the user brought)",
    "tqdm": "(only when a task uses tqdm, which the user brought)",
}
DISTRIBUTION = {"IPython": "ipython", "nest_asyncio2": "nest-asyncio2"}
SDIST_TOP = {
    "backgrounder",
    "tests",
    "docs",
    "notebooks",
    "binder",
    "mkdocs.yml",
    "README.md",
    "LICENSE",
    "pyproject.toml",
    "hatch_build.py",
    "PKG-INFO",
    ".gitignore",  # hatchling adds it to every sdist
}


@pytest.fixture(scope="module")
def metadata(dists: Dists) -> Message:
    with zipfile.ZipFile(dists.wheel) as wheel:
        (name,) = [n for n in wheel.namelist() if n.endswith(".dist-info/METADATA")]
        return email.message_from_string(wheel.read(name).decode())


def requirements(metadata: Message) -> dict[str | None, set[str]]:
    """extra (None: always) -> names of the distributions it requires."""
    out: dict[str | None, set[str]] = {}
    for line in metadata.get_all("Requires-Dist") or []:
        name = re.match(r"[A-Za-z0-9._-]+", line)[0].lower()  # type: ignore[index]
        extra = re.search(r"extra == '([^']+)'", line)
        out.setdefault(extra[1] if extra else None, set()).add(name)
    return out


def test_core_needs_anyio_alone(metadata: Message) -> None:
    needs = requirements(metadata)
    assert needs[None] == {"anyio", "exceptiongroup"}
    always = [r for r in metadata.get_all("Requires-Dist") or [] if "extra ==" not in r]
    assert next(r for r in always if r.startswith("exceptiongroup")).endswith(
        "python_version < '3.11'"
    )


def test_extras_are_features_not_tools(metadata: Message) -> None:
    assert set(metadata.get_all("Provides-Extra") or []) == {"notebook", "process", "dask"}
    needs = requirements(metadata)
    assert needs["notebook"] == {"ipython", "ipywidgets", "nest-asyncio2"}
    assert needs["process"] == {"loky", "cloudpickle"}
    assert needs["dask"] == {"distributed"}
    tools = {"pytest", "ruff", "mypy", "playwright", "mkdocs", "jupyterlab", "hypothesis"}
    assert not tools & set().union(*needs.values())


def test_every_third_party_import_is_declared(metadata: Message) -> None:
    found: set[str] = set()
    for path in (ROOT / "backgrounder").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                found |= {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                found.add(node.module.split(".")[0])
    third_party = found - set(sys.stdlib_module_names) - {"backgrounder", "__future__"}
    assert third_party <= set(IMPORTS), f"declare {third_party - set(IMPORTS)} in an extra"
    needs = requirements(metadata)
    for module in third_party:
        extra = IMPORTS[module]
        if extra is None or extra in needs:
            dist = DISTRIBUTION.get(module, module).lower()
            assert dist in needs[extra], f"{module} is imported but not in {extra or 'core'}"


def test_licence_is_shipped_and_credits_upstream(dists: Dists, metadata: Message) -> None:
    assert metadata["License-Expression"] == "BSD-3-Clause"
    assert metadata.get_all("License-File") == ["LICENSE"]
    with zipfile.ZipFile(dists.wheel) as wheel:
        (name,) = [n for n in wheel.namelist() if n.endswith(".dist-info/licenses/LICENSE")]
        text = wheel.read(name).decode()
    assert text.startswith("BSD 3-Clause License")
    assert "backgrounder 0.2" in text and "The MIT License" in text and "Tiago Silva" in text
    assert "LICENSE" in dists.sdist_members


def test_wheel_holds_the_package_and_upstream_paths(dists: Dists) -> None:
    with zipfile.ZipFile(dists.wheel) as wheel:
        names = set(wheel.namelist())
    for path in ("tasks.py", "decorator.py", "concurrency.py", "py.typed", "notebook/table.py"):
        assert f"backgrounder/{path}" in names
    assert not any(n.startswith(("tests/", "docs/", "benchmarks/")) for n in names)


def test_sdist_holds_what_a_packager_needs(dists: Dists) -> None:
    members = dists.sdist_members
    top = {m.split("/")[0] for m in members}
    assert top <= SDIST_TOP, f"unexpected in the sdist: {top - SDIST_TOP}"
    for needed in ("LICENSE", "tests/core/test_task.py", "docs/index.md", "hatch_build.py"):
        assert needed in members, needed
    assert any(m.startswith("docs/images/") for m in members)
    unwanted = ("benchmarks/", "tests/benchmarks/", ".ci/", "scripts/", "test-artifacts/")
    assert not [m for m in members if m.startswith(unwanted) or "__pycache__" in m]


def test_package_page_links_are_absolute(metadata: Message) -> None:
    body = metadata.get_payload()
    assert metadata["Description-Content-Type"] == "text/markdown"
    targets = re.findall(r"\]\(([^)\s]+)", body)
    assert targets, "the README has no links?"
    relative = [t for t in targets if not re.match(r"https?://", t)]
    assert not relative, f"relative links break on a package index: {relative}"
    images = re.findall(r"!\[[^\]]*\]\(([^)\s]+)", body)
    for url in images:
        if "badge" in url:
            continue
        prefix = f"https://raw.githubusercontent.com/{SLUG}/{REF}/"
        assert url.startswith(prefix), url
        assert (ROOT / url.removeprefix(prefix)).is_file(), f"{url}: no such file here"
    for url in re.findall(
        rf"https://github\.com/{re.escape(SLUG)}/(?:blob|tree)/{REF}/([^)\s]+)", body
    ):
        assert (ROOT / url).exists(), f"the README links to {url}, which does not exist"


def test_project_urls_come_from_the_one_setting(metadata: Message) -> None:
    urls = dict(u.split(", ", 1) for u in metadata.get_all("Project-URL") or [])
    assert urls["Source"] == f"https://github.com/{SLUG}"
    assert all(SLUG in url for url in urls.values()), urls


def test_the_slug_is_spelled_out_only_in_the_badge() -> None:
    """Pages link to repository files relatively; the hooks make the absolute URLs."""
    badge = re.findall(r"https://mybinder\.org/v2/gh/([^?\s)]+)", (ROOT / "README.md").read_text())
    assert badge == [f"{SLUG}/{REF}"], "scripts/set_repository.py keeps the badge in step"
    pages = [ROOT / "README.md", ROOT / "mkdocs.yml", *sorted((ROOT / "docs").glob("*.md"))]
    for page in pages:
        text = page.read_text(encoding="utf-8")
        if page.name == "maintaining.md":  # it shows the setting itself
            text = text.replace(f'repository = "{SLUG}"', "")
        assert f"github.com/{SLUG}" not in text, f"{page.name}: link relatively instead"


def _hook():
    spec = importlib.util.spec_from_file_location(
        "repository_hook", ROOT / "docs/hooks/repository.py"
    )
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class _Page:
    class file:
        src_uri = "executors.md"


def test_docs_hook_makes_repository_links() -> None:
    hook = _hook()
    config = hook.on_config({})
    assert config == {"repo_url": f"https://github.com/{SLUG}", "repo_name": SLUG}
    md = "See [the notebook](../notebooks/dask.ipynb), [FAQ](faq.md), [dir](../notebooks/)."
    out = hook.on_page_markdown(md, _Page(), None, None)
    assert f"(https://github.com/{SLUG}/blob/{REF}/notebooks/dask.ipynb)" in out
    assert f"(https://github.com/{SLUG}/tree/{REF}/notebooks)" in out
    assert "[FAQ](faq.md)" in out


@pytest.mark.skipif(
    not (ROOT / "scripts" / "set_repository.py").exists(), reason="scripts/ is not in the sdist"
)
def test_set_repository_updates_the_setting_and_the_badge(tmp_path: Path) -> None:
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, tmp_path / name)
    (tmp_path / "scripts").mkdir()
    shutil.copy(ROOT / "scripts/set_repository.py", tmp_path / "scripts")
    done = subprocess.run(
        [sys.executable, "scripts/set_repository.py", "someone/elsewhere", "v9"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    settings = tomllib.loads((tmp_path / "pyproject.toml").read_text())["tool"]["backgrounder"]
    assert settings == {"repository": "someone/elsewhere", "ref": "v9"}
    assert "mybinder.org/v2/gh/someone/elsewhere/v9?" in (tmp_path / "README.md").read_text()
