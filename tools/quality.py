#!/usr/bin/env python
"""Style and content losses of stylisation nets on ../shared/content/eval (see docs/quality.md).

  python tools/quality.py --style-image udnie_engstrom.jpg --net udnie --net udnie_engstrom
  python tools/quality.py --style-image mosaic.jpg --net mosaic --net runs/jc/mosaic.pt
  python tools/quality.py --style-image brushstrokes.jpg --adain --magenta --gatys --photos 4
  python tools/quality.py --style-image sketch.png --light --light-checkpoint runs/adain_light/adain_light.pt \
      --adain --magenta --size 384 --content-layer relu3_3

--net is a registered style name (run through its ONNX graph) or a livestyle checkpoint (.pt);
--adain runs our AdaIN decoder on the VGG-16 encoder with the style image, --light livestyle's
shipped light arbitrary-style net (--light-checkpoint: a training checkpoint of it), --magenta the Magenta arbitrary-style ONNX
pair from <shared>/weights/extras (Ghiasi et al. 2017; fixed 384x384 input, so photos are resized
to it and back), --gatys the L-BFGS optimisation (slow). The first row is always the photo.
"""
from __future__ import annotations

import argparse
from pathlib import Path

from livestyle.eval.quality import QualityMeter, eval_photos
from livestyle.paths import shared_dir, vgg_weights


def method_for(net: str):
    if net.endswith(".pt"):
        import torch

        from livestyle.checkpoints import build_model, load_checkpoint
        from livestyle.runtime.stylizer import finish, prepare

        model = build_model(load_checkpoint(net, "johnson"))

        def run(bgr):
            p = prepare(bgr, None, model.config.stride)
            with torch.inference_mode():
                return finish(model(torch.from_numpy(p.tensor)[None])[0].numpy(), p)
        return run
    from livestyle.runtime.factory import create_stylizer
    return create_stylizer(net, device="cpu")


def adain_method(style: Path, model: str, alpha: float = 1.0):
    from livestyle.runtime.factory import create_stylizer

    return create_stylizer(style_images=[style], alpha=alpha, device="cpu", model=model)


def light_checkpoint_method(style: Path, checkpoint: Path):
    """A light-net training checkpoint in PyTorch, as the runtime would run its graphs."""
    import torch

    from livestyle.export.light_adain import load_light_net
    from livestyle.media.images import read_image
    from livestyle.runtime.adain import AdaINStylizer, style_tensor
    from livestyle.runtime.stylizer import finish, prepare

    net = load_light_net(checkpoint)
    with torch.inference_mode():
        mean, std = net.style_stats(torch.from_numpy(style_tensor(read_image(style, what="style image"))))

    def run(bgr):
        p = prepare(bgr, None, AdaINStylizer.size_multiple)
        with torch.inference_mode():
            out = net(torch.from_numpy(p.tensor)[None], mean, std, torch.ones(1))
        return finish(out[0].numpy(), p)
    return run


def magenta_method(style: Path, shared: Path):
    """Magenta's arbitrary stylisation: a 100-d style code from the painting, then a 384x384 transform."""
    from livestyle.eval.magenta import MagentaArbitrary
    from livestyle.media.images import read_image

    return MagentaArbitrary(shared, read_image(style, what="style image"))


def gatys_method(style: Path, vgg: Path, size: int, steps: int):
    from livestyle.paint import PaintSettings, load_gatys_network, paint

    net = load_gatys_network(vgg)
    return lambda bgr: paint(bgr, [style], net, PaintSettings(size=size, steps=steps)).image


