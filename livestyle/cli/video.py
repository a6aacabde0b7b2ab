"""``livestyle video IN OUT``: stylise a video file, keeping its audio, frame rate and length.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..argtypes import positive_int
from .common import add_overwrite, add_stylizer_options, model_note, stylizer_options


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


# x264 shares the CPU with the net: a slower preset competes with inference for the cores and
# lowers frames/s end to end, while at the same --crf a faster one only makes the file larger
# (measured: docs/performance.md).
DEFAULT_PRESET = "veryfast"
# Frames the net runs at once on a CPU (each on its share of the cores). A file's frames can wait
# for each other, unlike a camera's, so throughput counts rather than one frame's latency:
# two frames in flight give more frames/s end to end than one at a time (docs/performance.md).
# --batch N batches frames into one call instead.
FRAMES_IN_FLIGHT = 2


def add_parser(p: argparse.ArgumentParser) -> None:
    p.add_argument("input", type=Path, metavar="IN", help="video file to stylise")
    p.add_argument("output", type=Path, metavar="OUT",
                   help="result: .mp4, .mkv, .mov, .avi, .webm (VP9 + Opus sound) or .gif (no sound; long "
                        "side 480 px, or --size)")
    add_overwrite(p, "OUT")
    add_stylizer_options(p)
    g = p.add_argument_group("video")
    g.add_argument("--start", type=seconds_arg, default=0.0, metavar="TIME", help="begin at this time")
    g.add_argument("--duration", type=seconds_arg, metavar="TIME", help="stylise only this long a part")
    add_encoding_options(g)
    g.add_argument("--no-progress", action="store_true", help="no progress bar")


def add_encoding_options(g) -> None:
    """How stylised frames are encoded; ``batch`` takes the same options."""
    g.add_argument("--codec", help="video encoder (libx264, libx265, libvpx-vp9, libsvtav1, h264_nvenc...); "
                                   "unset: libx264, libvpx-vp9 for .webm, gif for .gif")
    g.add_argument("--crf", type=int, metavar="0-63",
                   help="quality for x264/x265 (0-51; unset: 18) and VP9/AV1 (0-63; unset: 31): lower "
                        "is better and bigger")
    g.add_argument("--preset", choices=("ultrafast", "superfast", "veryfast", "faster", "fast", "medium",
                                        "slow", "slower", "veryslow"), default=DEFAULT_PRESET,
                   help="x264/x265 (and VP9) speed vs file size at the same --crf quality. The encoder "
                        "shares the CPU with the net, so the default is veryfast (as in OBS); slower presets "
                        "only make the file smaller")
    g.add_argument("--batch", type=positive_int, default=1, help="frames per inference call (helps on GPUs)")


def run(args: argparse.Namespace) -> int:
    from contextlib import closing

    from ..errors import InputError
    from ..fileio import refuse_overwriting_inputs, refuse_replacing
    from ..pipeline.file import VideoJob
    from ..runtime.factory import create_stylizer

    if args.duration is not None and args.duration <= 0:
        raise InputError("--duration must be more than 0")
    # Everything about the files is checked before the (slow) model load.
    refuse_overwriting_inputs(args.output, [args.input, *(args.style_image or [])])
    refuse_replacing([args.output], args.overwrite)
    with closing(VideoJob(args.input, args.output, args.start, args.duration, args.codec)) as job:
        stylizer = create_stylizer(**stylizer_options(args, streaming=True),
                                   frames_in_flight=FRAMES_IN_FLIGHT if args.batch == 1 else 1)
        if model_note(stylizer, args.model):
            print(f"livestyle video: {model_note(stylizer, args.model)}", file=sys.stderr)
        stats = job.run(stylizer, crf=args.crf, preset=args.preset, batch=args.batch,
                        progress=not args.no_progress, gif_long_side=args.size)
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
