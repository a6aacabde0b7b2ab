"""Test sequences for temporal stability: shared clips, Sintel with ground-truth flow, marple8
with DeepFlow flows, each as frames [H, W, 3] RGB 0..1 plus the frame pairs to measure.

The data ``tools/temporal_eval.py`` and ``tools/temporal_oracle.py`` both measure on, so their
numbers (docs/temporal.md) come from the same frames.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from ..runtime.flow import resize_flow
from .temporal_metrics import read_flo

BOX = (640, 360)          # frames are shrunk to fit this (w, h) box
CLIPS = [("fox", 0), ("fox", 110), ("slow_traffic_small", 0), ("office_meeting_720p", 0),
         ("big_buck_bunny_cut", 0)]
SINTEL = ["alley_1", "cave_2"]
SINTEL_SIZE = (640, 272)


@dataclass
class Pair:
    """Output of frame ``a`` is compared with output of frame ``b`` warped along ``flow`` (at a)."""
    a: int
    b: int
    flow: np.ndarray
    mask: np.ndarray


@dataclass
class Sequence:
    name: str
    frames: list[np.ndarray]                      # [H, W, 3] RGB 0..1
    flow_source: str = "DIS"
    pairs: list[Pair] = field(default_factory=list)  # empty: DIS on every consecutive pair


def fit(image_bgr: np.ndarray, box=BOX) -> np.ndarray:
    h, w = image_bgr.shape[:2]
    f = min(1.0, box[0] / w, box[1] / h)
    if f < 1.0:
        image_bgr = cv2.resize(image_bgr, (round(w * f), round(h * f)), interpolation=cv2.INTER_AREA)
    h, w = image_bgr.shape[:2]
    return image_bgr[: h - h % 4, : w - w % 4]


def rgb01(bgr: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(bgr[:, :, ::-1]).astype(np.float32) / 255.0


def load_clip(path: Path, count: int, start: int = 0) -> Sequence:
    cap = cv2.VideoCapture(str(path))
    for _ in range(start):
        cap.grab()
    frames = []
    while len(frames) < count:
        ok, bgr = cap.read()
        if not ok:
            break
        frames.append(rgb01(fit(bgr)))
    cap.release()
    return Sequence(f"{path.stem}@{start}" if start else path.stem, frames)


def load_sintel(shared: Path, seq: str, pass_: str) -> Sequence:
    """Frames 1-4; the warping error uses the ground-truth flow 2->3 and its occlusion map."""
    root = shared / "videos" / "sintel_gt" / seq
    w, h = SINTEL_SIZE
    frames = [rgb01(cv2.resize(cv2.imread(str(root / pass_ / f"frame_{i:04d}.png")), (w, h),
                               interpolation=cv2.INTER_AREA)) for i in range(1, 5)]
    flow = resize_flow(read_flo(root / "flow" / "frame_0002.flo"), (h, w))
    bad = (cv2.imread(str(root / "occlusions" / "frame_0002.png"), 0) > 127) | \
          (cv2.imread(str(root / "invalid" / "frame_0002.png"), 0) > 127)
    bad = cv2.resize(bad.astype(np.uint8), (w, h), interpolation=cv2.INTER_NEAREST) > 0
    return Sequence(f"sintel {seq} {pass_}", frames, "GT", [Pair(1, 2, flow, ~bad)])


def load_marple(shared: Path) -> Sequence:
    """450x350 film frames (cropped to 448x348) with Ruder et al.'s DeepFlow flows and masks."""
    root = shared / "videos" / "marple8"
    frames = [rgb01(cv2.imread(str(root / f"frame_{i:02d}.png"))[:348, :448]) for i in range(1, 6)]
    pairs = []
    for j in range(2, 6):
        flow = read_flo(root / "deepflow" / f"backward_{j}_{j - 1}.flo")[:348, :448]
        mask = cv2.imread(str(root / "deepflow" / f"reliable_{j}_{j - 1}.png"), 0)[:348, :448] > 127
        pairs.append(Pair(j - 1, j - 2, flow, mask))
    return Sequence("marple8", frames, "DeepFlow", pairs)


def load_raft_demo(shared: Path) -> Sequence:
    root = shared / "videos" / "sintel_raft_demo"
    frames = [rgb01(cv2.resize(cv2.imread(str(p)), SINTEL_SIZE, interpolation=cv2.INTER_AREA))
              for p in sorted(root.glob("frame_*.png"))]
    return Sequence("sintel raft demo", frames)


def load_sequences(shared: Path, count: int, only: list[str] | None) -> list[Sequence]:
    seqs = [load_clip(shared / "videos" / "clips" / f"{c}.mp4", count, start) for c, start in CLIPS]
    seqs += [load_sintel(shared, s, p) for s in SINTEL for p in ("final", "clean")]
    seqs += [load_marple(shared), load_raft_demo(shared)]
    return [s for s in seqs if not only or any(o in s.name for o in only)]
