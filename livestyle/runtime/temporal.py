"""Temporal stability for video: blend each frame with the previous result, warped by optical flow.

A feed-forward style net stylises every frame on its own, so tiny changes of the input (sensor
noise, sub-pixel motion) re-roll the brush strokes and the video flickers. Mixing the current
result with the previous (already blended) result, moved along the optical flow, makes strokes
follow the scene instead (Ruder et al. 2016):

    y_t = (1 - a*M) * y_t + a*M * warp(y_{t-1})

``a`` is the stability (0 = per-frame, 1 = freeze; higher where nothing moved, see
``STILL_STABILITY_POWER``) and ``M`` in 0..1 says where the warped history can be trusted. ``M``
is 0 on motion boundaries and where the warped previous frame does not look like the current one
(occlusions, lighting changes, flow failures), and optionally where Ruder's forward-backward flow
check fails: there the fresh result wins, so moving objects leave no trails.
When most of the frame fails (a scene cut) the history is dropped instead of smeared in.

What it blends, ``values`` [C, h, w], can be the encoder's features or the decoded RGB output
[3, H, W]: the blender only needs the frame they came from. Measured (docs/temporal.md), blending the *output*
steadies far more (warping error 0.2-0.6x of per-frame vs 0.55-1.05x for features at 1/4
resolution: a decoder is not shift-equivariant at sub-feature-pixel shifts, so warped features do
not decode to warped strokes), which is why the stylizers blend their output by default.

Flow and masks are computed on small grey frames (480 px long side) with the toolkit in
``flow.py``, and the stylizer estimates the flow on a second thread while the net runs. On a
small CPU the blend still costs a large share of a frame next to a light net, which is why every
pass over the frame here is counted (what it costs: docs/performance.md).
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from ..errors import InputError
from .flow import (DIS_PRESETS, consistency_mask, dis_flow, flow_size, grey_small, make_dis, motion_boundary_mask,
                   resampling_blur, resize_flow, source_inside, squared_length, warp)

DEFAULT_STABILITY = 0.8
FLOW_MODES = ("dis", "none")

# Flow is estimated on grey frames at most this wide/high. How far the history can be trusted is
# set by the flow's precision: with ground-truth flow the blend would leave 0.06-0.12x of the
# per-frame warping error on the Sintel pairs, with DIS 0.4-0.6x (docs/lab/temporal-log.md). A 480 px grid
# instead of 320 lowered the warping error on every sequence but marple8 (mean 0.46 -> 0.38,
# mosaic_fast) and the ghosting, with the same still-camera flicker; its extra frame time was
# within the machine's noise because the flow runs on its own thread while the net runs (640 px:
# +45%). DIS 'medium' has about half the end-point error of 'fast'. Refining to the grid itself
# (finest scale 0) follows film grain and sensor noise, which made real clips less steady.
FLOW_LONG_SIDE = 480
# DIS settings (flow.DIS_PRESETS) of the flow the history follows and of the backward flow of a
# forward-backward occlusion check ('none': no such check; the photometric gate and the motion
# boundaries catch occlusions). Measured on Sintel (ground-truth flow) and marple8, mosaic_fast:
# without the check the warping error is the same (mean 0.439 vs 0.446 of per-frame, worst 0.559
# vs 0.583) at a little more ghosting (0.052 vs 0.036 of the true change held back on revealed
# pixels), and `video --style-image` ran 1.25x faster end to end (docs/lab/temporal-log.md): the backward
# flow was a quarter of the blender's time. A coarser backward flow flags more pixels and steadies
# less (fast: 0.492, ultrafast: 0.533). The forward flow is 'balanced', not 'medium': on the same
# sequences with udnie_fast, warping error 0.515 vs 0.506 of per-frame (worst 0.704 both) for 44%
# less flow time, a share of the frame on two cores; 'fast' or a 400 px grid cost more steadiness.
FLOW_PRESET, CHECK_PRESET = "balanced", "none"

# The history is re-sampled every frame, so interpolation blur compounds: bicubic keeps more
# detail than bilinear, and a mild unsharp mask (amount, sigma in grid pixels) gives back what one
# resampling takes. The amount follows the sub-pixel part of the flow (a whole-pixel or zero shift
# does not blur, so static regions are left alone), peaking at half a pixel; stability *
# (1 + amount) < 1 keeps the loop from amplifying anything.
HISTORY_SHARPEN, SHARPEN_SIGMA = 0.15, 0.8

# Photometric gate in grey levels (0..255): below LOW the warped history is trusted fully, above
# HIGH not at all. LOW sits well above camera noise; HIGH below a newly revealed object's contrast.
PHOTO_LOW, PHOTO_HIGH = 4.0, 16.0
# Flow vectors shorter than STILL_FLOW (flow-grid pixels) become zero where zero motion matches the
# frame, over a Gaussian window of STILL_WINDOW_SIGMA grid pixels, within STILL_MARGIN grey levels
# of the flow's match (interpolation averages noise, so the flow's match is a little better even
# when nothing moves). On a still noisy camera this zeroes 99% of the frame (0.25 px: 83%).
STILL_FLOW, STILL_MARGIN, STILL_WINDOW_SIGMA = 1.0, 0.5, 6.0
# Detail restoration (on by default): fine detail below DETAIL_SIGMA grid pixels gets its local
# energy (measured over DETAIL_WINDOW) back up to the current frame's, by at most DETAIL_MAX_GAIN.
# Averaging frames washes out texture the net re-rolls every frame (candy_fast: Gram style loss
# 1.21x of per-frame without it, 1.10x with it) for 5-13% more warping error (docs/lab/temporal-log.md).
DEFAULT_KEEP_DETAIL = True
DETAIL_SIGMA, DETAIL_WINDOW, DETAIL_MAX_GAIN = 1.0, 6.0, 1.5
# Scene cut: the history is forgotten when less than this fraction of the frame is reliable.
CUT_RELIABLE_FRACTION = 0.35
# Where zero motion explains the frame (still_pixels), the only change is sensor noise: there is
# no motion to lag behind, so the history may be averaged longer. Still pixels blend with
# stability ** STILL_STABILITY_POWER (0.8 -> 0.89), which keeps 0 (per-frame) and 1 (freeze) as
# they are. An exponential average's frame-to-frame noise falls with (1 - a) / sqrt(1 + a): from
# 6.7x to 13x lower than per-frame for 0.8 -> 0.89. The photometric gate still drops the history
# where the picture changes (lighting, something entering), so a still background does not lag.
STILL_STABILITY_POWER = 0.5


def _shape(x) -> object:
    return getattr(x, "shape", type(x).__name__)


def check_chw_image(image: np.ndarray) -> None:
    """The blender's frame convention: [3, H, W] RGB (the stylizer's prepared tensor)."""
    if not isinstance(image, np.ndarray) or image.ndim != 3 or image.shape[0] != 3:
        raise InputError(f"temporal blending needs the frame as [3, H, W] RGB, got {_shape(image)}")


def check_values(values: np.ndarray, image: np.ndarray) -> None:
    if not isinstance(values, np.ndarray) or values.ndim != 3 or values.size == 0:
        raise InputError(f"temporal blending needs values [C, h, w], got {_shape(values)}")
    check_chw_image(image)
    if image.shape[1] < values.shape[1] or image.shape[2] < values.shape[2]:
        raise InputError(f"frame {image.shape[1:]} is smaller than its values {values.shape[1:]}")


def sharpen(values: np.ndarray, amount: np.ndarray | float, sigma: float = SHARPEN_SIGMA) -> np.ndarray:
    """Unsharp mask per channel of [C, h, w], ``amount`` scalar or [h, w]."""
    out = np.empty_like(values)
    for c in range(values.shape[0]):
        out[c] = values[c] + amount * (values[c] - cv2.GaussianBlur(values[c], (0, 0), sigma))
    return out


def warp_history(history: np.ndarray, flow: np.ndarray, amount: float = HISTORY_SHARPEN) -> np.ndarray:
    """The previous result moved onto the current frame, with its resampling blur undone."""
    warped = warp(history, flow, cv2.INTER_CUBIC)
    if amount == 0.0:
        return warped
    return sharpen(warped, (amount * resampling_blur(flow)).astype(np.float32))


def smooth(plane: np.ndarray, sigma: float, factor: int = 4) -> np.ndarray:
    """A Gaussian blur of ``sigma`` pixels, for wide windows: area-averaged ``factor`` times smaller,
    blurred there and enlarged back (the box and the enlarging add little to a wide Gaussian)."""
    h, w = plane.shape
    if min(h, w) < 4 * factor or sigma < factor:
        return cv2.GaussianBlur(plane, (0, 0), sigma)
    small = cv2.resize(plane, (w // factor, h // factor), interpolation=cv2.INTER_AREA)
    return cv2.resize(cv2.GaussianBlur(small, (0, 0), sigma / factor), (w, h), interpolation=cv2.INTER_LINEAR)


def window_error(grey: np.ndarray, other: np.ndarray, sigma: float) -> np.ndarray:
    """|grey - other| averaged over a Gaussian window of ``sigma`` pixels."""
    return cv2.GaussianBlur(np.abs(grey.astype(np.float32) - other.astype(np.float32)), (0, 0), sigma)


def local_error(grey: np.ndarray, other: np.ndarray) -> np.ndarray:
    """|grey - other| averaged over a few pixels, so single noisy pixels do not decide anything."""
    return window_error(grey, other, 1.0)


def still_pixels(flow: np.ndarray, grey: np.ndarray, prev_grey: np.ndarray, warped_prev: np.ndarray,
                 tiny: float = STILL_FLOW, margin: float = STILL_MARGIN) -> np.ndarray:
    """True where a tiny flow vector is better replaced by no motion at all.

    On a still camera DIS returns jitter of up to a pixel from sensor noise on flat patches;
    following it would re-sample and shift the history every frame, which is flicker of its own.
    Only short vectors are candidates: the net paints texture on flat input too, so where things
    really move, zero motion would drag strokes even when the grey input looks the same either way.
    """
    # Judged over a wide window: on flat patches neither explanation wins locally, but the window
    # takes in enough texture to tell a real (coherent) motion from noise jitter.
    # The window average is linear, so the difference of two window errors is one blur of the
    # difference (half the cost of blurring each).
    # The window is wide, so it is taken on a 4x smaller grid and brought back (a third of the cost).
    g = grey.astype(np.float32)
    gain = smooth(np.abs(g - prev_grey) - np.abs(g - warped_prev), STILL_WINDOW_SIGMA)
    return (gain <= margin) & (squared_length(flow) < tiny ** 2)


def photometric_gate(grey: np.ndarray, warped_prev: np.ndarray,
                     low: float = PHOTO_LOW, high: float = PHOTO_HIGH) -> np.ndarray:
    """1 where the warped previous frame matches the current one, falling to 0 as they differ."""
    err = local_error(grey, warped_prev)
    return np.clip((high - err) / (high - low), 0.0, 1.0)


def reliability(grey: np.ndarray, prev_grey: np.ndarray, flow_mode: str,
                dis: cv2.DISOpticalFlow | None = None,
                dis_check: cv2.DISOpticalFlow | None = None, check: bool = True
                ) -> tuple[np.ndarray, np.ndarray | None, np.ndarray | None]:
    """Mask in 0..1 at the flow grid (1 = history reliable), the flow current -> previous, and
    where the frame did not move at all (``still_pixels``; None without flow).

    ``dis`` estimates the flow the history moves along, ``dis_check`` (default: ``dis``) the
    backward flow of the forward-backward occlusion check; ``check=False`` leaves that check out
    (occlusions are then caught by the photometric gate alone). With ``flow_mode='none'`` (still
    cameras) nothing is warped and only the frame difference gates.
    """
    if flow_mode == "none":
        return photometric_gate(grey, prev_grey), None, None
    dis = dis or make_dis()
    flow = dis_flow(grey, prev_grey, dis)
    ok = motion_boundary_mask(flow) & source_inside(flow)
    if check:
        ok &= consistency_mask(flow, dis_flow(prev_grey, grey, dis_check or dis))
    prev_f = prev_grey.astype(np.float32)
    warped_prev = warp(prev_f, flow)
    still = still_pixels(flow, grey, prev_grey, warped_prev)
    # Noise-driven jitter fails the consistency and boundary checks, yet where nothing moves the
    # history lines up exactly: still pixels are reliable (the photometric gate still applies).
    flow = flow * ~still[..., None]
    warped_prev = np.where(still, prev_f, warped_prev)  # a zero vector samples the pixel itself
    ok |= still
    # One flow-grid pixel of margin: features see a neighbourhood, so a half-occluded pixel counts.
    ok = cv2.erode(ok.astype(np.uint8), np.ones((3, 3), np.uint8)).astype(np.float32)
    return ok * photometric_gate(grey, warped_prev), flow, still


def blend_weight(mask: np.ndarray, still: np.ndarray | None, stability: float,
                 still_stability: float) -> np.ndarray:
    """Per-pixel weight of the history: a*M, with a_still instead of a on still pixels."""
    if still is None or still_stability == stability:
        return (stability * mask).astype(np.float32, copy=False)
    return mask * np.where(still, np.float32(still_stability), np.float32(stability))


def blend(values: np.ndarray, warped_prev: np.ndarray, weight: np.ndarray) -> np.ndarray:
    """(1 - w) * f + w * warped, with the history's weight w [h, w] broadcast over channels."""
    # In place on one new array: each temporary of a 640x360 output costs about a millisecond.
    out = np.subtract(warped_prev, values, dtype=np.float32)
    out *= weight.astype(np.float32, copy=False)
    out += values
    return out


