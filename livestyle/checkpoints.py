"""Checkpoints that know their architecture (the nanoGPT habit): arch + config + weights + meta.

Training checkpoints add optimiser state, the step and the loss history so ``--resume`` continues
exactly. Every file read goes through :func:`load_torch_file` so a corrupt file gives one clear line.
This is where weight files become nets: :func:`build_model` for livestyle's own checkpoints (by
their family, ``livestyle/families/``),
:func:`load_vgg16` for the VGG-16 (the loss network and the AdaIN encoder), so that
``models/`` stays free of file I/O.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from .errors import ModelError
from .families import canonical_arch, family
from .fileio import write_atomically

FORMAT = "livestyle-checkpoint/1"


def load_torch_file(path, what: str = "checkpoint") -> Any:
    path = Path(path)
    if not path.is_file():
        raise ModelError(f"{what} not found: {path}")
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises many types for truncated/garbage files
        raise ModelError(f"{what} at {path} is corrupt or not a PyTorch file ({type(exc).__name__}); "
                         "re-download or re-train it") from exc


def atomic_save(obj: Any, path) -> Path:
    """Save ``obj`` whole or not at all: a killed run never leaves a half-written checkpoint."""
    path = Path(path)
    write_atomically(path, lambda tmp: torch.save(obj, tmp), hint="; choose a writable -o path")
    return path


def make_checkpoint(arch: str, config: dict, state_dict: dict, meta: dict | None = None,
                    **training_state: Any) -> dict:
    return {"format": FORMAT, "arch": arch, "config": config, "state_dict": state_dict,
            "meta": meta or {}, **training_state}


def load_checkpoint(path, arch: str | None = None) -> dict:
    ckpt = load_torch_file(path)
    if not isinstance(ckpt, dict) or ckpt.get("format") != FORMAT:
        raise ModelError(f"{path} is not a livestyle checkpoint (no '{FORMAT}' header)")
    # Older checkpoints may record an earlier name of their family: read them as today's.
    ckpt["arch"] = canonical_arch(ckpt["arch"])
    if arch is not None and ckpt["arch"] != canonical_arch(arch):
        raise ModelError(f"{path} holds a '{ckpt['arch']}' model, expected '{arch}'")
    return ckpt


def build_model(ckpt: dict) -> torch.nn.Module:
    """Rebuild the net a checkpoint describes (its family's ``build``, livestyle/families/) and load
    its weights (fp16 weights become fp32)."""
    arch = ckpt["arch"]
    net = family(arch).build(ckpt.get("config") or {})
    try:
        net.load_state_dict({k: v.float() for k, v in ckpt["state_dict"].items()})
    except RuntimeError as exc:
        raise ModelError(f"checkpoint weights do not fit the '{arch}' architecture: "
                         f"{str(exc).splitlines()[0]}") from exc
    return net.eval()


def load_vgg16(weights_path, layers: tuple[str, ...], torchvision_ok: bool = True):
    """A VGG-16 returning the named ReLU ``layers``, frozen, in eval mode, from the shared folder's
    file (``paths.vgg_weights``) or torchvision's ImageNet file (``paths.TORCHVISION_VGG16``).

    One loader for every use: the training losses, Gatys, the quality meter and the AdaIN encoder.
    ``torchvision_ok=False`` refuses torchvision's file, for a net trained on the shared one's
    features (the AdaIN decoder): those are on another scale.
    """
    from .models.vgg import VGG16Features, features_state_dict, is_torchvision_state_dict
    from .paths import TORCHVISION_VGG16, VGG16_WEIGHTS

    state = load_torch_file(weights_path, what="VGG-16 weights")
    if not isinstance(state, dict):
        raise ModelError(f"{weights_path} is not a VGG-16 state dict; use {TORCHVISION_VGG16} or the "
                         f"shared folder's {VGG16_WEIGHTS.name}")
    if not torchvision_ok and is_torchvision_state_dict(state):
        raise ModelError(f"{weights_path} is torchvision's VGG-16, whose features are on another scale than "
                         f"those the AdaIN decoder was trained on: give the shared folder's {VGG16_WEIGHTS.name}, "
                         "or use the light net (--model fast), which needs no VGG-16")
    net = VGG16Features(tuple(dict.fromkeys(layers)))  # a layer named twice is computed once
    try:
        net.load_shared_state_dict(state)
    except (RuntimeError, ValueError, AttributeError) as exc:
        found = ", ".join(list(features_state_dict(state))[:3])
        raise ModelError(f"{weights_path} does not hold VGG-16 conv weights (keys {found}, ...); use "
                         f"{TORCHVISION_VGG16} or the shared folder's {VGG16_WEIGHTS.name}") from exc
    return net.eval()
