"""Where livestyle finds the shared data, its own exported models, the user's models, and its cache."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from .errors import InputError, ModelError

PACKAGE_ROOT = Path(__file__).resolve().parent
REPO_ROOT = PACKAGE_ROOT.parent
SHARED_ENV = "LIVESTYLE_SHARED"
CACHE_ENV = "LIVESTYLE_CACHE"
MODELS_ENV = "LIVESTYLE_MODELS"


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


def user_models_dir() -> Path:
    """The user's own styles (``livestyle export --checkpoint`` writes there): ``$LIVESTYLE_MODELS``,
    else the platform's per-user data folder. Kept apart from the installed package, which a
    reinstall or upgrade replaces."""
    if os.environ.get(MODELS_ENV):
        return Path(os.environ[MODELS_ENV]).expanduser()
    if sys.platform == "win32":
        base = Path(os.environ.get("LOCALAPPDATA") or Path.home() / "AppData" / "Local")
    elif sys.platform == "darwin":
        base = Path.home() / "Library" / "Application Support"
    else:
        base = Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share")
    return base / "livestyle" / "models"


VGG16_WEIGHTS = Path("weights/vgg/vgg16_imagenet_tvnorm_relu4_3_fp16.pth")
# torchvision's ImageNet VGG-16 (the state dict of ``torchvision.models.vgg16(weights="IMAGENET1K_V1")``,
# 528 MB): the loss network a user can get without the shared folder.
TORCHVISION_VGG16 = "vgg16-397923af.pth"
TORCHVISION_VGG16_CALL = 'python -c "import torchvision; torchvision.models.vgg16(weights=\'IMAGENET1K_V1\')"'


def torch_hub_checkpoints() -> Path:
    """Where torchvision keeps downloaded weights (``torch.hub.get_dir()/checkpoints``), worked
    out without importing PyTorch: ``$TORCH_HOME``, else ``$XDG_CACHE_HOME/torch``, else ~/.cache/torch."""
    home = os.environ.get("TORCH_HOME")
    if not home:
        home = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "torch"
    return Path(home).expanduser() / "hub" / "checkpoints"


def vgg_weights(explicit: str | os.PathLike | None = None, shared: str | os.PathLike | None = None) -> Path:
    """The shared folder's VGG-16 (Caffe weights, what the AdaIN decoder was trained on), or an
    explicit file."""
    return Path(explicit) if explicit else shared_dir(shared) / VGG16_WEIGHTS


def loss_vgg_weights(explicit: str | os.PathLike | None = None, shared: str | os.PathLike | None = None) -> Path:
    """The VGG-16 a perceptual loss runs on (training, Gatys, the quality meter), which may be either
    file: an explicit one, else the shared folder's, else torchvision's in its download cache.
    Raises :class:`ModelError` naming both files and how to get torchvision's when none is there."""
    if explicit:
        return Path(explicit)
    candidates = [shared_dir(shared) / VGG16_WEIGHTS, torch_hub_checkpoints() / TORCHVISION_VGG16]
    for path in candidates:
        if path.is_file():
            return path
    raise ModelError(
        f"no VGG-16 weights found (looked for {candidates[0]} and {candidates[1]}): get torchvision's "
        f"ImageNet VGG-16, {TORCHVISION_VGG16} (528 MB), with {TORCHVISION_VGG16_CALL} (it lands in "
        f"{candidates[1].parent}, where livestyle looks), or pass --vgg-weights FILE")


def cache_dir() -> Path:
    """Per-user cache for exports of third-party weights (never written into the repo)."""
    if os.environ.get(CACHE_ENV):
        path = Path(os.environ[CACHE_ENV]).expanduser()
    else:
        base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
        path = Path(base) / "livestyle"
    path.mkdir(parents=True, exist_ok=True)
    return path
