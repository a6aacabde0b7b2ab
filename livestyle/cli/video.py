"""``livestyle video IN OUT``: stylise a video file, keeping its audio, frame rate and length.

Also home of the stylizer options that ``video`` and ``cam`` share.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .common import add_device, add_shared_dir, positive_int, size_arg, unit_float


def add_stylizer_options(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("style")
    g.add_argument("--style", metavar="NAME",
                   help="registered style (see 'livestyle styles'); unset: the default style")
    g.add_argument("--style-image", action="append", metavar="IMG",
                   help="any painting as the style (AdaIN); repeat to mix several")
    g.add_argument("--style-weights", type=_weights, metavar="W1,W2,...",
                   help="mixing weights, one per --style-image")
    g.add_argument("--alpha", type=unit_float, default=1.0, help="style strength, 0 = photo, 1 = full style")
    g.add_argument("--size", type=size_arg, help="stylise at this long-side size (smaller is faster)")
    g.add_argument("--preserve-color", choices=("luminance", "histogram"),
                   help="keep the photo's colours, take only the style's texture")
    g.add_argument("--stability", type=unit_float,
                   help="temporal smoothing against flicker, 0 = off, 1 = strongest")
    add_device(g)
    add_shared_dir(g)


def _weights(text: str) -> list[float]:
    try:
        values = [float(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected numbers separated by commas, got '{text}'") from None
    if not values or any(v < 0 for v in values):
        raise argparse.ArgumentTypeError(f"weights must be non-negative numbers, got '{text}'")
    return values


def stylizer_options(args: argparse.Namespace) -> dict:
    """``create_stylizer`` keyword arguments from the options above."""
    return dict(style=args.style, style_images=args.style_image, style_weights=args.style_weights,
                alpha=args.alpha, size=args.size, device=args.device, fp16=args.fp16,
                preserve_color=args.preserve_color, shared_dir=args.shared_dir, stability=args.stability)


def seconds_arg(text: str) -> float:
    """Seconds as 90, 90.5, 1:30 or 0:01:30.5."""
    try:
        value = 0.0
        for part in text.split(":"):
            value = value * 60 + float(part)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected seconds (90.5) or [HH:]MM:SS, got '{text}'") from None
    if value < 0 or len(text.split(":")) > 3:
        raise argparse.ArgumentTypeError(f"expected a time of 0 or more, got '{text}'")
    return value


def add_parser(p: argparse.ArgumentParser) -> None:
    p.add_argument("input", type=Path, metavar="IN", help="video file to stylise")
    p.add_argument("output", type=Path, metavar="OUT", help="result (.mp4, .mkv, .mov or .avi)")
    add_stylizer_options(p)
    g = p.add_argument_group("video")
    g.add_argument("--start", type=seconds_arg, default=0.0, metavar="TIME", help="begin at this time")
    g.add_argument("--duration", type=seconds_arg, metavar="TIME", help="stylise only this long a part")
    g.add_argument("--codec", default="libx264", help="video encoder (libx264, libx265, libvpx-vp9, h264_nvenc...)")
    g.add_argument("--crf", type=int, metavar="0-51",
                   help="quality for x264/x265/VP9/AV1: lower is better and bigger; unset: 18")
    g.add_argument("--preset", choices=("ultrafast", "superfast", "veryfast", "faster", "fast", "medium",
                                        "slow", "slower", "veryslow"),
                   help="x264/x265 speed vs file size; unset: medium. Faster presets keep up with GPUs "
                        "on few CPU cores")
    g.add_argument("--batch", type=positive_int, default=1, help="frames per inference call (helps on GPUs)")
    g.add_argument("--no-progress", action="store_true", help="no progress bar")


def run(args: argparse.Namespace) -> int:
    from ..errors import InputError
    from ..pipeline import check_video_job, stylize_video
    from ..runtime.stylizer import create_stylizer

    if args.duration is not None and args.duration <= 0:
        raise InputError("--duration must be more than 0")
    # Everything about the files is checked before the (slow) model load.
    check_video_job(args.input, args.output, args.start, args.duration, args.codec)
    stylizer = create_stylizer(**stylizer_options(args))
    stats = stylize_video(args.input, args.output, stylizer, start=args.start, duration=args.duration,
                          codec=args.codec, crf=args.crf, preset=args.preset, batch=args.batch,
                          progress=not args.no_progress)
    for notice in stats.notices:
        print(f"livestyle video: note: {notice}", file=sys.stderr)
    if not stats.complete:
        if stats.output is None:
            print("livestyle video: interrupted before the first frame; nothing written", file=sys.stderr)
        else:
            print(f"livestyle video: interrupted; {stats.output} holds the first {stats.frames} of "
                  f"{stats.expected} frames (playable)", file=sys.stderr)
        return 130
    print(f"{stats.output}: {stats.frames} frames in {stats.seconds:.1f} s ({stats.fps:.1f} frames/s)")
    return 0
