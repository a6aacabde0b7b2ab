"""Fixtures shared by the test modules (the shared data folder, a private model cache) and the
markers every test gets by what it uses (docs/testing.md)."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from livestyle.paths import shared_dir

SHARED = shared_dir()
HAVE_SHARED = SHARED.is_dir()
needs_shared = pytest.mark.skipif(not HAVE_SHARED, reason=f"shared data folder {SHARED} not present")


@pytest.fixture(scope="session")
def shared():
    if not HAVE_SHARED:
        pytest.skip(f"shared data folder {SHARED} not present")
    return SHARED


@pytest.fixture(scope="session", autouse=True)
def isolated_cache(tmp_path_factory):
    """Exports of third-party weights go to a per-session cache, never the user's, and the user's
    own styles (``$LIVESTYLE_MODELS``) are an empty per-session folder, so neither leaks in or out."""
    import os

    path = tmp_path_factory.mktemp("livestyle-cache")
    saved = {name: os.environ.get(name) for name in ("LIVESTYLE_CACHE", "LIVESTYLE_MODELS")}
    os.environ["LIVESTYLE_CACHE"] = str(path)
    os.environ["LIVESTYLE_MODELS"] = str(tmp_path_factory.mktemp("livestyle-models"))
    yield path
    for name, old in saved.items():
        if old is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = old


# -- markers -------------------------------------------------------------------------------------
# Registered in pyproject.toml ([tool.pytest.ini_options] markers, --strict-markers) and explained
# in docs/testing.md. No test file carries them: pytest_collection_modifyitems below puts them on
# each test by what it uses, so a new test that starts Ray or Chromium is marked without anyone
# remembering to. The quick local subset: python -m pytest -q -m "not slow and not wheel and not ray and not browser"

TESTS = Path(__file__).resolve().parent
REPO = TESTS.parent
SLOW_LIST = TESTS / "slow_tests.txt"

MARKERS = ("slow", "browser", "ray", "needs_shared", "wheel", "display")
RAY_FIXTURES = {"ray_env", "ray_head"}           # test_batch.py: every test that starts Ray takes ray_env
BROWSER_FIXTURES = {"browser", "chromium"}       # or a test that names CHROMIUM (test_cam.py)
DISPLAY_FIXTURES = {"x_display"}                 # a private Xvfb (test_cam.py)
WHEEL_MODULES = {"test_install.py", "test_light_install.py"}


def read_slow_list(path: Path = SLOW_LIST) -> list[str]:
    """The node ids in tests/slow_tests.txt: one a line, ``#`` starts a comment (also after an id)."""
    if not path.is_file():
        return []
    ids = []
    for line in path.read_text().splitlines():
        entry = re.split(r"(?:^|\s)#", line, maxsplit=1)[0].strip()
        if entry:
            ids.append(entry)
    return ids


def _defined_tests(path: Path) -> set[str] | None:
    """``name`` and ``Class::name`` of the functions a module defines (read with ast, nothing is
    imported); None where the file cannot be read or parsed (collecting it will say why)."""
    try:
        tree = ast.parse(path.read_text(), str(path))
    except (OSError, SyntaxError, ValueError):
        return None
    found: set[str] = set()
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            found.add(node.name)
        elif isinstance(node, ast.ClassDef):
            found |= {f"{node.name}::{f.name}" for f in node.body
                      if isinstance(f, (ast.FunctionDef, ast.AsyncFunctionDef))}
    return found


def unknown_test_ids(ids: list[str], root: Path = REPO) -> list[str]:
    """The ids that name no test function in this checkout (parametrisation brackets ignored)."""
    defined: dict[str, set[str] | None] = {}
    unknown = []
    for entry in ids:
        path, _, name = entry.split("[", 1)[0].partition("::")
        if path not in defined:
            file = root / path
            defined[path] = _defined_tests(file) if path.endswith(".py") and file.is_file() else set()
        if defined[path] is not None and name not in defined[path]:
            unknown.append(entry)
    return unknown


def _fixture_functions(item):
    info = getattr(item, "_fixtureinfo", None)
    for defs in (info.name2fixturedefs.values() if info else ()):
        for fixturedef in defs:
            yield fixturedef.func


def _reads_shared(item) -> bool:
    """The needs_shared skip mark, the ``shared`` fixture, or a fixture that looks the folder up
    itself (``SHARED``, ``shared_dir()``, a ``_shared(...)`` helper) and skips without it."""
    if any(m.kwargs.get("reason") == needs_shared.mark.kwargs["reason"] for m in item.iter_markers("skipif")):
        return True
    if "shared" in item.fixturenames:
        return True
    for func in _fixture_functions(item):
        code = getattr(func, "__code__", None)
        if code and any("shared" in name.lower() for name in code.co_names):
            return True
    return False


def _names(item) -> set[str]:
    code = getattr(getattr(item, "function", None), "__code__", None)
    return set(code.co_names) if code else set()


def markers_for(item, slow_exact: set[str], slow_any: set[str]) -> list[str]:
    used = set(item.fixturenames)
    module = item.path.name if getattr(item, "path", None) else ""
    marks = []
    if item.nodeid in slow_exact or item.nodeid.split("[", 1)[0] in slow_any:
        marks.append("slow")
    if used & BROWSER_FIXTURES or "CHROMIUM" in _names(item):
        marks.append("browser")
    if used & RAY_FIXTURES:
        marks.append("ray")
    if _reads_shared(item):
        marks.append("needs_shared")
    if module in WHEEL_MODULES:
        marks.append("wheel")
    if used & DISPLAY_FIXTURES:
        marks.append("display")
    return marks


_SLOW_IDS = pytest.StashKey[list]()


def pytest_configure(config):
    ids = read_slow_list()
    config.stash[_SLOW_IDS] = ids
    unknown = unknown_test_ids(ids)
    if unknown:  # a renamed or deleted test: said once, collection goes on
        config.issue_config_time_warning(pytest.PytestConfigWarning(
            f"{SLOW_LIST.relative_to(REPO)} names {len(unknown)} test(s) that do not exist "
            f"(regenerate it, docs/testing.md): {', '.join(unknown)}"), stacklevel=2)


def pytest_collection_modifyitems(config, items):
    ids = config.stash.get(_SLOW_IDS, [])
    slow_exact = {i for i in ids if "[" in i}
    slow_any = {i for i in ids if "[" not in i}
    for item in items:
        for name in markers_for(item, slow_exact, slow_any):
            item.add_marker(getattr(pytest.mark, name))
