#!/usr/bin/env python
"""Real-time speed against Magenta's CPU anchors, in one run (docs/performance.md).

A fixed style (``--style``) is measured against Magenta's 26-style net on the same 640x360 frames,
a painting (``--style-image``) against Magenta's arbitrary-style transform at its fixed 384x384
(style code precomputed); both anchors are the model alone, from ``<shared>/weights/extras``.
Rows, interleaved over ``--rounds`` so that load on a shared machine hits every row alike:
* the anchor, model only;
* ``net only``: the stylizer ``video`` builds (``--model auto``), blending off;
* ``livestyle video``: the command end to end on a 640x360 clip (decode, net, temporal blending at
  its default, encode), as the CLI builds it (frames side by side on the cores), and the same with
  ``--stability 0`` (what blending costs); ``--unpipelined`` adds it with one frame at a time and
  with one stylizer call per frame (what the frame lanes and the pipelining buy);
* ``--command-frames N``: the ``livestyle video`` command itself in a new process on an N-frame
  640x360 clip, wall clock with the process start (how the speed goal is stated: N = 600).

    python tools/bench_realtime.py --style mosaic --frames 60 --rounds 3 --command-frames 600
    python tools/bench_realtime.py --style-image brushstrokes.jpg --frames 60 --rounds 3
"""

from __future__ import annotations

import cv2  # noqa: F401  (before av: the two ship different ffmpeg builds)

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from livestyle.argtypes import positive_int
from livestyle.cli.video import DEFAULT_PRESET, FRAMES_IN_FLIGHT
from livestyle.eval.bench import time_calls
from livestyle.eval.magenta import Magenta26, MagentaArbitrary
from livestyle.media.images import read_image
from livestyle.media.video import VideoReader, VideoWriter
from livestyle.paths import shared_dir
from livestyle.pipeline.file import stylize_video
from livestyle.runtime.factory import create_stylizer

CLIP = "videos/clips/big_buck_bunny_cut.mp4"   # 640x360
WARMUP = 3


def frames_per_second(run, inputs: list) -> float:
    return time_calls(run, inputs, warmup=WARMUP).fps


class OneCallPerFrame:
    """A stylizer without its pipelined stream: ``stylize_video`` then calls it frame by frame."""

    def __init__(self, stylizer):
        self._stylizer = stylizer

    def __call__(self, frame):
        return self._stylizer(frame)

    def reset(self) -> None:
        self._stylizer.reset()


def make_clip(source: Path, out: Path, frames: int) -> Path:
    """``frames`` frames of ``source`` played forwards and backwards (no cut for the flow to meet)."""
    with VideoReader(source) as reader:
        fps, images = reader.info.fps, [f.image for f in reader]
    period = max(2 * len(images) - 2, 1)
    with VideoWriter(out, images[0].shape[1], images[0].shape[0], fps, preset=DEFAULT_PRESET) as writer:
        for i in range(frames):
            k = i % period
            writer.write(images[k if k < len(images) else period - k])
    return out


