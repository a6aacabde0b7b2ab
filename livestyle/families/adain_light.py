"""livestyle's light arbitrary-style net: a student encoder distilled from VGG-16, AdaIN, a small decoder.

Any painting, in real time on a CPU; trained by ``livestyle train adain-light`` with VGG-16 as
teacher and loss network (``training/adain_light.py``); the net is ``models/adain_light.py``.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from . import Trainer

ARCH = "adain_light"
ALIASES = ("light_adain",)
KIND = "arbitrary"


def build(config: dict):
    from ..models.adain_light import AdaINLightConfig, AdaINLightNet

    return AdaINLightNet(AdaINLightConfig.from_dict(config))


def describe(config: dict) -> str:
    widths = "/".join(str(w) for w in config["widths"])
    return (f"student encoder {widths} channels (VGG-16's relu1_1..relu4_1 at a quarter of its widths), "
            f"AdaIN, separable decoder{', a structure skip at 1/4 resolution' if config.get('skip') else ''}, "
            f"{config['border']} px reflected border")


def ship(checkpoint: Path, exported: Path, shared: Path | None) -> dict:
    """Its three graphs (parity-checked) and fp16 checkpoint into ``exported``, with a manifest entry."""
    from ..export.adain_light import publish_adain_light
    from ..export.onnx import parity_images

    return publish_adain_light(checkpoint, exported, parity_images(shared))


def add_options(p: argparse.ArgumentParser) -> None:
    from ..argtypes import non_negative_float

    p.add_argument("--style-dir", type=Path, action="append", help="folder(s) of paintings "
                   "(default: <shared>/styles, held-out paintings excluded)")
    p.add_argument("--hold-out", action="append", default=[], metavar="NAME",
                   help="also keep this painting (file name without extension) out of training, to score "
                        "the net on it later; repeatable (training/adain.py's HELD_OUT_STYLES always are)")
    p.add_argument("--style-weight", type=float, default=2.5, help="weight of the mean/std style loss")
    p.add_argument("--content-weight", type=float, default=1.0, help="weight of the loss against the AdaIN target")
    p.add_argument("--distill-weight", type=float, default=5.0,
                   help="weight of the feature-distillation loss (student taps vs VGG relu1_1..relu4_1)")
    p.add_argument("--gram-weight", type=non_negative_float, default=0.0,
                   help="weight of a Gram style loss on the teacher's taps (channel correlations, which "
                        "mean/std leave out)")
    p.add_argument("--structure-weight", type=non_negative_float, default=0.0,
                   help="weight of the Laplacian of the grey output against the photo's at half size "
                        "(keeps eyes, edges and lettering; Li et al. 2017)")
    p.add_argument("--skip", action="store_true",
                   help="add the 1/4-resolution structure skip to the decoder (models/adain_light.py); a net "
                        "without it warm-starts one with it")
    p.add_argument("--stage", choices=("joint", "decoder"), default="joint",
                   help="joint = encoder, heads and decoder together; decoder = encoder frozen")


def make_task(args, content, vgg, device, shared):
    from ..errors import InputError
    from ..media.images import list_images
    from ..models.adain_light import AdaINLightConfig
    from ..training.adain import HELD_OUT_STYLES
    from ..training.adain_light import AdaINLightSettings, AdaINLightTask
    from ..training.data import ImageBank

    style_dirs = args.style_dir or [shared / "styles"]
    known = {p.stem for folder in style_dirs if Path(folder).is_dir() for p in list_images(folder)}
    unknown = sorted(set(args.hold_out) - known)
    if unknown:
        raise InputError(f"--hold-out {', '.join(unknown)}: no such painting in {', '.join(map(str, style_dirs))} "
                        "(give the file name without its extension)")
    held_out = HELD_OUT_STYLES + tuple(n for n in args.hold_out if n not in HELD_OUT_STYLES)
    styles = ImageBank.from_folders(style_dirs, "style", exclude=held_out, max_side=512)
    settings = AdaINLightSettings(image_size=args.image_size, batch_size=args.batch_size,
                                  style_weight=args.style_weight, content_weight=args.content_weight,
                                  distill_weight=args.distill_weight, stage=args.stage,
                                  gram_weight=args.gram_weight, structure_weight=args.structure_weight,
                                  ema_decay=args.ema, seed=args.seed, held_out=held_out)
    return AdaINLightTask(content, styles, vgg, settings, device, config=AdaINLightConfig(skip=args.skip))


TRAINERS = (Trainer("adain-light", "livestyle's light arbitrary-style net: student encoder distilled from "
                    "VGG-16 + small decoder (runs without VGG)", add_options, make_task, lr=5e-4),)
