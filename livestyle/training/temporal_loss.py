"""A temporal loss learnt from still photos: synthetic motion, so the nets themselves are steady.

Per-frame nets re-roll their strokes when the picture moves by a pixel or the sensor noise
changes; the runtime blender (runtime/temporal.py) can only hide that where its flow is right.
Two published ways to train the steadiness into the net, without video or optical flow:

* ``warp`` -- ReReVST (Wang et al. 2020, "Consistent Video Style Transfer via Relaxation and
  Regularization", IEEE TIP): a random smooth flow (N(0, 8 px) displacements on a coarse grid about
  100 px apart, upsampled bilinearly, plus a global shift in [-10, 10] px) moves the photo; the moved
  photo plus a little noise is the "next frame" f2 = warp(f1) + n, and the loss
  L1(warp(S(f1)), S(f2)) asks the output to move with the picture.
* ``noise`` -- MCCNet (Deng et al. 2021, "Arbitrary Video Style Transfer via Multi-Channel
  Correlation", AAAI): the output for the photo plus N(0, sigma), sigma in [0.01, 0.02] of the
  0..1 range, should stay close to the clean output (a still camera's sensor noise).

Every random draw is a pure function of (seed, step), like the content batches (data.py), so a
resumed run sees exactly the pairs it would have seen. Warping uses ``grid_sample`` with the
runtime's flow convention (runtime/flow.py): a flow sits at the target frame's pixels and points
to where each pixel is in the source, out(y, x) = in(y + dy, x + dx).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np
import torch
import torch.nn.functional as F

from ..errors import InputError

MODES = ("warp", "noise", "both")
# Keeps the motion draws apart from the content batch's, which uses default_rng([seed, step]).
_MOTION_STREAM = 0x7E3


@dataclass(frozen=True)
class SyntheticMotion:
    """The motion statistics of the ``warp`` pairs and the noise of the ``noise`` pairs."""

    flow_sigma: float = 8.0                # px, ReReVST's local displacement
    grid_spacing: int = 100                # px between the coarse grid's nodes (ReReVST)
    max_shift: float = 10.0                # px, global shift drawn from U(-max, max) per axis (ReReVST)
    # Sensor noise on the moved frame: 2 grey levels, the still camera livestyle measures against
    # (eval/temporal_metrics.noisy_still).
    frame_noise: float = 2.0 / 255.0
    noise_sigma: tuple[float, float] = (0.01, 0.02)   # MCCNet's noise range, 0..1 units

    def to_dict(self) -> dict:
        return asdict(self)


def motion_rng(seed: int, step: int) -> np.random.Generator:
    return np.random.default_rng([seed, step, _MOTION_STREAM])


def random_smooth_flow(rng: np.random.Generator, batch: int, height: int, width: int,
                       motion: SyntheticMotion = SyntheticMotion()) -> torch.Tensor:
    """[B, 2, H, W] float32 (dx, dy) px: bilinear upsampling of N(0, sigma) nodes plus a global shift."""
    rows = max(2, math.ceil((height - 1) / motion.grid_spacing) + 1)
    cols = max(2, math.ceil((width - 1) / motion.grid_spacing) + 1)
    nodes = torch.from_numpy(rng.normal(0.0, motion.flow_sigma, (batch, 2, rows, cols)).astype(np.float32))
    # align_corners=True puts the outer nodes on the corner pixels, so nodes are at most
    # ``grid_spacing`` apart whatever the crop size.
    local = F.interpolate(nodes, size=(height, width), mode="bilinear", align_corners=True)
    shift = rng.uniform(-motion.max_shift, motion.max_shift, (batch, 2, 1, 1)).astype(np.float32)
    return local + torch.from_numpy(shift)


def warp_with_flow(images: torch.Tensor, flow: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Backward warp of [B, C, H, W] along [B, 2, H, W]: out(y, x) = images(y + dy, x + dx).

    Returns the warped images and [B, 1, H, W] bool: True where the sample point lies inside the
    frame (elsewhere the border is replicated, which is no real content).
    """
    _, _, h, w = images.shape
    ys, xs = torch.meshgrid(torch.arange(h, device=flow.device, dtype=torch.float32),
                            torch.arange(w, device=flow.device, dtype=torch.float32), indexing="ij")
    px, py = xs + flow[:, 0].float(), ys + flow[:, 1].float()
    grid = torch.stack((2.0 * px / max(w - 1, 1) - 1.0, 2.0 * py / max(h - 1, 1) - 1.0), dim=-1)
    warped = F.grid_sample(images.float(), grid, mode="bilinear", padding_mode="border", align_corners=True)
    valid = (px >= 0) & (px <= w - 1) & (py >= 0) & (py <= h - 1)
    return warped, valid[:, None]