def command_fps(clip: Path, out: Path, what: dict, args) -> float:
    """Frames/s of ``livestyle video`` at its defaults, wall clock from process start to exit."""
    style = ["--style", what["style"]] if "style" in what else ["--style-image", str(what["style_images"][0])]
    cmd = [sys.executable, "-m", "livestyle", "video", str(clip), str(out), *style, "--model", args.model]
    if args.shared_dir:
        cmd += ["--shared-dir", args.shared_dir]
    start = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    seconds = time.perf_counter() - start
    out.unlink()
    return args.command_frames / seconds


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    which = p.add_mutually_exclusive_group()
    which.add_argument("--style", help="a fixed style (anchor: Magenta 26-style net at 640x360)")
    which.add_argument("--style-image", help="a painting in <shared>/styles, or a path (anchor: Magenta "
                                             "arbitrary at 384x384; the default, with brushstrokes.jpg)")
    p.add_argument("--frames", type=positive_int, default=60, help="frames per measurement")
    p.add_argument("--rounds", type=positive_int, default=3)
    p.add_argument("--unpipelined", action="store_true",
                   help="add rows: video end to end with one frame in the net at a time, and with one "
                        "stylizer call per frame (no overlap of the blend with the next frame's net), "
                        "to measure what the frame lanes and the pipelining buy")
    p.add_argument("--command-frames", type=int, default=0, metavar="N",
                   help="add a row: the `livestyle video` command itself, as a user runs it (a new "
                        "process, start-up included, wall clock) on an N-frame 640x360 clip made "
                        "from the test clip (0: no such row; the speed goal takes 600)")
    p.add_argument("--model", choices=("auto", "full", "fast"), default="auto", help="as livestyle video --model")
    p.add_argument("--shared-dir")
    args = p.parse_args()
    shared = shared_dir(args.shared_dir, must_exist=True)
    clip = shared / CLIP
    with VideoReader(clip) as reader:
        fps = reader.info.fps
        frames = [f.image for _, f in zip(range(args.frames), reader)]
    duration = len(frames) / float(fps)

    if args.style:
        what = dict(style=args.style)
        anchor, anchor_row = Magenta26(shared), "magenta 26-style (640x360, model only)"
    else:
        style = Path(args.style_image or "brushstrokes.jpg")
        style = style if style.is_file() else shared / "styles" / style
        what = dict(style_images=[style])
        anchor = MagentaArbitrary(shared, read_image(style, what="style image"))
        anchor_row = "magenta arbitrary (384x384, model only)"
    options = dict(model=args.model, device="cpu", streaming=True, shared_dir=args.shared_dir, **what)
    net_only = create_stylizer(stability=0.0, **options)   # one frame at a time, all cores
    as_video = dict(options, frames_in_flight=FRAMES_IN_FLIGHT)   # as `livestyle video` builds it
    videos = {"livestyle video end to end (640x360)": create_stylizer(**as_video),
              "  the same with --stability 0": create_stylizer(stability=0.0, **as_video)}
    if args.unpipelined:
        one_lane = create_stylizer(**options)
        videos["  the same, one frame at a time"] = one_lane
        videos["  the same, one call per frame"] = OneCallPerFrame(one_lane)
    prepared = [anchor.prepared_input(f) for f in frames]
    rows: dict[str, list[float]] = {anchor_row: [], "net only (640x360)": [], **{name: [] for name in videos}}
    command_row = f"livestyle video, the command ({args.command_frames} frames)"
    if args.command_frames:
        rows[command_row] = []
    with tempfile.TemporaryDirectory() as tmp:
        if args.command_frames:
            long_clip = make_clip(clip, Path(tmp) / "clip.mp4", args.command_frames)
        for r in range(args.rounds):
            if args.command_frames:
                rows[command_row].append(command_fps(long_clip, Path(tmp) / f"cmd{r}.mp4", what, args))
            rows[anchor_row].append(frames_per_second(anchor.transform_only, prepared))
            net_only.reset()
            rows["net only (640x360)"].append(frames_per_second(net_only, frames))
            for name, stylizer in videos.items():
                stylizer.reset()
                stats = stylize_video(clip, Path(tmp) / f"out{r}.mp4", stylizer, duration=duration,
                                      preset=DEFAULT_PRESET, progress=False)
                rows[name].append(stats.fps)
    base = statistics.median(rows[anchor_row])
    net = getattr(net_only, "model_name", None) or getattr(net_only, "arbitrary_net", None) or net_only.name
    print(f"{args.style or Path(args.style_image or 'brushstrokes.jpg').name} (net: {net}), {len(frames)} frames, "
          f"{args.rounds} rounds (median f/s; rounds in brackets)")
    print(f"{'row':<42} {'f/s':>7} {'vs anchor':>10}   rounds")
    for name, values in rows.items():
        median = statistics.median(values)
        print(f"{name:<42} {median:>7.2f} {median / base:>9.2f}x   " + " ".join(f"{v:.2f}" for v in values))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
