"""Measures of temporal stability for stylised video (see docs/temporal.md and tools/temporal_eval.py).

The flow toolkit is the runtime's own (``runtime/flow.py``): the metric warps the way the blender does.
Flows come from a *ruler*: DIS at full resolution (the blender's algorithm, finer) or Farneback
(an algorithm the blender does not use), see ``RULERS``.

Conventions: images are float32 [H, W, 3] RGB in 0..1; a flow ``a_to_b`` is [H, W, 2] (dx, dy) at
frame a's pixels; masks are bool [H, W] with True = the pixel is counted.

* Warping error (Lai et al. 2018, "Learning Blind Video Temporal Consistency"): the output of
  frame t-1, warped along the *input's* flow onto frame t, should equal the output of frame t on
  pixels visible in both frames. E_warp = sum_x M(x) ||O_t(x) - warp(O_{t-1})(x)||^2 / sum_x M(x),
  averaged over the frame pairs (squared L2 over the three channels, as in the paper).
* Ghost ratio: on pixels of frame t that were NOT visible in frame t-1 and whose input really
  changed there (revealed background, set O), any history the method carried over is a trail.
  There the per-frame output P_t is the right answer and the per-frame output of the previous frame,
  P_{t-1}, at the same place is what a trail would show, so
  ghost = mean_O |Y_t - P_t| / mean_O |P_t - P_{t-1}|  is the fraction of the change held back.
  The per-frame method scores 0 by definition; a frozen output scores about 1. Requiring an input
  change keeps flat areas where the flow check merely failed (and where smoothing the per-frame
  flicker is the point) from counting as trails.
* Flicker: mean |Y_t - Y_{t-1}| in grey levels, for a still camera where any change is flicker.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from ..errors import InputError
from ..runtime.flow import consistency_mask, dis_flow, motion_boundary_mask, warp

FLO_MAGIC = b"PIEH"


def read_flo(path: str | Path) -> np.ndarray:
    """Middlebury .flo (magic 'PIEH', int32 w, int32 h, float32 [h, w, 2]) -> [h, w, 2] float32."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise InputError(f"cannot read flow file {path}: {exc.strerror}") from exc
    if raw[:4] != FLO_MAGIC or len(raw) < 12:
        raise InputError(f"{path} is not a Middlebury .flo file")
    w, h = np.frombuffer(raw[4:12], np.int32)
    data = np.frombuffer(raw[12:], np.float32)
    if data.size != w * h * 2:
        raise InputError(f"{path} is truncated: {data.size} values for a {w}x{h} flow")
    return data.reshape(h, w, 2).copy()


def grey_u8(rgb01: np.ndarray) -> np.ndarray:
    return np.clip(cv2.cvtColor(rgb01.astype(np.float32), cv2.COLOR_RGB2GRAY) * 255 + 0.5, 0, 255).astype(np.uint8)


def measurement_flow(src01: np.ndarray, dst01: np.ndarray) -> np.ndarray:
    """Flow for the metric, src -> dst: DIS 'medium' at full resolution.

    Finer than the runtime blender's flow (DIS 'balanced', ``FLOW_PRESET`` in runtime/temporal.py,
    on a grid of at most 480 px), yet the same
    algorithm, so on the clips a blender flow closer to this one is rewarded a little for agreeing
    with the ruler: the Sintel pairs (ground-truth flow) and marple8 (DeepFlow) are the unbiased
    checks, and docs/temporal.md reads them separately.
    """
    return dis_flow(grey_u8(src01), grey_u8(dst01))


def farneback_flow(src01: np.ndarray, dst01: np.ndarray) -> np.ndarray:
    """Flow for the metric, src -> dst, from an algorithm the blender does not use (Farneback 2003,
    polynomial expansion), so a blend is not rewarded for sharing its ruler's mistakes.

    Five pyramid levels follow motions of 30+ px (shaky footage); a 15 px Gaussian window keeps it
    from following sensor noise.
    """
    return cv2.calcOpticalFlowFarneback(grey_u8(src01), grey_u8(dst01), None, pyr_scale=0.5, levels=5,
                                        winsize=15, iterations=3, poly_n=7, poly_sigma=1.5,
                                        flags=cv2.OPTFLOW_FARNEBACK_GAUSSIAN)


