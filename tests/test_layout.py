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


def test_the_cli_is_the_top_layer_nothing_in_the_library_imports_it():
    """Only the commands print and exit; a library module that reached into cli/ (say, for an
    option's value type: livestyle/argtypes.py holds those) would turn the layers upside down."""
    users = {m for m, deps in GRAPH.items() for dep in deps if dep.startswith("livestyle.cli")}
    assert users <= {m for m in GRAPH if m.startswith("livestyle.cli")} | {"livestyle.__main__"}, users


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


# -- the tests' own markers (docs/testing.md) ----------------------------------------------------

TESTS = REPO / "tests"
BUILTIN_MARKS = {"parametrize", "skip", "skipif", "xfail", "usefixtures", "filterwarnings"}


def registered_markers(config) -> set[str]:
    return {line.split(":", 1)[0].split("(", 1)[0].strip() for line in config.getini("markers")}


def marks_named_in(path: Path) -> set[str]:
    """The X of every ``pytest.mark.X`` in a file (read with ast)."""
    return {node.attr for node in ast.walk(ast.parse(path.read_text(), str(path)))
            if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Attribute) and node.value.attr == "mark"
            and isinstance(node.value.value, ast.Name) and node.value.value.id == "pytest"}


def test_every_marker_used_is_registered_and_documented(pytestconfig):
    import tomllib

    from conftest import MARKERS

    registered = registered_markers(pytestconfig)
    used = set(MARKERS).union(*(marks_named_in(p) for p in sorted(TESTS.glob("*.py"))))
    assert used - BUILTIN_MARKS <= registered, f"not in pyproject.toml's markers: {used - BUILTIN_MARKS - registered}"
    settings = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["pytest"]["ini_options"]
    ours = {line.split(":", 1)[0].strip() for line in settings["markers"]}
    assert ours == set(MARKERS)  # conftest.py assigns each one it registers
    page = (REPO / "docs/testing.md").read_text()
    assert not {m for m in ours if f"`{m}`" not in page}, "docs/testing.md explains every marker"
    with pytest.raises(pytest.fail.Exception, match="not found in `markers`"):
        getattr(pytest.mark, "not_a_registered_marker")   # strict markers are in force: a misspelt one is an error


def test_the_slow_list_names_existing_tests():
    from conftest import SLOW_LIST, read_slow_list, unknown_test_ids

    ids = read_slow_list()
    assert ids and all(i.startswith("tests/test_") and "::" in i for i in ids), ids
    assert len(ids) == len(set(ids)), "an id is listed twice"
    assert not unknown_test_ids(ids), f"{SLOW_LIST.name} names tests that do not exist: {unknown_test_ids(ids)}"
    assert unknown_test_ids(["tests/test_layout.py::test_no_such_test[x]", "tests/nowhere.py::test_a"]) == [
        "tests/test_layout.py::test_no_such_test[x]", "tests/nowhere.py::test_a"]
    assert not unknown_test_ids(["tests/test_layout.py::test_the_cycle_finder_finds_one[ignored-brackets]"])


def test_the_slow_list_tool_reads_pytests_durations(tmp_path):
    import importlib.util

    spec = importlib.util.spec_from_file_location("slow_tests", REPO / "tools/slow_tests.py")
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    report = ["tests/test_a.py ..", "=========== slowest durations ===========",
              "12.50s setup    tests/test_a.py::test_wheel",
              "0.50s call     tests/test_a.py::test_wheel",
              "11.00s call     tests/test_a.py::test_case[two words]",
              "9.00s call     tests/test_a.py::test_quick",
              "(3 durations < 0.005s hidden.  Use -vv to show these durations.)"]
    assert tool.durations(["no report here"]) is None
    seconds = tool.durations(report)
    assert seconds == {"tests/test_a.py::test_wheel": 13.0, "tests/test_a.py::test_case[two words]": 11.0,
                       "tests/test_a.py::test_quick": 9.0}
    listed = tmp_path / "slow_tests.txt"
    listed.write_text("# header\ntests/test_a.py::test_follower  # by hand: its fixture is timed on test_wheel\n"
                      "tests/test_a.py::test_gone  # 30.0 s\n")
    report_file = tmp_path / "report.txt"
    report_file.write_text("\n".join(report) + "\n")
    assert tool.main(["-o", str(listed), str(report_file)]) == 0   # test_gone: not slow any more
    from conftest import read_slow_list
    assert read_slow_list(listed) == ["tests/test_a.py::test_case[two words]", "tests/test_a.py::test_follower",
                                      "tests/test_a.py::test_wheel"]


def test_code_and_help_say_why_not_which_issue():
    """Issue numbers age into noise for a reader of the code: comments and help say the reason."""
    import re

    found = [f"{path.relative_to(REPO)}:{i}" for folder in (PACKAGE, REPO / "tools") for path in folder.rglob("*.py")
             for i, line in enumerate(path.read_text().splitlines(), 1) if re.search(r"\bissue \d+", line, re.I)]
    assert not found, found
