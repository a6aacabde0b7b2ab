"""Hand-held test clips: a crop window wandering along a random smooth path, with a tremor every frame.

None of the shared clips shakes, yet a phone in the hand or a laptop on a knee moves the whole
frame every frame, and a per-frame net re-rolls every stroke when it does (issue 18: the blend
removes only 13-30% of the flicker there). A clip is cut from a video (its own motion kept) or a
still photo: each output frame is the source seen through a window of ``crop`` times its size,
whose centre and roll follow a smooth random path plus per-frame jitter, resampled bilinearly so
that sub-pixel motion is real motion, as it is in a camera.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Iterable, Iterator

import cv2
import numpy as np

from ..errors import InputError
from ..media.images import read_image
from ..media.video import VideoReader, VideoWriter

STILL_FPS = Fraction(30)


@dataclass(frozen=True)
class Shake:
    """How a hand moves the camera; lengths in pixels of the source."""

    crop: float = 0.8            # window side / source side: the margin the path wanders in
    drift: float = 0.35          # smooth path's standard deviation, as a share of that margin
    drift_frames: float = 12.0   # smoothness: the path's Gaussian correlation length in frames
    jitter: float = 1.5          # per-frame tremor, N(0, jitter) px per axis
    roll: float = 0.8            # smooth roll's standard deviation in degrees

    def __post_init__(self):
        if not 0.2 <= self.crop < 1.0:
            raise InputError(f"crop must be in [0.2, 1), got {self.crop}")


def smooth_noise(rng: np.random.Generator, count: int, correlation: float) -> np.ndarray:
    """[count] Gaussian-filtered white noise scaled to unit standard deviation."""
    pad = int(4 * correlation) + 1
    white = rng.normal(0.0, 1.0, count + 2 * pad)
    kernel = np.exp(-0.5 * (np.arange(-pad, pad + 1) / correlation) ** 2)
    smooth = np.convolve(white, kernel / kernel.sum(), mode="same")[pad:pad + count]
    return smooth / max(float(smooth.std()), 1e-6)


def shake_path(count: int, margin: tuple[float, float], shake: Shake, seed: int) -> np.ndarray:
    """[count, 3]: window offset (dx, dy) from the source centre in px, and roll in degrees."""
    rng = np.random.default_rng(seed)
    path = np.empty((count, 3))
    for axis, room in enumerate(margin):
        wander = smooth_noise(rng, count, shake.drift_frames) * shake.drift * room
        path[:, axis] = np.clip(wander + rng.normal(0.0, shake.jitter, count), -room, room)
    path[:, 2] = smooth_noise(rng, count, shake.drift_frames) * shake.roll
    return path


def window_size(source_hw: tuple[int, int], crop: float) -> tuple[int, int]:
    """(w, h) of the output: the crop window, even (yuv420p)."""
    h, w = source_hw
    return int(w * crop) // 2 * 2, int(h * crop) // 2 * 2


def shaky_frames(sources: Iterable[np.ndarray], count: int, shake: Shake = Shake(),
                 seed: int = 0) -> Iterator[np.ndarray]:
    """``count`` BGR frames seen through the moving window; ``sources`` yields the source frames
    (the same image over and over for a still)."""
    path = None
    made = 0
    for source in sources:
        if made == count:
            return
        h, w = source.shape[:2]
        out_w, out_h = window_size((h, w), shake.crop)
        if path is None:
            path = shake_path(count, ((w - out_w) / 2, (h - out_h) / 2), shake, seed)
        dx, dy, roll = path[made]
        # Output pixel (u, v) looks at the source point centre + offset + R(roll) (u - u0, v - v0):
        # an inverse map, so warpAffine samples the source once, bilinearly.
        rotation = cv2.getRotationMatrix2D((out_w / 2, out_h / 2), roll, 1.0)
        rotation[:, 2] += ((w - out_w) / 2 + dx, (h - out_h) / 2 + dy)
        yield cv2.warpAffine(source, rotation, (out_w, out_h), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                             borderMode=cv2.BORDER_REFLECT)
        made += 1
    if made < count:
        raise InputError(f"the source ended after {made} frames; ask for at most {made}")


def write_shaky_clip(source, dst, count: int, shake: Shake = Shake(), seed: int = 0, crf: int = 16) -> Path:
    """A shaky clip from a video file or a still photo at ``source``, written to ``dst``."""
    source = Path(source)
    if not source.is_file():
        raise InputError(f"source not found: {source}")
    if count < 2:
        raise InputError(f"a clip needs at least 2 frames, got {count}")
    if source.suffix.lower() in (".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff"):
        still = read_image(source)
        frames, fps, size_hw = (still for _ in range(count)), STILL_FPS, still.shape[:2]
        reader = None
    else:
        reader = VideoReader(source)
        frames = (frame.image for frame in reader)
        fps, size_hw = reader.info.fps, (reader.info.height, reader.info.width)
    try:
        width, height = window_size(size_hw, shake.crop)
        with VideoWriter(dst, width, height, fps, crf=crf) as writer:
            for frame in shaky_frames(frames, count, shake, seed):
                writer.write(frame)
            return writer.close()
    finally:
        if reader is not None:
            reader.close()