RULERS = {"dis": measurement_flow, "farneback": farneback_flow}


def visible_mask(flow: np.ndarray, flow_back: np.ndarray) -> np.ndarray:
    """Pixels whose flow is trusted: forward-backward consistent and off motion boundaries."""
    return consistency_mask(flow, flow_back) & motion_boundary_mask(flow)


def ruler_pair(frame_t: np.ndarray, frame_prev: np.ndarray, ruler: str = "dis") -> tuple[np.ndarray, np.ndarray]:
    """Flow t -> t-1 by ``ruler`` (a key of RULERS) and the pixels it is trusted on."""
    if ruler not in RULERS:
        raise InputError(f"unknown flow ruler '{ruler}'; use one of {', '.join(RULERS)}")
    flow, back = RULERS[ruler](frame_t, frame_prev), RULERS[ruler](frame_prev, frame_t)
    return flow, visible_mask(flow, back)


def warp_image(image: np.ndarray, flow: np.ndarray) -> np.ndarray:
    """[H, W, 3] image warped backward along ``flow`` (which sits at the target frame's pixels)."""
    return warp(np.ascontiguousarray(image.transpose(2, 0, 1)), flow).transpose(1, 2, 0)


def warping_error(out_t: np.ndarray, out_prev: np.ndarray, flow_t_to_prev: np.ndarray,
                  mask: np.ndarray) -> float:
    """Lai et al. 2018 warping error of one frame pair (0..1 RGB, squared L2 over channels)."""
    if not (out_t.shape == out_prev.shape and out_t.shape[:2] == flow_t_to_prev.shape[:2] == mask.shape):
        raise InputError(f"warping error needs matching shapes, got {out_t.shape}, {out_prev.shape}, "
                         f"{flow_t_to_prev.shape}, {mask.shape}")
    diff = ((out_t - warp_image(out_prev, flow_t_to_prev)) ** 2).sum(-1)
    n = int(mask.sum())
    return float(diff[mask].sum() / n) if n else float("nan")


def revealed_mask(not_visible: np.ndarray, frame_t: np.ndarray, frame_prev: np.ndarray,
                  min_change: float = 0.06) -> np.ndarray:
    """Disoccluded pixels whose input changed by more than ``min_change`` (0..1, channel mean)."""
    return not_visible & (np.abs(frame_t - frame_prev).mean(-1) > min_change)


def ghost_ratio(out_t: np.ndarray, per_frame_t: np.ndarray, per_frame_prev: np.ndarray,
                disoccluded: np.ndarray) -> float:
    """Fraction of the true change on newly revealed pixels that a method held back (0 = none)."""
    if not disoccluded.any():
        return float("nan")
    held = np.abs(out_t - per_frame_t).mean(-1)[disoccluded].mean()
    change = np.abs(per_frame_t - per_frame_prev).mean(-1)[disoccluded].mean()
    return float(held / max(change, 1e-6))


def flicker(outputs: list[np.ndarray], skip: int = 0) -> float:
    """Mean absolute frame-to-frame change in grey levels (0..255), from frame ``skip`` on."""
    pairs = list(zip(outputs[skip:], outputs[skip + 1:]))
    if not pairs:
        raise InputError("flicker needs at least two frames after the skipped ones")
    return float(np.mean([np.abs(b - a).mean() for a, b in pairs]) * 255.0)


def noisy_still(frame01: np.ndarray, count: int, sigma_grey: float = 2.0, seed: int = 0) -> list[np.ndarray]:
    """A still camera: one frame repeated with fresh Gaussian sensor noise (sigma in grey levels)."""
    rng = np.random.default_rng(seed)
    return [np.clip(frame01 + rng.normal(0.0, sigma_grey / 255.0, frame01.shape), 0.0, 1.0).astype(np.float32)
            for _ in range(count)]
