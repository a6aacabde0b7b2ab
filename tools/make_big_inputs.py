#!/usr/bin/env python
"""Large test inputs for the working-size measurements (docs/sizes.md): a 6000x4000 photo and a
4K clip with sound, made from the shared photos and clips. Nothing goes into the repository.

  python tools/make_big_inputs.py --photo /tmp/big/photo.jpg
  python tools/make_big_inputs.py --clip /tmp/big/clip4k.mp4 --clip-size 3840x2160 --frames 50 --fps 25

The sources are small, so an enlarged picture is soft at 1:1. Crisp marks are drawn on top at the
full size (lines 1-3 px wide, text, fine diagonal stripes) so that sharpness at 1:1 can be judged.
"""
from __future__ import annotations

import cv2  # noqa: F401  (before av: the two ship different ffmpeg builds)

import argparse
from fractions import Fraction
from pathlib import Path

import numpy as np

from livestyle.media.images import read_image, write_image
from livestyle.media.video import VideoReader, VideoWriter
from livestyle.paths import shared_dir


def size_arg(text: str) -> tuple[int, int]:
    w, h = (int(v) for v in text.lower().split("x"))
    return w, h


def cover(image: np.ndarray, width: int, height: int) -> np.ndarray:
    """``image`` scaled (bicubic) to cover width x height, centre-cropped to it."""
    h, w = image.shape[:2]
    f = max(width / w, height / h)
    big = cv2.resize(image, (max(width, round(w * f)), max(height, round(h * f))), interpolation=cv2.INTER_CUBIC)
    y, x = (big.shape[0] - height) // 2, (big.shape[1] - width) // 2
    return np.ascontiguousarray(big[y:y + height, x:x + width])


def crisp_marks(image: np.ndarray, label: str) -> np.ndarray:
    """Full-resolution detail drawn in place: a panel of thin lines, text and fine stripes."""
    h, w = image.shape[:2]
    unit = max(8, min(h, w) // 40)
    x0, y0 = w // 20, h // 20
    panel = image[y0:y0 + 8 * unit, x0:x0 + 16 * unit]
    panel[:] = (panel.astype(np.uint16) // 2 + 110).astype(np.uint8)
    for i, width in enumerate((1, 1, 2, 2, 3, 3)):
        x = x0 + unit + i * unit
        cv2.line(image, (x, y0 + unit // 2), (x + 2 * unit, y0 + 4 * unit), (20, 20, 20), width, cv2.LINE_AA)
    cb = (np.indices((2 * unit, 4 * unit)).sum(0) // max(2, unit // 8)) % 2
    image[y0 + 5 * unit:y0 + 7 * unit, x0 + unit:x0 + 5 * unit] = np.where(cb[..., None], 240, 30).astype(np.uint8)
    cv2.putText(image, label, (x0 + 8 * unit, y0 + 3 * unit), cv2.FONT_HERSHEY_SIMPLEX, unit / 22,
                (250, 250, 250), max(1, unit // 10), cv2.LINE_AA)
    cv2.putText(image, "livestyle", (x0 + 8 * unit, y0 + 6 * unit), cv2.FONT_HERSHEY_SIMPLEX, unit / 30,
                (10, 10, 200), max(1, unit // 14), cv2.LINE_AA)
    return image


def make_photo(out: Path, size: tuple[int, int], source: Path) -> None:
    w, h = size
    image = crisp_marks(cover(read_image(source), w, h), f"{w}x{h}")
    write_image(out, image)
    print(f"{out}: {w}x{h}")


def make_clip(out: Path, size: tuple[int, int], frames: int, fps: Fraction, source: Path) -> None:
    w, h = size
    with VideoReader(source) as probe:
        source_fps = probe.info.fps
    # As many source frames (and as much of its sound) as the clip shows, at the source's rate.
    with VideoReader(source, 0.0, frames / source_fps) as reader:
        if reader.info.audio is None:
            raise SystemExit(f"{source} has no sound; give a clip with sound")
        with VideoWriter(out, w, h, fps, audio=reader.audio_copy()) as writer:
            for i, frame in enumerate(reader):
                if i == frames:
                    break
                writer.write(crisp_marks(cover(frame.image, w, h), f"frame {i}"))
        print(f"{out}: {w}x{h}, {writer.frames} frames at {fps} fps, sound from {source.name}")


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--photo", type=Path, help="write a large photo here (.jpg or .png)")
    p.add_argument("--photo-size", type=size_arg, default=(6000, 4000), metavar="WxH")
    p.add_argument("--photo-source", help="default: <shared>/content/eval/stata.jpg")
    p.add_argument("--clip", type=Path, help="write a large clip with sound here (.mp4)")
    p.add_argument("--clip-size", type=size_arg, default=(3840, 2160), metavar="WxH")
    p.add_argument("--clip-source", help="default: <shared>/videos/clips/big_buck_bunny_cut.mp4 (has sound)")
    p.add_argument("--frames", type=int, default=50)
    p.add_argument("--fps", type=Fraction, default=Fraction(25))
    p.add_argument("--shared-dir")
    args = p.parse_args()
    if not (args.photo or args.clip):
        p.error("give --photo and/or --clip")
    shared = None
    if not (args.photo_source and args.clip_source):
        shared = shared_dir(args.shared_dir, must_exist=True)
    if args.photo:
        args.photo.parent.mkdir(parents=True, exist_ok=True)
        make_photo(args.photo, args.photo_size, Path(args.photo_source or shared / "content/eval/stata.jpg"))
    if args.clip:
        args.clip.parent.mkdir(parents=True, exist_ok=True)
        make_clip(args.clip, args.clip_size, args.frames, args.fps,
                  Path(args.clip_source or shared / "videos/clips/big_buck_bunny_cut.mp4"))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
