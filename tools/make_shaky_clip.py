#!/usr/bin/env python
"""A shaky test clip (hand-held camera) for the temporal measurements; see livestyle/eval/shaky.py.

  python tools/make_shaky_clip.py --source office_meeting_720p --frames 90 --seed 0
  python tools/make_shaky_clip.py --source ../shared/content/eval/tubingen.jpg --frames 90 --seed 1
  python tools/make_shaky_clip.py --source fox --frames 75 --seed 8 --jitter 4 --roll 1.5 --exposure 0.5 --readout 0.3 --noise 2

``--source`` is a shared clip's name, a video file or a still photo. The clip goes to ``-o`` or,
by default, to <livestyle cache>/shaky/<source>_shaky<seed>.mp4: outside the repository, never into
it. Score it with ``python tools/temporal_eval.py --encoded --clip <that file>``.
"""
from __future__ import annotations

import cv2  # noqa: F401  (before av: the two ship different ffmpeg builds)

import argparse
from pathlib import Path

from livestyle.eval.shaky import Shake, write_shaky_clip
from livestyle.paths import cache_dir, shared_dir


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--source", default="office_meeting_720p", help="shared clip name, video file or photo")
    p.add_argument("-o", "--output", type=Path, help="the clip (default: in the livestyle cache, see above)")
    p.add_argument("--frames", type=int, default=90, help="frames to write")
    p.add_argument("--seed", type=int, default=0, help="seed of the path (same seed, same clip)")
    p.add_argument("--crop", type=float, default=Shake.crop, help="window side / source side")
    p.add_argument("--jitter", type=float, default=Shake.jitter, help="per-frame tremor, px (standard deviation)")
    p.add_argument("--drift", type=float, default=Shake.drift, help="smooth wander, share of the margin (std)")
    p.add_argument("--roll", type=float, default=Shake.roll, help="smooth roll, degrees (std)")
    p.add_argument("--exposure", type=float, default=Shake.exposure,
                   help="shutter open for this share of the frame interval: motion blur along the shake (0: none)")
    p.add_argument("--readout", type=float, default=Shake.readout,
                   help="rolling shutter: last row read this share of a frame interval after the first (0: none)")
    p.add_argument("--noise", type=float, default=Shake.noise,
                   help="sensor noise, grey levels (standard deviation), fresh every frame (0: none)")
    p.add_argument("--shared-dir")
    args = p.parse_args()
    source = Path(args.source)
    if not source.suffix:
        source = shared_dir(args.shared_dir, must_exist=True) / "videos" / "clips" / f"{args.source}.mp4"
    out = args.output or cache_dir() / "shaky" / f"{source.stem}_shaky{args.seed}.mp4"
    out.parent.mkdir(parents=True, exist_ok=True)
    shake = Shake(crop=args.crop, jitter=args.jitter, drift=args.drift, roll=args.roll, exposure=args.exposure,
                  readout=args.readout, noise=args.noise)
    print(write_shaky_clip(source, out, args.frames, shake, args.seed))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
