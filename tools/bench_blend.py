#!/usr/bin/env python
"""What temporal blending costs: the streaming stylizer timed per frame with and without it.

  python tools/bench_blend.py --style mosaic --frames 48 --rounds 3 [--flow-size 480]

Times the stylizer that ``video``/``cam`` build (``--model auto``: the fast net on a CPU) on the
640x360 clip, frame by frame in order, in three settings: per-frame (``--stability 0``), blended
without detail restoration, and the default (blended, detail restored). The settings take turns
for ``--rounds`` rounds so a noisy machine slows them alike; the table gives the median over
rounds and each blended setting's extra time relative to per-frame. ``--flow-size PX`` adds the
default setting with the flow estimated at up to PX pixels instead of FLOW_LONG_SIDE.
"""
from __future__ import annotations

import cv2  # noqa: F401  (before av: the two ship different ffmpeg builds)

import argparse
import statistics

from livestyle.argtypes import positive_int
from livestyle.eval.bench import time_calls
from livestyle.media.video import VideoReader
from livestyle.paths import shared_dir
from livestyle.runtime.factory import create_stylizer

CLIP = "videos/clips/big_buck_bunny_cut.mp4"
SETTINGS = {"per-frame": (0.0, False, None), "blended": (None, False, None),
            "blended + detail (default)": (None, True, None)}


def time_stylizer(stylizer, frames: list) -> float:
    """Milliseconds per frame over ``frames`` in order, after a short warm-up; each from a fresh
    stream, so the blend starts where a video does."""
    stylizer.reset()
    return time_calls(stylizer, frames, warmup=3, after_warmup=stylizer.reset).mean_ms


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--style", default="mosaic")
    p.add_argument("--model", choices=("auto", "full", "fast"), default="auto")
    p.add_argument("--frames", type=positive_int, default=48)
    p.add_argument("--rounds", type=positive_int, default=3)
    p.add_argument("--flow-size", type=positive_int, action="append", default=[],
                   help="also time the default with flow at up to this many pixels (repeatable)")
    p.add_argument("--shared-dir")
    args = p.parse_args()
    settings = {**SETTINGS, **{f"default, flow at {px} px": (None, True, px) for px in args.flow_size}}

    with VideoReader(shared_dir(args.shared_dir) / CLIP) as reader:
        frames = [f.image for _, f in zip(range(args.frames), reader)]
    stylizers = {}
    for name, (stability, detail, flow_px) in settings.items():
        stylizers[name] = create_stylizer(args.style, model=args.model, stability=stability, streaming=True,
                                          shared_dir=args.shared_dir)
        if stylizers[name].blender is not None:
            stylizers[name].blender.keep_detail = detail
            stylizers[name].blender.flow_long_side = flow_px or stylizers[name].blender.flow_long_side
    times: dict[str, list[float]] = {name: [] for name in settings}
    for _ in range(args.rounds):
        for name, stylizer in stylizers.items():
            times[name].append(time_stylizer(stylizer, frames))

    base = statistics.median(times["per-frame"])
    h, w = frames[0].shape[:2]
    print(f"net: {stylizers['per-frame'].model_name}  {w}x{h}  {len(frames)} frames x {args.rounds} rounds (CPU)")
    print(f"{'setting':<30} {'ms/frame':>9} {'FPS':>6} {'extra vs per-frame':>19}")
    for name, ts in times.items():
        ms = statistics.median(ts)
        print(f"{name:<30} {ms:9.1f} {1e3 / ms:6.1f} {(ms - base) / base:19.1%}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
