"""The package imports only downward: the layers below are the architecture, pinned.

Every ``import`` in the package is read (module level and inside functions alike); imports
under ``if TYPE_CHECKING:`` are annotations only and may point anywhere. A module may import
its own layer or a lower one; the few late imports that reach up are listed with their reason.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).parents[2] / "backgrounder"

LAYERS: list[set[str]] = [
    # leaves: they import nothing of the package (_loop: the library's loop thread and the
    # exit hooks, which the process pool needs too)
    {"_state", "_errors", "_validate", "_version", "_hops", "_loop"},
    {"_context", "_events", "_output", "_tqdm", "_retry"},  # what code inside a task reaches
    {"_task"},
    {"_threads", "_runners", "executors", "_map"},  # execution (_map: a map's inputs)
    {"_completed"},  # a run's tasks as they end (it starts runs through Tasks.start)
    {"_group"},
    {"_handle", "_decorator", "concurrency", "tasks", "decorator"},  # scheduling
    {"__init__"},
    {"notebook"},  # the IPython/widget layer, loaded by %load_ext only
]

# (importer, imported): the documented upward late imports, each inside one method.
ALLOWED_UP = {
    ("_task", "_runners"),  # Task.__call__ runs itself through a runner
    ("_task", "_handle"),  # Task.start
    ("_group", "_handle"),  # Tasks.start
    ("__init__", "notebook"),  # load_ipython_extension
}


def layer_of(unit: str) -> int:
    for i, layer in enumerate(LAYERS):
        if unit in layer:
            return i
    raise AssertionError(f"{unit} is in no layer: add it to LAYERS")


def unit_of(path: Path) -> str:
    """The layer unit of a module: its name at the top level, else its subpackage."""
    parts = path.relative_to(PACKAGE).with_suffix("").parts
    return parts[0]


def imported_units(path: Path) -> set[str]:
    """The package's units that ``path`` imports at run time."""
    tree = ast.parse(path.read_text())
    typing_only: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            typing_only.update(id(child) for stmt in node.body for child in ast.walk(stmt))
    depth = len(path.relative_to(PACKAGE).parts) - 1  # 0 at the top level
    found: set[str] = set()
    for node in ast.walk(tree):
        if id(node) in typing_only:
            continue
        if isinstance(node, ast.ImportFrom) and node.level:
            up = node.level - 1 - depth  # how far above the package's top level it starts
            assert up <= 0, f"{path.name}: import beyond the package"
            if node.level - 1 < depth:  # inside the same subpackage
                continue
            if node.module:
                found.add(node.module.split(".")[0])
            else:  # `from . import x`: a module of the package, or a name of its namespace
                found.update(
                    alias.name if _is_unit(alias.name) else "__init__" for alias in node.names
                )
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("backgrounder."):
            found.add(node.module.split(".")[1])  # type: ignore[union-attr]
    return found


def _is_unit(name: str) -> bool:
    return (PACKAGE / f"{name}.py").exists() or (PACKAGE / name / "__init__.py").exists()


MODULES = sorted(PACKAGE.rglob("*.py"))


@pytest.mark.parametrize("path", MODULES, ids=[str(p.relative_to(PACKAGE)) for p in MODULES])
def test_imports_only_go_down(path: Path) -> None:
    unit = unit_of(path)
    mine = layer_of(unit)
    for other in imported_units(path):
        if other == unit or (unit, other) in ALLOWED_UP:
            continue
        assert layer_of(other) <= mine, f"{unit} (layer {mine}) imports {other} (layer above)"


def test_the_core_never_imports_the_notebook_layer_or_its_packages() -> None:
    heavy = ("IPython", "ipywidgets", "ipykernel", "nest_asyncio", "distributed", "dask")
    for path in MODULES:
        if unit_of(path) == "notebook":
            continue
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and not node.level:
                names = [node.module or ""]
            for name in names:
                assert not name.startswith(heavy) or _lazy_ok(path, name), (path.name, name)


def _lazy_ok(path: Path, name: str) -> bool:
    """nest_asyncio2 is imported lazily by Handle, only to re-enter a running loop."""
    return path.name == "_handle.py" and name == "nest_asyncio2"


def test_every_module_is_in_a_layer() -> None:
    for path in MODULES:
        layer_of(unit_of(path))
