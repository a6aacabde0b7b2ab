#!/usr/bin/env python
"""How much of the remaining warping error is the flow's fault: the blender with DIS vs ground truth.

  python tools/temporal_oracle.py --style mosaic_fast --style candy_fast

On the Sintel pairs of ../shared (ground-truth flow frame 2 -> 3 and its occlusion map) the frames
are stylised *backwards* (4, 3, 2), so that the blend of the measured frame 2 needs exactly the
flow the ground truth gives: frame 2 -> frame 3, at frame 2's pixels. Frames 4 and 3 go through the
default blender; frame 2 is blended once with the blender's own DIS flow and mask and once with
the ground-truth flow and non-occlusion mask (same stability, same detail restoration). The
printed numbers are the warping error of each, relative to per-frame stylisation, as in
tools/temporal_eval.py.
"""
from __future__ import annotations

import argparse

import numpy as np

from livestyle.paths import shared_dir
from livestyle.runtime.temporal import TemporalBlender, blend, restore_detail, warp_history
from livestyle.temporal_metrics import warping_error
from temporal_eval import load_net, load_sequences


def hwc01(chw255: np.ndarray) -> np.ndarray:
    return np.clip(chw255, 0, 255).transpose(1, 2, 0) / 255.0


def oracle_ratios(net, seq) -> tuple[float, float]:
    """(DIS, ground truth) warping error of the measured pair, relative to per-frame."""
    pair = seq.pairs[0]                       # frame index a=1 compared with b=2 warped along GT a -> b
    images = [np.ascontiguousarray(f.transpose(2, 0, 1) * 255.0) for f in seq.frames]
    per = [net.decode(net.encode(x)) for x in images]
    blender = TemporalBlender()
    for i in range(len(images) - 1, pair.b - 1, -1):    # backwards up to frame b: its output is the history
        history = blender(per[i], images[i])
    with_dis = blender(per[pair.a], images[pair.a])
    stability = blender.stability
    with_gt = blend(per[pair.a], warp_history(history, pair.flow, 0.0), pair.mask.astype(np.float32), stability)
    if blender.keep_detail:
        with_gt = restore_detail(with_gt, per[pair.a])
    base = warping_error(hwc01(per[pair.a]), hwc01(per[pair.b]), pair.flow, pair.mask)
    return tuple(warping_error(hwc01(y), hwc01(history), pair.flow, pair.mask) / base for y in (with_dis, with_gt))


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--style", action="append", help="registered style name; repeatable (default mosaic_fast)")
    p.add_argument("--shared-dir")
    args = p.parse_args()
    shared = shared_dir(args.shared_dir)
    seqs = [s for s in load_sequences(shared, 4, ["sintel alley_1", "sintel cave_2"]) if s.flow_source == "GT"]
    print(f"{'net':<14} {'sequence':<22} {'blend with DIS':>15} {'blend with GT flow':>19}")
    for style in args.style or ["mosaic_fast"]:
        net = load_net(style, shared)
        for seq in seqs:
            dis, gt = oracle_ratios(net, seq)
            print(f"{style:<14} {seq.name:<22} {dis:15.3f} {gt:19.3f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
