"""Where livestyle finds the shared data, its own exported models, and its cache."""

from __future__ import annotations

import os
from pathlib import Path

from .errors import InputError

PACKAGE_ROOT = Path(__file__).resolve().parent
REPO_ROOT = PACKAGE_ROOT.parent
SHARED_ENV = "LIVESTYLE_SHARED"
CACHE_ENV = "LIVESTYLE_CACHE"


def exported_dir() -> Path:
    """Models that livestyle's own training produced (committed to the repo, shipped in the wheel)."""
    override = os.environ.get("LIVESTYLE_EXPORTED")
    if override:
        return Path(override)
    for candidate in (REPO_ROOT / "exported", PACKAGE_ROOT / "exported"):
        if candidate.is_dir():
            return candidate
    return REPO_ROOT / "exported"


def shared_dir(explicit: str | os.PathLike | None = None, must_exist: bool = False) -> Path:
    """Third-party data: ``--shared-dir`` beats ``$LIVESTYLE_SHARED`` beats ``../shared``."""
    if explicit:
        path = Path(explicit).expanduser()
    elif os.environ.get(SHARED_ENV):
        path = Path(os.environ[SHARED_ENV]).expanduser()
    else:
        path = REPO_ROOT.parent / "shared"
    if must_exist and not path.is_dir():
        raise InputError(
            f"shared data folder not found at {path}; pass --shared-dir PATH or set {SHARED_ENV}")
    return path


VGG16_WEIGHTS = Path("weights/vgg/vgg16_imagenet_tvnorm_relu4_3_fp16.pth")


def vgg_weights(explicit: str | os.PathLike | None = None, shared: str | os.PathLike | None = None) -> Path:
    """The VGG-16 loss network's weights: an explicit file, else the one in the shared folder."""
    return Path(explicit) if explicit else shared_dir(shared) / VGG16_WEIGHTS


def cache_dir() -> Path:
    """Per-user cache for exports of third-party weights (never written into the repo)."""
    if os.environ.get(CACHE_ENV):
        path = Path(os.environ[CACHE_ENV]).expanduser()
    else:
        base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
        path = Path(base) / "livestyle"
    path.mkdir(parents=True, exist_ok=True)
    return path
