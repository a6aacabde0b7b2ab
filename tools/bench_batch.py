"""Throughput of ``livestyle batch`` against ``livestyle video`` run on the same clips one after
another, measured in one run, plus what one file costs (model load, decode, net, encode).

    python tools/bench_batch.py --clips 8 --seconds 3 --style mosaic --workers 1,2

The clips are cut from the shared folder's 640x360 clips (with their sound) into a temporary
folder, so both sides read the same files. ``video`` runs as a fresh process per clip, as a
shell loop would: process start and model load are part of what it costs per file. ``batch``
runs once over the folder, Ray start included. The per-file costs are measured in this process,
each stage alone on one clip, the model load as a fresh load.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import cv2  # noqa: F401  isort: skip - before av
from livestyle.media.video import VideoReader, VideoWriter  # isort: skip
from livestyle.eval.bench import time_calls
from livestyle.paths import shared_dir

PER_FRAME = {"decode", "net alone", "net + temporal blend", "encode"}
SOURCES = ("big_buck_bunny_cut.mp4", "slow_traffic_small.mp4")


def cut_clips(folder: Path, count: int, seconds: float) -> list[Path]:
    """``count`` clips of ``seconds`` from the shared clips, in turn, frames and sound as they are."""
    clips_dir = shared_dir() / "videos" / "clips"
    made = []
    starts = {name: 0.0 for name in SOURCES}
    for i in range(count):
        name = SOURCES[i % len(SOURCES)]
        src = clips_dir / name
        with VideoReader(src, starts[name], seconds) as reader:
            info = reader.info
            dst = folder / f"clip{i:02d}.mp4"
            with VideoWriter(dst, info.width, info.height, info.fps, time_base=info.time_base, preset="veryfast",
                             audio=reader.audio_copy()) as writer:
                for frame in reader:
                    writer.write(frame.image, frame.pts)
        starts[name] += seconds
        made.append(dst)
    return made


def frames_of(path: Path) -> int:
    with VideoReader(path) as reader:
        return sum(1 for _ in reader)


def run(cmd: list[str]) -> tuple[float, str]:
    t0 = time.perf_counter()
    done = subprocess.run(cmd, capture_output=True, text=True)
    seconds = time.perf_counter() - t0
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed:\n{done.stderr[-2000:]}")
    return seconds, done.stdout


def video_one_by_one(clips: list[Path], out: Path, style: list[str], when: str) -> tuple[str, float, None]:
    out.mkdir()
    seconds = 0.0
    for clip in clips:
        s, _ = run([sys.executable, "-m", "livestyle", "video", str(clip), str(out / clip.name), *style,
                    "--no-progress"])
        seconds += s
    shutil.rmtree(out)
    return f"livestyle video, one process per clip ({when})", seconds, None


def per_file_costs(clip: Path, style_args: dict) -> dict:
    """Seconds per file for each stage alone: model load, decode, net (stylizer with its blend),
    encode; and the start of a Python process that imports livestyle's video command."""
    from livestyle.runtime.factory import create_stylizer

    costs = {}
    # What every 'livestyle video' process pays before its first frame, in a fresh process as it
    # does: starting Python with the modules a video run imports, then building the stylizer.
    probe = ("import time; t0 = time.perf_counter(); import onnxruntime, livestyle.cli.main, livestyle.pipeline.file; "
             "from livestyle.runtime.factory import create_stylizer; t1 = time.perf_counter(); "
             f"create_stylizer(streaming=True, **{style_args!r}); print(t1 - t0, time.perf_counter() - t1)")
    t0 = time.perf_counter()
    _, load = map(float, subprocess.run([sys.executable, "-c", probe], check=True, capture_output=True,
                                              text=True).stdout.split())
    costs["process start + imports"] = time.perf_counter() - t0 - load
    costs["model load"] = load
    stylizer = create_stylizer(streaming=True, **style_args)
    t0 = time.perf_counter()
    with VideoReader(clip) as reader:
        info = reader.info
        images = [f.image for f in reader]
    costs["decode"] = time.perf_counter() - t0
    plain = create_stylizer(streaming=True, stability=0.0, **style_args)
    # One warm-up call each: onnxruntime's first run plans its memory, not a per-frame cost.
    costs["net alone"] = time_calls(plain, images, warmup=1).total_s
    outputs: list = []
    stylizer.reset()
    costs["net + temporal blend"] = time_calls(
        lambda image: outputs.append(stylizer(image)), images, warmup=1,
        after_warmup=lambda: (stylizer.reset(), outputs.clear())).total_s
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        with VideoWriter(Path(tmp) / "o.mp4", info.width, info.height, info.fps, time_base=info.time_base,
                         preset="veryfast") as writer:
            for image in outputs:
                writer.write(image)
        costs["encode"] = time.perf_counter() - t0
    costs["frames"] = len(images)
    return costs


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--clips", type=int, default=8)
    p.add_argument("--seconds", type=float, default=3.0)
    p.add_argument("--style", default="mosaic")
    p.add_argument("--workers", default="1,2", help="worker counts to run batch with, comma-separated")
    args = p.parse_args()
    style = ["--style", args.style]
    load = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="bench_batch") as tmp:
        tmp = Path(tmp)
        clips_dir = tmp / "clips"
        clips_dir.mkdir()
        clips = cut_clips(clips_dir, args.clips, args.seconds)
        frames = sum(frames_of(c) for c in clips)
        rows = []
        # video first and last, batch between: on a shared machine the load drifts, and the two
        # video rows show by how much over the batch runs.
        rows.append(video_one_by_one(clips, tmp / "seq1", style, "first"))
        for workers in [int(w) for w in args.workers.split(",") if w]:
            out = tmp / f"batch{workers}"
            s, stdout = run([sys.executable, "-m", "livestyle", "batch", str(clips_dir), "-o", str(out), *style,
                             "--workers", str(workers), "--no-progress"])
            ray_start = re.search(r"([\d.]+) s of it to start Ray", stdout)
            rows.append((f"livestyle batch --workers {workers} (local Ray)", s,
                         float(ray_start.group(1)) if ray_start else None))
            shutil.rmtree(out)
        rows.append(video_one_by_one(clips, tmp / "seq2", style, "last"))
        costs = per_file_costs(clips[0], {"style": args.style})
    print(f"{len(clips)} clips x {args.seconds:g} s, 640x360, {frames} frames, style {args.style}\n")
    print(f"{'run':48} {'wall s':>8} {'frames/s':>9} {'vs video':>9} {'Ray start s':>12}")
    base = frames / ((rows[0][1] + rows[-1][1]) / 2)  # the mean of the two video runs
    for name, s, ray_start in rows:
        start = f"{ray_start:12.1f}" if ray_start is not None else f"{'-':>12}"
        print(f"{name:48} {s:8.1f} {frames / s:9.2f} {frames / s / base:8.2f}x {start}")
    frames_in_clip = costs.pop("frames")
    print(f"\nper-file costs, one clip of {frames_in_clip} frames, each stage alone:")
    for name, s in costs.items():
        per_frame = f"{1000 * s / frames_in_clip:8.1f} ms/frame" if name in PER_FRAME else ""
        print(f"  {name:28} {s:7.2f} s {per_frame}")
    print(f"\nload average (1 min) at start {load[0]:.1f}, at end {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
