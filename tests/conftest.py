"""Fixtures shared by the test modules: the shared data folder and a private model cache."""

from __future__ import annotations

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
    """Exports of third-party weights go to a per-session cache, never the user's."""
    import os

    path = tmp_path_factory.mktemp("livestyle-cache")
    old = os.environ.get("LIVESTYLE_CACHE")
    os.environ["LIVESTYLE_CACHE"] = str(path)
    yield path
    if old is None:
        os.environ.pop("LIVESTYLE_CACHE", None)
    else:
        os.environ["LIVESTYLE_CACHE"] = old
