"""``livestyle paint``: Gatys optimisation of one photo (slow, best quality, any style image)."""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from .common import HelpFormatter, add_device, add_overwrite, add_shared_dir, parse_weights

DESCRIPTION = """\
Gatys optimisation: slow, best-quality stylisation of one photo.

Instead of running a trained network, the pixels of the result are optimised (L-BFGS by default)
until their VGG-16 Gram matrices match the style image(s) while their VGG features stay close to
the photo. Works with any painting, or a weighted mix of several, with no training. Large sizes
are painted coarse-to-fine: first at 256-511 px, then refined at twice the size up to --size, so
--steps is the number of steps at the full size and every smaller size gets twice as many.
On a CPU it takes minutes, more at a larger --size (timings in docs/gatys.md).

Losses are relative (1.0 = as far from the target as the target is from zero). Raise
--style-weight for a stronger style, --content-weight to keep more of the photo's structure."""

EPILOG = """\
examples:
  livestyle paint photo.jpg --style-image starry_night.jpg -o out.png
  livestyle paint photo.jpg --style-image a.jpg --style-image b.jpg --style-weights 0.7,0.3 -o mix.png
  livestyle paint photo.jpg --style-image scream.jpg --preserve-color luminance --size 1024 -o big.jpg"""


def add_parser(p: argparse.ArgumentParser) -> None:
    # Defaults are literals so that --help does not import torch; tests/test_gatys.py checks that
    # they equal PaintSettings' defaults.
    p.description, p.epilog, p.formatter_class = DESCRIPTION, EPILOG, HelpFormatter
    p.add_argument("content", type=Path, help="photo to stylise")
    p.add_argument("--style-image", action="append", required=True, type=Path, metavar="STYLE",
                   help="painting whose style to copy; repeat to mix several styles")
    p.add_argument("--style-weights", metavar="W1,W2,...",
                   help="how much of each --style-image, in order (scaled to sum to 1; default: equal)")
    p.add_argument("-o", "--output", type=Path, required=True, help="result image (.png or .jpg)")
    add_overwrite(p, "the result")
    p.add_argument("--size", type=int, default=512, help="long side of the result in pixels (64-4096)")
    p.add_argument("--steps", type=int, default=50,
                   help="optimiser steps at the full size (each smaller size gets twice as many)")
    p.add_argument("--optimizer", choices=("lbfgs", "adam"), default="lbfgs",
                   help="lbfgs reaches a slightly lower loss than adam in the same steps; adam keeps "
                        "no step history, so it needs less memory")
    p.add_argument("--style-weight", type=float, default=3.0, help="weight of the Gram style loss")
    p.add_argument("--content-weight", type=float, default=1.0, help="weight of the content loss")
    p.add_argument("--tv-weight", type=float, default=10.0,
                   help="weight of the total-variation smoothness loss (higher = fewer speckles)")
    p.add_argument("--content-layer", default="relu3_3",
                   help="VGG-16 layer whose features the result must keep (relu1_1 ... relu4_3); "
                        "relu3_3 keeps faces recognisable where relu2_2 smears them")
    p.add_argument("--init", choices=("content", "noise"), default="content",
                   help="start from the photo (faster, closer to it) or from random noise")
    p.add_argument("--preserve-color", choices=("luminance", "histogram"),
                   help="keep the photo's colours: 'luminance' paints the style's brightness onto the "
                        "photo's colours afterwards; 'histogram' recolours the style images to the "
                        "photo's palette first (Gatys et al. 2016)")
    p.add_argument("--seed", type=int, default=0, help="random seed for --init noise")
    p.add_argument("--vgg-weights", type=Path, help="VGG-16 weights: the shared folder's or torchvision's "
                   "vgg16-397923af.pth (default: <shared>/weights/vgg/..., else torchvision's download cache)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    add_device(p, fp16=False)
    add_shared_dir(p)


def run(args: argparse.Namespace) -> int:
    from ..extras import need

    need("Gatys painting", "torch")
    from ..errors import OutputError
    from ..fileio import refuse_overwriting_inputs, refuse_replacing
    from ..media.images import IMAGE_SUFFIXES, check_writable, write_image

    # Refusals first: importing torch (below) takes seconds.
    refuse_overwriting_inputs(args.output, [args.content, *args.style_image, args.vgg_weights])
    refuse_replacing([args.output], args.overwrite)
    output = check_writable(args.output)
    if output.suffix.lower() not in IMAGE_SUFFIXES:
        raise OutputError(f"cannot write images with extension '{output.suffix}'; use .png or .jpg")

    from tqdm import tqdm

    from ..devices import pick_device
    from ..paint import PaintSettings, paint, scale_plan
    from ..paths import loss_vgg_weights
    settings = PaintSettings(size=args.size, steps=args.steps, optimizer=args.optimizer,
                             style_weight=args.style_weight, content_weight=args.content_weight,
                             tv_weight=args.tv_weight, content_layer=args.content_layer, init=args.init,
                             preserve_color=args.preserve_color, seed=args.seed)
    weights = parse_weights(args.style_weights)
    vgg = loss_vgg_weights(args.vgg_weights, args.shared_dir)
    device = pick_device(args.device)

    bar = None

    def progress(p) -> None:
        nonlocal bar
        if bar is None:
            total = sum(steps for _, steps in scale_plan(settings.size, settings.steps,
                                                         min(settings.coarsest_size, settings.size)))
            bar = tqdm(total=total, unit="step", disable=args.quiet)
        bar.set_description(f"{p.width}x{p.height}")
        bar.set_postfix(loss=f"{p.losses['total']:.3f}", style=f"{p.losses['style']:.3f}",
                        content=f"{p.losses['content']:.3f}", refresh=False)
        bar.update(1)

    start = time.perf_counter()
    try:
        result = paint(args.content, args.style_image, vgg, settings, style_weights=weights,
                       device=device, progress=progress)
    finally:
        if bar is not None:
            bar.close()
    seconds = time.perf_counter() - start
    write_image(output, result.image)
    h, w = result.image.shape[:2]
    losses = result.losses
    print(f"wrote {output} ({w}x{h}) in {seconds:.1f} s on {device.type}; "
          f"losses: style {losses['style']:.3f}, content {losses['content']:.3f}, tv {losses['tv']:.3f}, "
          f"weighted total {losses['total']:.3f}")
    return 0
