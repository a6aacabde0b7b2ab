"""End-to-end frames/s of ``livestyle video`` beside stylizer-only frames/s, and ``cam``'s latency.

Measured at 640x360 and 1280x720; the latency is ``livestyle cam``'s capture to display, in frame
times of the same stylizer.

The gap between the two columns is what decoding, colour conversion, encoding and the threads
cost (or, when they overlap inference well, don't). Both run in the same process on the same
frames, with the stylizer ``video`` builds (temporal blending on at its default), so the table
compares like with like. The latency row plays the clip as a camera through ``cam``'s pipeline.

    python tools/bench_video.py --style NAME --device cuda --fp16 --frames 96
    python tools/bench_video.py --stand-in          # I/O ceiling: a stylizer that only inverts
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from livestyle.argtypes import positive_int  # noqa: E402
from livestyle.cli.video import DEFAULT_PRESET, add_stylizer_options, stylizer_options  # noqa: E402
from livestyle.eval.bench import time_calls, torch_sync  # noqa: E402
from livestyle.media.video import VideoReader  # noqa: E402
from livestyle.paths import shared_dir  # noqa: E402
from livestyle.media.sources import CameraSource  # noqa: E402
from livestyle.pipeline.file import stylize_video  # noqa: E402
from livestyle.pipeline.live import LivePipeline  # noqa: E402
from livestyle.pipeline.styles import StyleBank  # noqa: E402

CLIPS = {"640x360": "videos/clips/big_buck_bunny_cut.mp4", "1280x720": "videos/clips/office_meeting_720p.mp4"}
WARMUP = 3


class StandIn:
    """No model: inverts colours, so the end-to-end column shows the pipeline's own ceiling."""

    name = "stand-in"

    def __call__(self, frame):
        return 255 - frame

    def stylize_batch(self, frames):
        return [255 - f for f in frames]

    def reset(self):
        pass


def stylizer_only_fps(stylizer, frames: list, batch: int) -> float:
    """Frames/s of the stylizer alone over ``frames`` in order, after WARMUP frames or more: the
    first calls pay for allocation, autotuning, lazy loading."""
    if batch > 1:
        chunks = [frames[i:i + batch] for i in range(0, len(frames), batch)]
        timing = time_calls(stylizer.stylize_batch, chunks, warmup=-(-WARMUP // batch), sync=torch_sync(),
                            sync_each=False)
    else:
        timing = time_calls(stylizer, frames, warmup=WARMUP, sync=torch_sync(), sync_each=False)
    return len(frames) / timing.total_s


class NullSink:
    """Shows nothing, so the latency is the pipeline's own (capture, inference, hand-over)."""

    def open(self, width, height, fps, controls):
        pass

    def send(self, image, meta):
        pass

    def close(self):
        pass


def live_latency(clip: Path, stylizer, frames: int) -> dict:
    """``cam`` with the clip as its camera: mean capture-to-display latency over the last frames."""
    stylizer.reset()
    with CameraSource(clip) as source:
        stats = LivePipeline(source, StyleBank(stylizer), [NullSink()], max_frames=frames).run()
    return dict(latency_ms=stats.latency_ms, fps=stats.fps, dropped=stats.dropped)


def bench(label: str, clip: Path, stylizer, frames: int, batch: int, preset: str | None, out_dir: Path) -> dict:
    with VideoReader(clip) as reader:
        fps = reader.info.fps
        images = [f.image for _, f in zip(range(frames), reader)]
    stylizer.reset()
    only = stylizer_only_fps(stylizer, images, batch)
    stylizer.reset()
    stats = stylize_video(clip, out_dir / f"{label}.mp4", stylizer, duration=len(images) / fps,
                          batch=batch, preset=preset, progress=False)
    live = live_latency(clip, stylizer, min(frames, 30))
    return dict(size=label, frames=stats.frames, stylizer=only, end_to_end=stats.fps, **live)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_stylizer_options(p)
    p.add_argument("--frames", type=positive_int, default=48, help="frames per measurement")
    p.add_argument("--batch", type=positive_int, default=1)
    p.add_argument("--preset", default=DEFAULT_PRESET, help="x264 preset for the encoder (default: as `video`)")
    p.add_argument("--stand-in", action="store_true", help="no model, measure the pipeline alone")
    p.add_argument("--sizes", nargs="+", choices=sorted(CLIPS), default=sorted(CLIPS, key=len))
    args = p.parse_args()

    if args.stand_in:
        stylizer = StandIn()
    else:
        from livestyle.runtime.factory import create_stylizer

        stylizer = create_stylizer(**stylizer_options(args, streaming=True))
    shared = shared_dir(args.shared_dir)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for label in args.sizes:
            clip = shared / CLIPS[label]
            if not clip.exists():
                print(f"skipping {label}: {clip} not found", file=sys.stderr)
                continue
            rows.append(bench(label, clip, stylizer, args.frames, args.batch, args.preset, Path(tmp)))

    print(f"stylizer: {stylizer.name}  batch {args.batch}  device {args.device}{'  fp16' if args.fp16 else ''}"
          f"  x264 preset {args.preset}")
    print(f"{'size':>10} {'frames':>7} {'stylizer-only f/s':>18} {'end-to-end f/s':>15} {'e2e/only':>9}"
          f" {'cam latency ms':>15} {'in frame times':>15}")
    for r in rows:
        ratio = r["end_to_end"] / r["stylizer"] if r["stylizer"] else 0.0
        frame_ms = 1000.0 / r["stylizer"] if r["stylizer"] else float("nan")
        print(f"{r['size']:>10} {r['frames']:>7} {r['stylizer']:>18.1f} {r['end_to_end']:>15.1f} {ratio:>9.0%}"
              f" {r['latency_ms']:>15.0f} {r['latency_ms'] / frame_ms:>15.2f}")
    return 0 if rows else 1


if __name__ == "__main__":
    sys.exit(main())