def restore_detail(blended: np.ndarray, current: np.ndarray, sigma: float = DETAIL_SIGMA,
                   window: float = DETAIL_WINDOW, max_gain: float = DETAIL_MAX_GAIN) -> np.ndarray:
    """``blended`` with its fine detail scaled up to the local detail energy of ``current``.

    Where a net paints fine texture that changes every frame, averaging frames averages that
    texture away (the Gram style loss notices, the eye hardly). Scaling the *blended* detail
    (whose phase follows the history, so it stays steady) brings the contrast back without
    bringing the flicker back; where blended and current agree the gain is 1. Never lowers detail.
    One gain for all channels, from their summed energies, so detail keeps its colour. The
    energies are smooth over ``window`` pixels, so they are measured on a 4x smaller grid (a third
    of the cost, gains within 2% of the full-resolution ones).
    """
    n, h, w = blended.shape
    # The Gaussian cut at two sigma: OpenCV's own choice for float images (four sigma) spends 80%
    # more on the 1% of the weight beyond, on six full-size blurs per frame.
    taps = (2 * round(2 * sigma) + 1,) * 2
    f = 4 if min(h, w) >= 16 * window else 1
    small, sigma_small = (max(1, w // f), max(1, h // f)), window / f
    detail = np.empty(blended.shape, np.float32)
    energy, target = np.zeros((2, small[1], small[0]), np.float32)
    for c in range(n):
        d = np.subtract(blended[c], cv2.GaussianBlur(blended[c], taps, sigma), out=detail[c])
        cur = current[c] - cv2.GaussianBlur(current[c], taps, sigma)
        energy += cv2.resize(d * d, small, interpolation=cv2.INTER_AREA)
        target += cv2.resize(np.square(cur, out=cur), small, interpolation=cv2.INTER_AREA)
    eps = n * 1e-3
    energy, target = (cv2.GaussianBlur(e, (0, 0), sigma_small) + eps for e in (energy, target))
    gain = np.clip(np.sqrt(target / energy), 1.0, max_gain)
    detail *= cv2.resize(gain, (w, h), interpolation=cv2.INTER_LINEAR) - 1.0
    detail += blended
    return detail


@dataclass
class BlendStats:
    """What the last call did, for tools and tests (the library never prints)."""

    reliable: float = 0.0      # mean of M at the flow grid
    cut: bool = False          # the history was dropped as a scene cut
    first: bool = True         # no history (first frame, after reset or a size change)


@dataclass(frozen=True)
class Motion:
    """How a frame moved since the previous one: everything the blend needs from the *input*.

    It depends on the input frames only, so it can be computed while the net runs on the frame.
    """

    grey: np.ndarray | None = None       # None when blending is off
    mask: np.ndarray | None = None       # 0..1 at the flow grid; None: no previous frame to use
    flow: np.ndarray | None = None       # current -> previous at the flow grid; None: no flow mode
    still: np.ndarray | None = None      # True where nothing moved (flow grid); None: no flow mode


class TemporalBlender:
    """Blends each frame's values [C, h, w] with the previous result, warped by optical flow.

    Call it on consecutive frames in order with the frame [3, H, W] (RGB 0..255) the values came
    from; ``reset()`` between clips or when the style changes. Works for any ratio of frame to
    value size (decoded output 1, Johnson features 4, AdaIN features 8). The result has the
    dtype of ``values`` (an fp16 decoder gets fp16 back); the history is kept in float32, and a
    float32 result *is* the history: copy it before changing it in place.

    ``blender(values, image)`` is ``blender.apply(values, blender.motion(image))``; the two halves
    exist so a stylizer can estimate the motion of frame t while its net stylises frame t.
    Motions must be applied in the order they were made.
    """

    def __init__(self, stability: float = DEFAULT_STABILITY, flow: str = "dis",
                 flow_long_side: int = FLOW_LONG_SIDE, cut_fraction: float = CUT_RELIABLE_FRACTION,
                 keep_detail: bool = DEFAULT_KEEP_DETAIL, flow_preset: str = FLOW_PRESET,
                 check_preset: str = CHECK_PRESET, still_stability: float | None = None):
        if not 0.0 <= float(stability) <= 1.0:
            raise InputError(f"stability must be in 0..1, got {stability}")
        if still_stability is None:
            still_stability = float(stability) ** STILL_STABILITY_POWER
        if not float(stability) <= float(still_stability) <= 1.0:
            raise InputError(f"still_stability must be in stability..1, got {still_stability}")
        if flow not in FLOW_MODES:
            raise InputError(f"unknown flow mode '{flow}'; use one of {', '.join(FLOW_MODES)}")
        if flow_long_side < 16:
            raise InputError(f"flow_long_side must be at least 16 pixels, got {flow_long_side}")
        if flow_preset not in DIS_PRESETS:
            raise InputError(f"unknown DIS preset '{flow_preset}'; use one of {', '.join(DIS_PRESETS)}")
        if check_preset not in (*DIS_PRESETS, "none"):
            raise InputError(f"unknown check preset '{check_preset}'; use one of {', '.join(DIS_PRESETS)} or none")
        self.stability, self.flow_mode = float(stability), flow
        self.still_stability = float(still_stability)
        self.flow_long_side, self.cut_fraction = flow_long_side, cut_fraction
        self.keep_detail = keep_detail
        self.stats = BlendStats()
        # One solver per blender, reused: motions are made one at a time, in order.
        self.flow_preset, self.check_preset = flow_preset, check_preset
        self._dis = make_dis(flow_preset) if flow == "dis" else None
        self._dis_check = (make_dis(check_preset) if flow == "dis" and check_preset not in (flow_preset, "none")
                           else None)
        self.reset()

    def reset(self) -> None:
        self._prev_values: np.ndarray | None = None
        self._prev_grey: np.ndarray | None = None

    def __call__(self, values: np.ndarray, image: np.ndarray) -> np.ndarray:
        check_values(values, image)
        return self.apply(values, self.motion(image))

    def motion(self, image: np.ndarray) -> Motion:
        """Flow and reliability of ``image`` [3, H, W] against the frame before it."""
        check_chw_image(image)
        if self.stability == 0.0:
            return Motion()
        grey = grey_small(image, flow_size(image.shape[1:], self.flow_long_side))
        prev_grey, self._prev_grey = self._prev_grey, grey
        if prev_grey is None or prev_grey.shape != grey.shape:
            return Motion(grey)
        mask, flow, still = reliability(grey, prev_grey, self.flow_mode, self._dis, self._dis_check,
                                        check=self.check_preset != "none")
        return Motion(grey, mask, flow, still)

    def apply(self, values: np.ndarray, motion: Motion) -> np.ndarray:
        """``values`` of the frame ``motion`` describes, blended with the warped history."""
        if motion.grey is None:
            return values
        prev = self._prev_values
        if motion.mask is None or prev is None or prev.shape != values.shape:
            return self._remember(values, BlendStats())
        reliable = float(motion.mask.mean())
        if reliable < self.cut_fraction:
            return self._remember(values, BlendStats(reliable, cut=True, first=False))
        weight = blend_weight(motion.mask, motion.still, self.stability, self.still_stability)
        value_hw = values.shape[1:]
        if weight.shape != value_hw:
            interp = cv2.INTER_AREA if value_hw[0] < weight.shape[0] else cv2.INTER_LINEAR
            weight = cv2.resize(weight, (value_hw[1], value_hw[0]), interpolation=interp)
        flow = motion.flow
        # Detail restoration gives back what resampling blurred too, so the history needs no sharpening.
        sharpen_amount = 0.0 if self.keep_detail else HISTORY_SHARPEN
        history = prev if flow is None else warp_history(prev, resize_flow(flow, value_hw), sharpen_amount)
        current = values.astype(np.float32, copy=False)   # only read below
        out = blend(current, history, weight)
        if self.keep_detail:
            out = restore_detail(out, current)
        self._remember(out, BlendStats(reliable, cut=False, first=False), owned=True)
        return out.astype(values.dtype, copy=False)

    def _remember(self, values: np.ndarray, stats: BlendStats, owned: bool = False) -> np.ndarray:
        # The blended result is the history, so stability compounds over frames (an exponential
        # average along motion paths), not just over one frame pair. A caller's array is copied
        # (it may change it); one made here (``owned``) is kept as it is.
        self._prev_values = values if owned and values.dtype == np.float32 else values.astype(np.float32)
        self.stats = stats
        return values
