"""The package's shape: imports run one way (no circle anywhere in ``livestyle/``), measurement code
stays off the product's path, base modules import nothing above them, tools stand alone.

Imports are read from the source with ``ast`` (nothing is imported), including those inside
functions and under ``TYPE_CHECKING``: a lazy import is still a dependency, and the circle this
guards against (runtime/stylizer.py <-> runtime/adain.py) ran through one.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PACKAGE = REPO / "livestyle"


def module_name(path: Path) -> str:
    parts = list(path.relative_to(REPO).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


MODULES = {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def imported_modules(name: str, path: Path) -> set[str]:
    """The livestyle modules ``name`` imports (``from pkg import sub`` counts as importing ``sub``)."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")
                anchor = anchor[:len(anchor) - (node.level - 1)]
                base = ".".join(anchor + ([base] if base else []))
            targets = [f"{base}.{alias.name}" for alias in node.names] + [base]
        else:
            continue
        for target in targets:
            # The deepest livestyle module the name lands on (a name may be a function, not a module).
            while target and target not in MODULES:
                target = target.rpartition(".")[0]
            if target and target != name:
                found.add(target)
    return found


GRAPH = {name: imported_modules(name, path) for name, path in MODULES.items()}


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import circle as [a, b, ..., a], or None."""
    state: dict[str, int] = {}  # 1 = on the current path, 2 = done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for dep in sorted(graph[node]):
            if state.get(dep) == 1:
                return path[path.index(dep):] + [dep]
            if dep not in state and (cycle := visit(dep)):
                return cycle
        path.pop()
        state[node] = 2
        return None

    for start in sorted(graph):
        if start not in state and (cycle := visit(start)):
            return cycle
    return None


def test_the_import_graph_is_read():
    assert "livestyle.runtime.factory" in GRAPH["livestyle.cli.image"]
    assert "livestyle.runtime.stylizer" in GRAPH["livestyle.runtime.split"]
    assert "livestyle.runtime.registry" in GRAPH["livestyle.runtime.factory"]  # "from . import registry"


def test_no_import_cycle_in_livestyle():
    cycle = find_cycle(GRAPH)
    assert cycle is None, "import circle: " + " -> ".join(cycle)


def test_the_cycle_finder_finds_one():
    assert find_cycle({"livestyle.a": {"livestyle.b"}, "livestyle.b": {"livestyle.a"}}) is not None


@pytest.mark.parametrize("base, above", [
    ("livestyle.runtime.stylizer", ("livestyle.runtime.split", "livestyle.runtime.adain",
                                    "livestyle.runtime.factory", "livestyle.runtime.temporal")),
    ("livestyle.runtime.flow", ("livestyle.runtime.temporal", "livestyle.eval")),
    ("livestyle.media.sinks.base", ("livestyle.pipeline",)),
    ("livestyle.models", ("livestyle.checkpoints", "livestyle.training", "livestyle.export", "livestyle.runtime")),
])
def test_base_modules_import_nothing_above_them(base, above):
    modules = [m for m in GRAPH if m == base or m.startswith(base + ".")]
    assert modules
    wrong = {(m, dep) for m in modules for dep in GRAPH[m] if any(dep == a or dep.startswith(a + ".") for a in above)}
    assert not wrong, wrong


def test_still_image_files_are_a_leaf_every_layer_may_use():
    assert GRAPH["livestyle.media.images"] <= {"livestyle.errors", "livestyle.fileio", "livestyle.imageops"}


def test_measurement_code_is_off_the_product_path():
    users = {m for m, deps in GRAPH.items() for dep in deps if dep.startswith("livestyle.eval")}
    assert users <= {m for m in GRAPH if m.startswith("livestyle.eval")} | {"livestyle.cli.bench"}, users


def test_tools_import_the_package_not_each_other():
    tools = {p.stem for p in (REPO / "tools").glob("*.py")}
    for path in (REPO / "tools").glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            names = ([a.name for a in node.names] if isinstance(node, ast.Import)
                     else [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            assert not {n.split(".")[0] for n in names} & tools, f"{path.name} imports another tool"
