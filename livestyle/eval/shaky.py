"""Hand-held test clips: a crop window wandering along a random smooth path, with a tremor every frame.

None of the shared clips shakes, yet a phone in the hand or a laptop on a knee moves the whole
frame every frame, and a per-frame net re-rolls every stroke when it does. A clip is cut from a video (its own motion kept) or a
still photo: each output frame is the source seen through a window of ``crop`` times its size,
whose centre and roll follow a smooth random path plus per-frame jitter, resampled bilinearly so
that sub-pixel motion is real motion, as it is in a camera.

A real hand-held camera also smears: while the shutter is open (``exposure``, a share of the
frame interval) the window keeps moving, so each frame is the average of the views along the
path from the previous frame's position, and with a rolling shutter (``readout``) each row is
seen a little later than the one above it, which bends the picture as it moves. A phone's
sensor adds fresh noise to every frame (``noise``), which a still photo as the source lacks.
All three change what the blender's flow and photometric gate see from frame to frame; all are
off by default, so a clip made without them is made again the same.
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
    exposure: float = 0.0        # shutter open for this share of the frame interval: motion blur
    readout: float = 0.0         # rolling shutter: the last row is read this share of an interval after the first
    noise: float = 0.0           # sensor noise, N(0, noise) grey levels per pixel and channel, fresh every frame

    def __post_init__(self):
        if not 0.2 <= self.crop < 1.0:
            raise InputError(f"crop must be in [0.2, 1), got {self.crop}")
        if not (0.0 <= self.exposure <= 1.0 and 0.0 <= self.readout <= 1.0 and self.exposure + self.readout <= 1.0):
            raise InputError(f"exposure and readout must be in [0, 1] with a sum of at most 1, "
                             f"got {self.exposure} and {self.readout}")
        if self.noise < 0:
            raise InputError(f"noise must be at least 0 grey levels, got {self.noise}")


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


def window_matrix(source_hw: tuple[int, int], out_wh: tuple[int, int], dx: float, dy: float,
                  roll: float) -> np.ndarray:
    """2x3 inverse map: output pixel (u, v) looks at the source point centre + offset + R(roll) (u - u0, v - v0)."""
    h, w = source_hw
    out_w, out_h = out_wh
    rotation = cv2.getRotationMatrix2D((out_w / 2, out_h / 2), roll, 1.0)
    rotation[:, 2] += ((w - out_w) / 2 + dx, (h - out_h) / 2 + dy)
    return rotation


def smeared_view(source: np.ndarray, out_wh: tuple[int, int], before: np.ndarray, now: np.ndarray,
                 shake: Shake) -> np.ndarray:
    """The window's view while it moves from path point ``before`` to ``now`` (dx, dy, roll), with
    the shutter open for the last ``exposure`` of the interval and rows read ``readout`` apart."""
    out_w, out_h = out_wh
    h, w = source.shape[:2]
    rows = np.arange(out_h, dtype=np.float64)[:, None]
    # Row v's exposure ends at 1 - readout * (1 - v / last row): the bottom row at the frame's time.
    end = 1.0 - shake.readout * (1.0 - rows / max(out_h - 1, 1))
    travel = float(np.hypot(*(now[:2] - before[:2])) + np.radians(abs(now[2] - before[2])) * max(out_wh))
    samples = int(np.clip(np.ceil(2.0 * travel * shake.exposure), 1, 24))
    u = np.arange(out_w, dtype=np.float64)[None, :]
    total = np.zeros((out_h, out_w, *source.shape[2:]), np.float32)
    for k in range(samples):
        at = end - shake.exposure * (1.0 - (k + 0.5) / samples)   # [rows, 1] share of the interval
        dx, dy, roll = (before[i] + at * (now[i] - before[i]) for i in range(3))
        a, b = np.cos(np.radians(roll)), np.sin(np.radians(roll))
        cx, cy = out_w / 2, out_h / 2
        map_x = a * u + b * rows + (1 - a) * cx - b * cy + (w - out_w) / 2 + dx
        map_y = -b * u + a * rows + b * cx + (1 - a) * cy + (h - out_h) / 2 + dy
        total += cv2.remap(source, map_x.astype(np.float32), map_y.astype(np.float32), cv2.INTER_LINEAR,
                           borderMode=cv2.BORDER_REFLECT)
    return np.clip(total / samples + 0.5, 0, 255).astype(source.dtype)


def shaky_frames(sources: Iterable[np.ndarray], count: int, shake: Shake = Shake(),
                 seed: int = 0) -> Iterator[np.ndarray]:
    """``count`` BGR frames seen through the moving window; ``sources`` yields the source frames
    (the same image over and over for a still)."""
    path = None
    made = 0
    # Its own stream, so the same seed gives the same path with or without noise.
    grain = np.random.default_rng([seed, 1])
    for source in sources:
        if made == count:
            return
        h, w = source.shape[:2]
        out_w, out_h = window_size((h, w), shake.crop)
        if path is None:
            path = shake_path(count, ((w - out_w) / 2, (h - out_h) / 2), shake, seed)
        if shake.exposure or shake.readout:
            view = smeared_view(source, (out_w, out_h), path[max(made - 1, 0)], path[made], shake)
        else:
            # An inverse map, so warpAffine samples the source once, bilinearly.
            view = cv2.warpAffine(source, window_matrix((h, w), (out_w, out_h), *path[made]), (out_w, out_h),
                                  flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP, borderMode=cv2.BORDER_REFLECT)
        if shake.noise:
            view = np.clip(view + grain.normal(0.0, shake.noise, view.shape) + 0.5, 0, 255).astype(view.dtype)
        yield view
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
