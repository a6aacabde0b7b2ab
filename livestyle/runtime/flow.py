"""Optical flow toolkit: DIS flow on small grey frames, backward warping, flow checks.

Shared by the temporal blender (``runtime/temporal.py``) and the stability measures
(``eval/temporal_metrics.py``), so that the ruler and the thing measured warp the same way.

Conventions: a flow is [h, w, 2] float32 (dx, dy) at the *source* frame's pixels, pointing to
where each pixel is in the other frame; warping samples the other frame there (backward warp).
"""

from __future__ import annotations

import functools

import cv2
import numpy as np

from ..errors import InputError

# DIS settings by name: OpenCV's presets, plus 'medium-norefine', medium without its variational
# refinement, which is about half of medium's time, and 'balanced', medium's scales with patches
# every 4 px instead of 3, 12 gradient-descent and 3 refinement iterations instead of 25 and 5:
# a little over half of medium's time for a little more warping error after blending (measured:
# docs/lab/temporal-log.md, docs/performance.md). 'medium' has about half the end-point error of 'fast'.
DIS_PRESETS = {"ultrafast": (cv2.DISOPTICAL_FLOW_PRESET_ULTRAFAST, {}),
               "fast": (cv2.DISOPTICAL_FLOW_PRESET_FAST, {}),
               "balanced": (cv2.DISOPTICAL_FLOW_PRESET_MEDIUM,
                            {"PatchStride": 4, "GradientDescentIterations": 12, "VariationalRefinementIterations": 3}),
               "medium": (cv2.DISOPTICAL_FLOW_PRESET_MEDIUM, {}),
               "medium-norefine": (cv2.DISOPTICAL_FLOW_PRESET_MEDIUM, {"VariationalRefinementIterations": 0})}
DIS_PRESET = "medium"


def flow_size(image_hw: tuple[int, int], long_side: int) -> tuple[int, int]:
    """(h, w) the flow is estimated at: the frame shrunk so its long side is at most ``long_side``."""
    h, w = image_hw
    f = min(1.0, long_side / max(h, w))
    return max(8, round(h * f)), max(8, round(w * f))


def grey_small(image_chw: np.ndarray, size_hw: tuple[int, int]) -> np.ndarray:
    """[3, H, W] RGB 0..255 -> uint8 grey [h, w] (area-averaged, which also averages out noise)."""
    r, g, b = image_chw.astype(np.float32, copy=False)
    # Two fused OpenCV passes instead of five numpy temporaries (the same grey levels).
    grey = cv2.scaleAdd(b, 0.114, cv2.addWeighted(r, 0.299, g, 0.587, 0.0))
    h, w = size_hw
    if grey.shape != (h, w):
        grey = cv2.resize(grey, (w, h), interpolation=cv2.INTER_AREA)
    return np.clip(grey + 0.5, 0, 255).astype(np.uint8)


def make_dis(preset: str = DIS_PRESET) -> cv2.DISOpticalFlow:
    """A DIS optical-flow solver at one of :data:`DIS_PRESETS`; reuse it: a fresh one allocates its
    buffers on the first call, which costs about as much as the flow itself."""
    if preset not in DIS_PRESETS:
        raise InputError(f"unknown DIS preset {preset!r}; use one of {', '.join(DIS_PRESETS)}")
    base, overrides = DIS_PRESETS[preset]
    dis = cv2.DISOpticalFlow_create(base)
    for name, value in overrides.items():
        getattr(dis, f"set{name}")(value)
    return dis


def dis_flow(src: np.ndarray, dst: np.ndarray, dis: cv2.DISOpticalFlow | None = None) -> np.ndarray:
    """Flow [h, w, 2] (dx, dy) at ``src``'s pixels pointing to where they are in ``dst``."""
    return (dis or make_dis()).calc(src, dst, None)


def squared_length(flow: np.ndarray) -> np.ndarray:
    return flow[..., 0] * flow[..., 0] + flow[..., 1] * flow[..., 1]