def masked_l1(a: torch.Tensor, b: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean |a - b| over the pixels (all channels) where ``mask`` is True."""
    weight = mask.to(a.dtype).expand_as(a)
    return ((a.float() - b.float()).abs() * weight).sum() / weight.sum().clamp_min(1.0)


@dataclass
class MotionProbe:
    """The extra frames a step runs the nets on, and how to score their outputs against the clean ones.

    ``inputs`` holds, per mode in ``modes``, one block of B frames (0..255), in that order.
    """

    inputs: torch.Tensor
    modes: tuple[str, ...]
    flow: torch.Tensor | None = None      # [B, 2, H, W], warp mode
    valid: torch.Tensor | None = None     # [B, 1, H, W], warp mode

    def loss(self, clean01: torch.Tensor, moved01: torch.Tensor) -> torch.Tensor:
        """Sum over modes of the L1 distance (0..1 units) between the outputs the two frames should share."""
        total = clean01.new_zeros((), dtype=torch.float32)
        for mode, out in zip(self.modes, moved01.split(clean01.shape[0])):
            if mode == "warp":
                target, _ = warp_with_flow(clean01, self.flow)
                total = total + masked_l1(target, out, self.valid)
            else:
                total = total + (out.float() - clean01.float()).abs().mean()
        return total


def second_frame(first: torch.Tensor, flow: torch.Tensor,
                 noise: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor]:
    """The second frame of a synthetic pair (0..255): the first moved along ``flow`` plus ``noise``."""
    moved, valid = warp_with_flow(first, flow)
    if noise is not None:
        moved = (moved + noise).clamp(0.0, 255.0)
    return moved, valid


def motion_probe(first: torch.Tensor, seed: int, step: int, mode: str,
                 motion: SyntheticMotion = SyntheticMotion()) -> MotionProbe:
    """Synthetic second frames for a batch ``first`` [B, 3, H, W] 0..255, drawn from (seed, step)."""
    if mode not in MODES:
        raise InputError(f"temporal mode must be one of {', '.join(MODES)}, got '{mode}'")
    rng = motion_rng(seed, step)
    b, c, h, w = first.shape
    modes = ("warp", "noise") if mode == "both" else (mode,)
    blocks, flow, valid = [], None, None
    if "warp" in modes:
        flow = random_smooth_flow(rng, b, h, w, motion).to(first.device)
        noise = torch.from_numpy(rng.normal(0.0, motion.frame_noise * 255.0, (b, c, h, w)).astype(np.float32))
        moved, valid = second_frame(first, flow, noise.to(first.device))
        blocks.append(moved)
    if "noise" in modes:
        sigma = rng.uniform(*motion.noise_sigma, (b, 1, 1, 1)) * 255.0
        noise = torch.from_numpy((rng.normal(0.0, 1.0, (b, c, h, w)) * sigma).astype(np.float32))
        blocks.append((first.float() + noise.to(first.device)).clamp(0.0, 255.0))
    return MotionProbe(torch.cat(blocks), modes, flow, valid)
