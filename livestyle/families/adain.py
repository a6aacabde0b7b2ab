"""The AdaIN decoder (Huang & Belongie 2017) on the VGG-16 encoder: arbitrary style, the quality reference.

Trained by ``livestyle train adain`` (``training/adain.py``); the net is ``models/adain.py``'s
decoder, run behind the shared folder's VGG-16 up to relu4_1.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from . import Trainer

ARCH = "adain_decoder"
KIND = "arbitrary"
# The decoder needs the VGG-16 encoder in front of it, so it has no graph of its own.
RUNS_ALONE = False


def build(config: dict):
    from ..models.adain import AdaINDecoder

    return AdaINDecoder()


def describe(config: dict | None) -> str:
    return "VGG-16 encoder to relu4_1 (from the shared folder, not shipped), AdaIN, a decoder mirroring it"


def ship(checkpoint: Path, exported: Path, shared: Path | None) -> dict:
    """The parity-checked fp16 decoder into ``exported`` (its graphs are rebuilt from the VGG-16 in
    the user cache), with a manifest entry."""
    from ..export.adain import publish_adain_decoder
    from ..export.onnx import parity_images
    from ..paths import vgg_weights

    return publish_adain_decoder(checkpoint, exported, vgg_weights(None, shared), parity_images(shared))


def add_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--style-dir", type=Path, action="append", help="folder(s) of paintings "
                   "(default: <shared>/styles)")
    p.add_argument("--style-weight", type=float, default=2.0, help="weight of the mean/std style loss")
    p.add_argument("--content-weight", type=float, default=1.0, help="weight of the loss against the AdaIN target")


def make_task(args, content, vgg, device, shared):
    from ..training.adain import HELD_OUT_STYLES, AdaINSettings, AdaINTask
    from ..training.data import ImageBank

    style_dirs = args.style_dir or [shared / "styles"]
    styles = ImageBank.from_folders(style_dirs, "style", exclude=HELD_OUT_STYLES, max_side=512)
    settings = AdaINSettings(image_size=args.image_size, batch_size=args.batch_size,
                             style_weight=args.style_weight, content_weight=args.content_weight,
                             seed=args.seed)
    return AdaINTask(content, styles, vgg, settings, device)


TRAINERS = (Trainer("adain", "AdaIN decoder for arbitrary styles (Huang & Belongie 2017)", add_options, make_task,
                    lr=1e-4),)