def remembered(method):
    import hashlib

    seen = {}

    def run(bgr):
        key = hashlib.sha1(bgr.tobytes()).hexdigest()
        if key not in seen:
            seen[key] = method(bgr)
        return seen[key]
    return run


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--style-image", required=True, help="file name in <shared>/styles, or a path")
    ap.add_argument("--net", action="append", default=[], help="style name or checkpoint; repeatable")
    ap.add_argument("--adain", action="store_true", help="our AdaIN decoder on the VGG-16 encoder (--model full)")
    ap.add_argument("--light", action="store_true", help="livestyle's shipped light arbitrary-style net")
    ap.add_argument("--light-checkpoint", type=Path, action="append", default=[],
                    help="a light-net training checkpoint (.pt); repeatable")
    ap.add_argument("--content-layer", default="relu2_2", choices=("relu2_2", "relu3_3"),
                    help="VGG-16 layer of the content loss")
    ap.add_argument("--magenta", action="store_true", help="Magenta arbitrary-style ONNX with --style-image")
    ap.add_argument("--gatys", action="store_true", help="Gatys L-BFGS optimisation (slow)")
    ap.add_argument("--gatys-steps", type=int, default=50)
    ap.add_argument("--photos", type=int, help="use only the first N eval photos")
    ap.add_argument("--size", type=int, default=256, help="long side of the eval photos")
    ap.add_argument("--per-layer", action="store_true", help="also print the Gram style loss of each VGG layer")
    ap.add_argument("--sheet", type=Path, help="also write a contact sheet (rows: methods, columns: photos)")
    ap.add_argument("--sheet-photos", type=int, default=4)
    ap.add_argument("--shared-dir")
    args = ap.parse_args()
    shared = shared_dir(args.shared_dir, must_exist=True)
    style = Path(args.style_image)
    style = style if style.is_file() else shared / "styles" / style
    meter = QualityMeter(vgg_weights(None, shared), style, content_layer=args.content_layer)
    photos = eval_photos(shared)[:args.photos]
    methods = {"photo": lambda x: x, **{name: method_for(name) for name in args.net}}
    if args.light:
        methods["light (livestyle)"] = adain_method(style, "fast")
    for ckpt in args.light_checkpoint:
        methods[f"light {ckpt.parent.name}/{ckpt.stem}"] = light_checkpoint_method(style, ckpt)
    if args.adain:
        methods["adain vgg (livestyle)"] = adain_method(style, "full")
    if args.magenta:
        methods["magenta arbitrary"] = magenta_method(style, shared)
    if args.gatys:
        methods[f"gatys ({args.gatys_steps} steps)"] = gatys_method(style, vgg_weights(None, shared), args.size,
                                                                  args.gatys_steps)
    methods = {name: remembered(m) for name, m in methods.items()}  # the sheet reuses the scored outputs
    print(f"style image {style.name}, {len(photos)} photos at long side {args.size}, "
          f"content loss at {args.content_layer}")
    layers = list(meter.style_grams) if args.per_layer else []
    print(f"{'method':<28} {'style (Gram)':>12} {'content':>8} {'mean/std':>9} {'SSIM 1/8':>8}"
          + "".join(f" {n:>8}" for n in layers))
    for name, method in methods.items():
        score = meter.score(method, photos, args.size)
        print(f"{name:<28} {score.style:>12.3f} {score.content:>8.3f} {score.mean_std_style:>9.3f} "
              f"{score.coarse_ssim:>8.3f}"
              + "".join(f" {score.style_by_layer[n]:>8.3f}" for n in layers))
    if args.sheet:
        write_sheet(args.sheet, style, methods, photos[:args.sheet_photos], args.size)
        print(f"contact sheet: {args.sheet}")


def write_sheet(path: Path, style: Path, methods: dict, photos: list[Path], size: int) -> None:
    """One row per method (the first cell of each row is the style image), one column per photo."""
    import cv2
    import numpy as np

    from livestyle.imageops import fit_in_square, resize_long_side
    from livestyle.media.images import read_image, write_image

    cell = size
    shots = [resize_long_side(read_image(p), size) for p in photos]
    rows = []
    for name, method in methods.items():
        label = fit_in_square(read_image(style), cell) if name != "photo" else np.full((cell, cell, 3), 255, np.uint8)
        cv2.putText(label, name[:18], (4, cell - 8), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (0, 0, 0), 3)
        cv2.putText(label, name[:18], (4, cell - 8), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (255, 255, 255), 1)
        rows.append(np.hstack([label] + [fit_in_square(method(p), cell) for p in shots]))
    write_image(path, np.vstack(rows))


if __name__ == "__main__":
    main()
