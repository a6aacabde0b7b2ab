#!/usr/bin/env python
"""Graph speed of Johnson-net designs with random weights, against the light student, in one run.

    python tools/bench_designs.py --design 16,24,48,128:4 --design 16,32,64,96:4:instance-deep --size 640x360

A design is WIDTHS:BLOCKS[:NORM] (one width per resolution: full, then after each stride-2 conv;
NORM one of models.johnson.NORM_PLACES, default the light student's); the rest is the light student's (separable 3x3 convs, instance norms in the encoder only, one 32 px
border). Each graph is exported to ONNX and timed in ONNX Runtime on the CPU as the runtime runs
it (no spinning threads); rounds take turns between the designs so a noisy machine slows them
alike. Prints the median milliseconds per frame and the speed relative to SLIM_CONFIG.
"""

from __future__ import annotations

import argparse
import dataclasses
import tempfile
from pathlib import Path

import numpy as np


def parse_design(text: str):
    from livestyle.models.johnson import SLIM_CONFIG, NORM_PLACES

    widths, _, rest = text.partition(":")
    blocks, _, norm = rest.partition(":")
    norm = norm or SLIM_CONFIG.norm
    if norm not in NORM_PLACES:
        raise argparse.ArgumentTypeError(f"NORM must be one of {', '.join(NORM_PLACES)}, got {norm!r}")
    try:
        return dataclasses.replace(SLIM_CONFIG, widths=tuple(int(w) for w in widths.split(",")),
                                   num_residual=int(blocks or SLIM_CONFIG.num_residual), norm=norm)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"a design is WIDTHS:BLOCKS[:NORM] like 16,24,48,128:4, got {text!r}") from exc


def session_for(config, folder: Path, name: str, threads: int):
    import onnxruntime as ort
    import torch

    from livestyle.export.onnx import export_graph, image_spec
    from livestyle.models.johnson import TransformerNet

    torch.manual_seed(0)
    path = folder / f"{name}.onnx"
    export_graph(image_spec(TransformerNet(config).eval()), path)
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def main() -> int:
    from livestyle.eval.bench import time_calls
    from livestyle.models.johnson import SLIM_CONFIG, TransformerNet

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--design", type=parse_design, action="append", required=True, help="WIDTHS:BLOCKS[:NORM], repeatable")
    p.add_argument("--size", default="640x360", help="WIDTHxHEIGHT of the frames (default: 640x360)")
    p.add_argument("--rounds", type=int, default=5, help="default: 5")
    p.add_argument("--runs", type=int, default=8, help="timed runs per design and round (default: 8)")
    p.add_argument("--threads", type=int, default=2, help="ONNX Runtime threads (default: 2)")
    args = p.parse_args()
    width, height = (int(v) for v in args.size.lower().split("x"))
    designs = {"light (SLIM_CONFIG)": SLIM_CONFIG}
    designs.update({f"{','.join(map(str, c.widths))}:{c.num_residual}:{c.norm}": c for c in args.design})
    frame = (np.random.default_rng(0).random((1, 3, height, width)) * 255).astype(np.float32)
    times: dict[str, list[float]] = {name: [] for name in designs}
    with tempfile.TemporaryDirectory() as tmp:
        sessions = {name: session_for(c, Path(tmp), f"d{i}", args.threads) for i, (name, c) in enumerate(designs.items())}
        for _ in range(args.rounds):
            for name, session in sessions.items():
                timing = time_calls(lambda: session.run(None, {"image": frame}), warmup=1, repeats=args.runs)
                times[name].append(timing.mean_ms)
    base = float(np.median(times["light (SLIM_CONFIG)"]))
    print(f"{'design (widths:blocks:norm)':40s} {'params':>8s} {'stride':>6s} {'ms/frame':>9s} {'vs light':>9s}")
    for name, config in designs.items():
        ms = float(np.median(times[name]))
        params = sum(t.numel() for t in TransformerNet(config).parameters())
        print(f"{name:40s} {params:8d} {config.stride:6d} {ms:9.1f} {base / ms:8.2f}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
