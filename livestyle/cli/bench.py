"""``livestyle bench``: ms/frame, FPS and peak memory per resolution and backend, against the
torch-eager baseline measured in the same run (timings drift with machine load; only same-run
ratios mean anything)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from ..argtypes import positive_int
from .common import add_shared_dir

RESOLUTIONS = {"360p": (640, 360), "720p": (1280, 720), "1080p": (1920, 1080)}


def add_parser(p: argparse.ArgumentParser) -> None:
    p.add_argument("--nets", default="mosaic",
                   help="comma list: registered style names, 'adain' (arbitrary style, with --style-image) "
                        "and 'magenta26' (the third-party lightweight CPU anchor from the shared folder)")
    p.add_argument("--style-image", type=Path, help="painting for 'adain' (default: <shared>/styles/la_muse.jpg)")
    p.add_argument("--resolutions", default="360p,720p", help=f"comma list of {', '.join(RESOLUTIONS)} or WxH")
    p.add_argument("--backends", default="torch,ort-cpu,ort-cpu-fp16",
                   help="comma list of torch, ort-cpu, ort-cpu-fp16, ort-cpu-int8, ort-cuda, ort-cuda-fp16")
    p.add_argument("--repeats", type=positive_int, default=5, help="timed frames per configuration")
    p.add_argument("--warmup", type=int, default=1, help="untimed frames before each configuration")
    p.add_argument("--json", type=Path, help="also write the table as JSON here")
    add_shared_dir(p)


def _resolution(text: str) -> tuple[int, int]:
    from ..errors import InputError

    if text in RESOLUTIONS:
        return RESOLUTIONS[text]
    try:
        w, h = (int(v) for v in text.lower().split("x"))
        return w, h
    except ValueError:
        raise InputError(f"unknown resolution '{text}'; use 360p, 720p, 1080p or WxH") from None


def run(args: argparse.Namespace) -> int:
    from ..eval.bench import bench_table, format_table

    rows = bench_table(args.nets.split(","), [_resolution(r) for r in args.resolutions.split(",")],
                       args.backends.split(","), args.repeats, args.warmup, args.shared_dir, args.style_image)
    print(format_table(rows))
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1))
    return 0
