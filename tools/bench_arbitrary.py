#!/usr/bin/env python
"""Arbitrary style (--style-image) speed against the Magenta anchor, in one run (docs/performance.md).

Rows, interleaved over ``--rounds`` so that load on a shared machine hits every row alike:
* ``magenta arbitrary``: Magenta's transform alone at its fixed 384x384, style code precomputed
  (the CPU anchor; ``<shared>/weights/extras``);
* ``light, net only``: livestyle's light net on 640x360 frames, no blending;
* ``light, livestyle video``: ``livestyle video`` end to end on a 640x360 clip (decode, net,
  temporal blending at its default, encode), as the command builds it;
* ``vgg, livestyle video`` (``--with-vgg``): the same through the VGG-16 decoder (--model full).

    python tools/bench_arbitrary.py --style-image brushstrokes.jpg --frames 60 --rounds 3
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path


from livestyle.cli.video import DEFAULT_PRESET
from livestyle.eval.magenta import MagentaArbitrary
from livestyle.media.images import read_image
from livestyle.media.video import VideoReader
from livestyle.paths import shared_dir
from livestyle.pipeline.file import stylize_video
from livestyle.runtime.factory import create_stylizer

CLIP = "videos/clips/big_buck_bunny_cut.mp4"   # 640x360
WARMUP = 3


def frames_per_second(run, inputs: list) -> float:
    for x in inputs[:WARMUP]:
        run(x)
    start = time.perf_counter()
    for x in inputs:
        run(x)
    return len(inputs) / (time.perf_counter() - start)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--style-image", default="brushstrokes.jpg", help="file in <shared>/styles, or a path")
    p.add_argument("--frames", type=int, default=60, help="frames per measurement")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--with-vgg", action="store_true", help="also time the VGG-16 decoder end to end")
    p.add_argument("--shared-dir")
    args = p.parse_args()
    shared = shared_dir(args.shared_dir, must_exist=True)
    style = Path(args.style_image)
    style = style if style.is_file() else shared / "styles" / style
    clip = shared / CLIP
    with VideoReader(clip) as reader:
        fps = reader.info.fps
        frames = [f.image for _, f in zip(range(args.frames), reader)]
    duration = len(frames) / float(fps)

    magenta = MagentaArbitrary(shared, read_image(style, what="style image"))
    prepared = [MagentaArbitrary.prepared_input(f) for f in frames]
    light_only = create_stylizer(style_images=[style], model="fast", device="cpu")
    models = {"light": "fast", **({"vgg": "full"} if args.with_vgg else {})}
    streaming = {name: create_stylizer(style_images=[style], model=m, device="cpu", streaming=True)
                 for name, m in models.items()}
    rows: dict[str, list[float]] = {"magenta arbitrary (384x384, model only)": [],
                                    "light, net only (640x360)": [],
                                    **{f"{n}, livestyle video end to end (640x360)": [] for n in models}}
    with tempfile.TemporaryDirectory() as tmp:
        for r in range(args.rounds):
            rows["magenta arbitrary (384x384, model only)"].append(
                frames_per_second(magenta.transform_only, prepared))
            rows["light, net only (640x360)"].append(frames_per_second(light_only, frames))
            for name, stylizer in streaming.items():
                stylizer.reset()
                stats = stylize_video(clip, Path(tmp) / f"{name}{r}.mp4", stylizer, duration=duration,
                                      preset=DEFAULT_PRESET, progress=False)
                rows[f"{name}, livestyle video end to end (640x360)"].append(stats.fps)
    anchor = statistics.median(rows["magenta arbitrary (384x384, model only)"])
    print(f"style image {style.name}, {len(frames)} frames, {args.rounds} rounds (median f/s; rounds in brackets)")
    print(f"{'row':<48} {'f/s':>7} {'vs magenta':>10}   rounds")
    for name, values in rows.items():
        median = statistics.median(values)
        print(f"{name:<48} {median:>7.2f} {median / anchor:>9.2f}x   "
              + " ".join(f"{v:.2f}" for v in values))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
