#!/usr/bin/env python
"""Style and content losses of stylisation nets on ../shared/content/eval (see docs/quality.md).

  python tools/quality.py --style-image udnie_engstrom.jpg --net udnie --net udnie_engstrom
  python tools/quality.py --style-image mosaic.jpg --net mosaic --net runs/jc/mosaic.pt
  python tools/quality.py --style-image brushstrokes.jpg --adain --magenta --gatys --photos 4
  python tools/quality.py --style-image sketch.png --light --light-checkpoint runs/adain_light/adain_light.pt \
      --adain --magenta --size 384 --content-layer relu3_3
  python tools/quality.py --held-out --light --magenta --photos 6 --size 384   # every unseen painting

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

    from livestyle.export.adain_light import load_light_net
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


def held_out_names(args) -> set[str]:
    """Paintings held out of training: training/adain.py's, and each scored light net's own
    (recorded in its checkpoint by ``train adain-light --hold-out``)."""
    from livestyle.checkpoints import load_checkpoint
    from livestyle.runtime.registry import adain_light_checkpoint
    from livestyle.training.adain import HELD_OUT_STYLES

    nets = [*args.light_checkpoint, *([adain_light_checkpoint()] if args.light else [])]
    names = set(HELD_OUT_STYLES)
    for ckpt in nets:
        names.update(load_checkpoint(ckpt).get("meta", {}).get("held_out_styles") or [])
    return names


def style_paths(names: list[str], held_out: set[str], shared: Path) -> list[Path]:
    """--style-image names (a file in <shared>/styles, or a path), plus the held-out paintings."""
    from livestyle.media.images import list_images

    paths = [Path(n) if Path(n).is_file() else shared / "styles" / n for n in names]
    paths += [p for p in list_images(shared / "styles") if p.stem in held_out and p not in paths]
    return paths


def methods_for(args, style: Path, shared: Path) -> dict:
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
    return {name: remembered(m) for name, m in methods.items()}  # the sheet reuses the scored outputs


COLUMNS = (("style (Gram)", "style", 12), ("content", "content", 8), ("mean/std", "mean_std_style", 9),
           ("SSIM 1/2", "structure_ssim", 8), ("SSIM 1/8", "coarse_ssim", 8))


def print_table(rows: dict, layers: list[str]) -> None:
    print(f"{'method':<30}" + "".join(f" {title:>{w}}" for title, _, w in COLUMNS) + "".join(f" {n:>8}" for n in layers))
    for name, score in rows.items():
        print(f"{name:<30}" + "".join(f" {getattr(score, field):>{w}.3f}" for _, field, w in COLUMNS)
              + "".join(f" {score.style_by_layer[n]:>8.3f}" for n in layers))


def main() -> None:
    import numpy as np

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--style-image", action="append", default=[],
                    help="file name in <shared>/styles, or a path; repeatable (a mean table follows)")
    ap.add_argument("--held-out", action="store_true",
                    help="also every painting held out of training: training/adain.py's, and those "
                         "the scored light nets record as held out (--light, --light-checkpoint)")
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
    ap.add_argument("--sheet", type=Path, help="also write a contact sheet (rows: methods, columns: photos); "
                    "with several paintings, one sheet per painting named SHEET_<painting>.jpg")
    ap.add_argument("--sheet-photos", type=int, default=4)
    ap.add_argument("--shared-dir")
    args = ap.parse_args()
    shared = shared_dir(args.shared_dir, must_exist=True)
    styles = style_paths(args.style_image, held_out_names(args) if args.held_out else set(), shared)
    if not styles:
        ap.error("give --style-image or --held-out")
    photos = eval_photos(shared)[:args.photos]
    print(f"{len(styles)} painting(s), {len(photos)} photos at long side {args.size}, "
          f"content loss at {args.content_layer}; SSIM of grey output vs grey photo at 1/2 and 1/8 size")
    scores: dict[str, list] = {}
    for style in styles:
        meter = QualityMeter(vgg_weights(None, shared), style, content_layer=args.content_layer)
        methods = methods_for(args, style, shared)
        layers = list(meter.style_grams) if args.per_layer else []
        rows = {name: meter.score(method, photos, args.size) for name, method in methods.items()}
        print(f"\nstyle image {style.name}")
        print_table(rows, layers)
        for name, score in rows.items():
            scores.setdefault(name, []).append(score)
        if args.sheet:
            sheet = args.sheet if len(styles) == 1 else args.sheet.with_name(f"{args.sheet.stem}_{style.stem}{args.sheet.suffix}")
            write_sheet(sheet, style, methods, photos[:args.sheet_photos], args.size)
            print(f"contact sheet: {sheet}")
    if len(styles) > 1:
        from livestyle.eval.quality import QualityScore

        print(f"\nmean over {len(styles)} paintings")
        means = {name: QualityScore(*(float(np.mean([getattr(s, f) for s in ss]))
                                      for f in ("style", "content", "mean_std_style")), len(photos),
                                    {}, float(np.mean([s.coarse_ssim for s in ss])),
                                    float(np.mean([s.structure_ssim for s in ss])))
                 for name, ss in scores.items()}
        print_table(means, [])


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
