#!/usr/bin/env python
"""Style and content losses of stylisation nets on ../shared/content/eval (see docs/quality.md).

  python tools/quality.py --style-image udnie_engstrom.jpg --net udnie --net udnie_engstrom
  python tools/quality.py --style-image mosaic.jpg --net mosaic --net runs/jc/mosaic.pt

--net is a registered style name (run through its ONNX graph) or a livestyle checkpoint (.pt).
The first row is always the unstylised photo.
"""
from __future__ import annotations

import argparse
from pathlib import Path

from livestyle.paths import shared_dir, vgg_weights
from livestyle.quality import QualityMeter, eval_photos


def method_for(net: str):
    if net.endswith(".pt"):
        import torch

        from livestyle.checkpoints import build_model, load_checkpoint
        from livestyle.runtime.stylizer import finish, prepare

        model = build_model(load_checkpoint(net, "johnson"))

        def run(bgr):
            p = prepare(bgr, None)
            with torch.inference_mode():
                return finish(model(torch.from_numpy(p.tensor)[None])[0].numpy(), p)
        return run
    from livestyle.runtime.stylizer import create_stylizer
    return create_stylizer(net, device="cpu")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--style-image", required=True, help="file name in <shared>/styles, or a path")
    ap.add_argument("--net", action="append", default=[], help="style name or checkpoint; repeatable")
    ap.add_argument("--size", type=int, default=256, help="long side of the eval photos")
    ap.add_argument("--shared-dir")
    args = ap.parse_args()
    shared = shared_dir(args.shared_dir, must_exist=True)
    style = Path(args.style_image)
    style = style if style.is_file() else shared / "styles" / style
    meter = QualityMeter(vgg_weights(None, shared), style)
    photos = eval_photos(shared)
    print(f"style image {style.name}, {len(photos)} photos at long side {args.size}")
    print(f"{'net':<28} {'style (Gram)':>12} {'content':>8} {'mean/std':>9}")
    for name in ["photo", *args.net]:
        score = meter.score((lambda x: x) if name == "photo" else method_for(name), photos, args.size)
        print(f"{name:<28} {score.style:>12.2f} {score.content:>8.2f} {score.mean_std_style:>9.2f}")


if __name__ == "__main__":
    main()