def resize_flow(flow: np.ndarray, size_hw: tuple[int, int]) -> np.ndarray:
    """Resample a flow field to another grid; vectors are scaled with the grid (pixels change size).

    Shrinking averages the vectors (INTER_AREA), so a fine flow does not alias onto a coarse grid.
    """
    h, w = size_hw
    fh, fw = flow.shape[:2]
    if (fh, fw) == (h, w):
        return flow
    interp = cv2.INTER_AREA if h < fh else cv2.INTER_LINEAR
    out = cv2.resize(flow, (w, h), interpolation=interp)
    out[..., 0] *= w / fw
    out[..., 1] *= h / fh
    return out


@functools.lru_cache(maxsize=8)
def _pixel_grid(h: int, w: int) -> tuple[np.ndarray, np.ndarray]:
    xs, ys = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
    xs.flags.writeable = ys.flags.writeable = False
    return xs, ys


def sample_maps(flow: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    xs, ys = _pixel_grid(*flow.shape[:2])
    return xs + flow[..., 0], ys + flow[..., 1]


def source_inside(flow: np.ndarray) -> np.ndarray:
    """True where ``flow`` fetches from inside the frame. Elsewhere (what a pan brings in at the
    edge) a warp can only repeat the edge pixels: there is no history to follow."""
    map_x, map_y = sample_maps(flow)
    h, w = flow.shape[:2]
    return (map_x >= 0) & (map_x <= w - 1) & (map_y >= 0) & (map_y <= h - 1)


def warp(values: np.ndarray, flow: np.ndarray, interp: int = cv2.INTER_LINEAR) -> np.ndarray:
    """Backward warp: out[..., y, x] = values[..., y + dy, x + dx] (bilinear, edges replicated).

    ``values`` is [h, w] or [C, h, w] with any C. cv2.remap handles at most 4 channels reliably
    (more silently switch it to fixed-point maps, 512 returns garbage), so channels go one at a time,
    which is as fast as chunking on these small grids.
    """
    map_x, map_y = sample_maps(flow)
    if values.ndim == 2:
        return cv2.remap(values, map_x, map_y, interp, borderMode=cv2.BORDER_REPLICATE)
    # remap turns float maps into fixed-point ones (1/32 px) inside every call; converting them
    # once gives the same pixels and saves that work on every channel after the first.
    map_xy, map_frac = cv2.convertMaps(map_x, map_y, cv2.CV_16SC2)
    src = np.ascontiguousarray(values, dtype=np.float32)
    out = np.empty_like(src)
    for c in range(src.shape[0]):
        cv2.remap(src[c], map_xy, map_frac, interp, dst=out[c], borderMode=cv2.BORDER_REPLICATE)
    return out


def resampling_blur(flow: np.ndarray) -> np.ndarray:
    """0..1 per pixel: how much a warp by ``flow`` low-passes (0 at whole pixels, 1 at half)."""
    total = np.zeros(flow.shape[:2], np.float32)
    for axis in (0, 1):  # one plane at a time: a mean over the interleaved last axis is 5x slower
        frac = flow[..., axis] - np.floor(flow[..., axis])
        total += frac * (1.0 - frac)
    return 2.0 * total


def consistency_mask(flow: np.ndarray, flow_back: np.ndarray) -> np.ndarray:
    """True where ``flow`` (a -> b) agrees with ``flow_back`` (b -> a); Ruder et al. 2016, eq. 5.

    A pixel that is occluded in b lands on something else there, whose flow does not point back.
    """
    back = warp(np.ascontiguousarray(flow_back.transpose(2, 0, 1)), flow).transpose(1, 2, 0)
    total = flow + back
    lhs = squared_length(total)
    rhs = 0.01 * (squared_length(flow) + squared_length(back)) + 0.5
    return lhs <= rhs


def motion_boundary_mask(flow: np.ndarray) -> np.ndarray:
    """True away from motion boundaries (Ruder et al. 2016): the flow is smeared across them."""
    gx_u, gy_u = np.gradient(flow[..., 0])
    gx_v, gy_v = np.gradient(flow[..., 1])
    grad = gx_u ** 2 + gy_u ** 2 + gx_v ** 2 + gy_v ** 2
    return grad <= 0.01 * squared_length(flow) + 0.002
