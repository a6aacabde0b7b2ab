#!/usr/bin/env python
"""How much of the remaining warping error is the flow's fault: the blender with DIS vs ground truth.

  python tools/temporal_oracle.py --style mosaic_fast --style candy_fast

On the Sintel pairs of ../shared (ground-truth flow frame 2 -> 3 and its occlusion map) the frames
are stylised *backwards* (4, 3, 2), so that the blend of the measured frame 2 needs exactly the
flow the ground truth gives: frame 2 -> frame 3, at frame 2's pixels. Frames 4 and 3 go through the
default blender; frame 2 is blended once with the blender's own DIS flow and mask and once with
the ground-truth flow and non-occlusion mask (same stability, same detail restoration). The
printed numbers are the warping error of each, relative to per-frame stylisation, as in
tools/temporal_eval.py. The two middle columns swap one half at a time (DIS flow with the
ground-truth mask, ground-truth flow with the blender's mask), which splits the gap between the
flow's precision and the pixels the blender's mask gives up on.
"""
from __future__ import annotations

import argparse

import cv2
import numpy as np

from livestyle.eval.sequences import load_sequences
from livestyle.eval.split_net import load_split_net
from livestyle.eval.temporal_metrics import warping_error
from livestyle.paths import shared_dir
from livestyle.runtime.flow import resize_flow
from livestyle.runtime.temporal import TemporalBlender, blend, restore_detail, warp_history


def hwc01(chw255: np.ndarray) -> np.ndarray:
    return np.clip(chw255, 0, 255).transpose(1, 2, 0) / 255.0


COLUMNS = ("DIS", "DIS flow+GT mask", "GT flow+DIS mask", "GT")


def oracle_ratios(net, seq) -> dict[str, float]:
    """Warping error of the measured pair, relative to per-frame, for each flow/mask combination."""
    pair = seq.pairs[0]                       # frame index a=1 compared with b=2 warped along GT a -> b
    images = [np.ascontiguousarray(f.transpose(2, 0, 1) * 255.0) for f in seq.frames]
    per = [net.decode(net.encode(x), x.shape[1:]) for x in images]
    blender = TemporalBlender()
    for i in range(len(images) - 1, pair.b - 1, -1):    # backwards up to frame b: its output is the history
        history = blender(per[i], images[i])
    current = per[pair.a]
    motion = blender.motion(images[pair.a])
    hw = current.shape[1:]
    flows = {"DIS": resize_flow(motion.flow, hw), "GT": pair.flow}
    masks = {"DIS": cv2.resize(motion.mask, (hw[1], hw[0]), interpolation=cv2.INTER_LINEAR),
             "GT": pair.mask.astype(np.float32)}

    def blended(flow_from: str, mask_from: str) -> np.ndarray:
        out = blend(current, warp_history(history, flows[flow_from], 0.0), blender.stability * masks[mask_from])
        return restore_detail(out, current) if blender.keep_detail else out

    outputs = {"DIS": blender.apply(current, motion), "DIS flow+GT mask": blended("DIS", "GT"),
               "GT flow+DIS mask": blended("GT", "DIS"), "GT": blended("GT", "GT")}
    base = warping_error(hwc01(current), hwc01(per[pair.b]), pair.flow, pair.mask)
    return {k: warping_error(hwc01(outputs[k]), hwc01(history), pair.flow, pair.mask) / base for k in COLUMNS}


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--style", action="append", help="registered style name; repeatable (default mosaic_fast)")
    p.add_argument("--shared-dir")
    args = p.parse_args()
    shared = shared_dir(args.shared_dir)
    seqs = [s for s in load_sequences(shared, 4, ["sintel alley_1", "sintel cave_2"]) if s.flow_source == "GT"]
    print(f"{'net':<14} {'sequence':<22} " + " ".join(f"{c:>17}" for c in COLUMNS))
    for style in args.style or ["mosaic_fast"]:
        net = load_split_net(style, shared)
        for seq in seqs:
            ratios = oracle_ratios(net, seq)
            print(f"{style:<14} {seq.name:<22} " + " ".join(f"{ratios[c]:17.3f}" for c in COLUMNS))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
