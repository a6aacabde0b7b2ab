#!/usr/bin/env python
"""Where an ONNX graph spends its time in ONNX Runtime on the local CPU: kernel time per operator.

    python tools/profile_graph.py exported/mosaic_fast.onnx --size 640x360

Feeds random frames (RGB 0..255) to the graph's image input (other inputs, e.g. AdaIN's style
statistics, get random values of their declared shape) and sums ORT's own per-node profile over
``--runs`` runs after a warm-up. ``ReorderInput``/``ReorderOutput`` are ORT converting between its
blocked (NCHWc) layout and plain NCHW around operators that cannot run blocked.
"""

from __future__ import annotations

import argparse
import collections
import json
import tempfile
from pathlib import Path

import numpy as np

from livestyle.eval.bench import time_calls

WARMUP = 3   # profiled too: the shares are of every run


def feeds_for(session, width: int, height: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(0)
    feeds = {}
    for i, arg in enumerate(session.get_inputs()):
        if i == 0:
            shape = [1, 3, height, width]
        else:
            shape = [d if isinstance(d, int) else 1 for d in arg.shape]
        feeds[arg.name] = (rng.random(shape) * (255.0 if i == 0 else 1.0)).astype(np.float32)
    return feeds


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("graph", type=Path)
    p.add_argument("--size", default="640x360", help="WIDTHxHEIGHT of the frames (default: 640x360)")
    p.add_argument("--runs", type=int, default=15)
    p.add_argument("--top", type=int, default=10)
    args = p.parse_args()
    import onnxruntime as ort

    width, height = (int(v) for v in args.size.lower().split("x"))
    with tempfile.TemporaryDirectory() as tmp:
        options = ort.SessionOptions()
        options.enable_profiling = True
        options.profile_file_prefix = str(Path(tmp) / "profile")
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        session = ort.InferenceSession(str(args.graph), options, providers=["CPUExecutionProvider"])
        feeds = feeds_for(session, width, height)
        timing = time_calls(lambda: session.run(None, feeds), warmup=WARMUP, repeats=args.runs)
        events = json.loads(Path(session.end_profiling()).read_text())
    per_op: collections.Counter = collections.Counter()
    for e in events:
        if e.get("cat") == "Node" and e["name"].endswith("_kernel_time"):
            per_op[e["args"]["op_name"]] += e["dur"]
    total = sum(per_op.values())
    print(f"{args.graph.name} at {width}x{height}, {args.runs + WARMUP} runs (median {timing.median_ms:.1f} ms "
          "with profiling on): kernel time per operator type")
    for op, us in per_op.most_common(args.top):
        print(f"{op:<28} {100.0 * us / total:6.1f}%")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
