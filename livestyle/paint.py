"""Gatys et al. optimisation ("Image style transfer using convolutional neural networks", CVPR 2016).

A stylisation method beside the feed-forward nets of ``runtime/``: no trained net, the image
pixels themselves are optimised against the relative Gram style loss, content loss and total
variation of ``training/losses.py``, on the shared VGG-16 loss network. Slow, but the best quality
for a single photo, and it works with any style image (or a weighted mix of several) without
training.

Large outputs are painted coarse-to-fine (as in Gatys et al. 2017, "Controlling perceptual factors
in neural style transfer", for high resolutions): the image is first optimised at a small size, where a step
is cheap and the large-scale structure of the style forms, then upsampled and refined at twice the
size until the target. Colour preservation comes from ``livestyle.color`` (Gatys et al. 2016).
"""

from __future__ import annotations

import numbers
from dataclasses import dataclass
from typing import Callable, NamedTuple, Sequence

import cv2
import numpy as np
import torch

from .checkpoints import load_vgg16
from .color import PreserveColor, apply_preserve_color, match_color_histogram, parse_preserve_color
from .errors import InputError
from .imageops import resize_long_side, to_bgr
from .media.images import read_image
from .mixing import mix_weights
from .models.vgg import LAYER_INDEX, VGG16Features
from .training.losses import GRAM_STYLE_LAYERS, content_loss, gram_style_loss, gram_targets, total_variation

OPTIMIZERS = ("lbfgs", "adam")
INITS = ("content", "noise")
MIN_SIZE = 64
MAX_SIZE = 4096
# Coarse-to-fine stops halving here: relu4_3 still has 32x32 positions, and a 256 px run on its
# own already gives a finished-looking stylisation (docs/gatys.md).
COARSEST_SIZE = 256
# VGG-16 pools three times before relu4_3; below this a side collapses to nothing.
MIN_SIDE = 16
# L-BFGS keeps 2 image-sized vectors per remembered step; cap that memory so 2048 px fits on CPU.
LBFGS_HISTORY_BYTES = 1 << 30
LBFGS_MAX_HISTORY = 100
# L-BFGS has no bounds: unconstrained, some pixels leave 0..1 and clamping them afterwards
# raises the style loss noticeably (docs/gatys.md). This quadratic penalty on the excess keeps
# them close to the range at no measurable cost to the losses.
RANGE_PENALTY = 1e3


@dataclass
class PaintSettings:
    size: int = 512                  # long side of the result, in pixels
    steps: int = 50                  # optimiser steps at the final size; each coarser size gets twice as many
    optimizer: str = "lbfgs"
    style_weight: float = 3.0
    content_weight: float = 1.0
    tv_weight: float = 10.0
    content_layer: str = "relu3_3"
    init: str = "content"
    preserve_color: PreserveColor | str | None = None
    style_scale: float = 1.0         # style image long side relative to the result's
    coarsest_size: int = COARSEST_SIZE
    adam_lr: float = 0.05
    seed: int = 0


@dataclass
class PaintProgress:
    level: int                       # 0 = coarsest
    levels: int
    height: int
    width: int
    step: int                        # 1-based within this level
    steps: int
    losses: dict[str, float]


class PaintResult(NamedTuple):
    image: np.ndarray                # BGR uint8
    losses: dict[str, float]         # of the returned image at the final size


def scale_plan(size: int, steps: int, coarsest: int = COARSEST_SIZE) -> list[tuple[int, int]]:
    """``[(long side, steps), ...]`` from coarsest to ``size``: halving sizes, doubling steps.

    A step at half the size costs a quarter, so doubling the steps there adds at most as much time
    as the final level takes, and buys the convergence the coarse structure needs.
    """
    plan = [(size, steps)]
    while plan[-1][0] // 2 >= coarsest:
        plan.append((plan[-1][0] // 2, plan[-1][1] * 2))
    return plan[::-1]


def load_gatys_network(weights_path, content_layer: str = PaintSettings.content_layer) -> VGG16Features:
    """The shared VGG-16 loss network with the Gram style layers and ``content_layer``."""
    _check_layer(content_layer)
    return load_vgg16(weights_path, GRAM_STYLE_LAYERS + (content_layer,))


def _check_layer(layer: str) -> None:
    if layer not in LAYER_INDEX:
        raise InputError(f"unknown content layer '{layer}'; choose one of {', '.join(LAYER_INDEX)}")


def _network(vgg, content_layer: str) -> VGG16Features:
    if isinstance(vgg, VGG16Features):
        missing = [name for name in GRAM_STYLE_LAYERS + (content_layer,) if name not in vgg.layers]
        if missing:
            raise InputError(f"the loss network given lacks layer(s) {missing}; build it with "
                             f"load_gatys_network(weights, '{content_layer}')")
        return vgg
    return load_gatys_network(vgg, content_layer)


def _image(source, what: str) -> np.ndarray:
    return to_bgr(source) if isinstance(source, np.ndarray) else read_image(source, what=what)


def _to_tensor(bgr: np.ndarray, device: torch.device) -> torch.Tensor:
    rgb = np.ascontiguousarray(bgr[:, :, ::-1])
    return torch.from_numpy(rgb).permute(2, 0, 1)[None].float().div_(255.0).to(device)


def _to_bgr(rgb01: torch.Tensor) -> np.ndarray:
    rgb = rgb01.detach()[0].clamp(0, 1).mul(255.0).round().byte().permute(1, 2, 0).cpu().numpy()
    return np.ascontiguousarray(rgb[:, :, ::-1])


class GatysObjective:
    """Content features and blended style Gram targets at one size; returns the three losses."""

    def __init__(self, vgg: VGG16Features, content01: torch.Tensor, styles01: Sequence[torch.Tensor],
                 style_weights: Sequence[float], content_layer: str):
        self.vgg, self.content_layer = vgg, content_layer
        with torch.no_grad():
            self.content_targets = {content_layer: vgg(content01)[content_layer]}
            # Styles mix in Gram space, as in Johnson's neural-style (-style_blend_weights): a
            # weighted mean of the targets, weights summing to 1 so the loss scale is unchanged.
            self.style_targets: dict[str, torch.Tensor] = {}
            for weight, style in zip(style_weights, styles01):
                for name, gram in gram_targets(vgg(style)).items():
                    self.style_targets[name] = self.style_targets.get(name, 0) + weight * gram

    def __call__(self, x01: torch.Tensor) -> dict[str, torch.Tensor]:
        feats = self.vgg(x01)
        return {"style": gram_style_loss(feats, self.style_targets),
                "content": content_loss(feats, self.content_targets, self.content_layer),
                "tv": total_variation(x01)}


def _weighted_total(parts: dict[str, torch.Tensor], s: PaintSettings) -> torch.Tensor:
    return s.style_weight * parts["style"] + s.content_weight * parts["content"] + s.tv_weight * parts["tv"]


def _floats(parts: dict[str, torch.Tensor], total: torch.Tensor) -> dict[str, float]:
    return {**{k: float(v.detach()) for k, v in parts.items()}, "total": float(total.detach())}


def _level_objective(vgg, content01: torch.Tensor, styles, weights, s: PaintSettings) -> GatysObjective:
    style_side = max(MIN_SIZE, round(max(content01.shape[-2:]) * s.style_scale))
    styles01 = [_to_tensor(resize_long_side(style, style_side), content01.device) for style in styles]
    return GatysObjective(vgg, content01, styles01, weights, s.content_layer)


def _optimize(x: torch.Tensor, objective: GatysObjective, s: PaintSettings, steps: int,
              report: Callable[[int, dict[str, float]], None]) -> torch.Tensor:
    x = x.detach().clone(memory_format=torch.contiguous_format).requires_grad_(True)
    count = 0

    def closure() -> torch.Tensor:
        nonlocal count
        optimizer.zero_grad(set_to_none=True)
        parts = objective(x)
        total = _weighted_total(parts, s)
        excess = (-x).relu().pow(2) + (x - 1).relu().pow(2)
        penalised = total + RANGE_PENALTY * excess.mean()
        penalised.backward()
        count += 1
        report(count, _floats(parts, total))
        return penalised

    if s.optimizer == "lbfgs":
        history = int(max(5, min(LBFGS_MAX_HISTORY, LBFGS_HISTORY_BYTES // (2 * 4 * x.numel()))))
        # No line search and step 1, as in Johnson's neural-style: one VGG pass per step, so
        # ``steps`` bounds the time (it may stop earlier once converged).
        optimizer = torch.optim.LBFGS([x], lr=1.0, max_iter=steps, max_eval=steps, history_size=history)
        optimizer.step(closure)
    else:
        optimizer = torch.optim.Adam([x], lr=s.adam_lr)
        for _ in range(steps):
            optimizer.step(closure)
            with torch.no_grad():
                x.clamp_(0, 1)
    return x.detach().clamp_(0, 1)


def _validate(s: PaintSettings) -> None:
    if not isinstance(s.steps, numbers.Integral) or s.steps <= 0:
        raise InputError(f"steps must be a positive whole number, got {s.steps}")
    if not isinstance(s.size, numbers.Integral) or not MIN_SIZE <= s.size <= MAX_SIZE:
        raise InputError(f"size must be between {MIN_SIZE} and {MAX_SIZE} pixels, got {s.size}")
    if s.optimizer not in OPTIMIZERS:
        raise InputError(f"unknown optimizer '{s.optimizer}'; choose one of {', '.join(OPTIMIZERS)}")
    if s.init not in INITS:
        raise InputError(f"unknown init '{s.init}'; choose one of {', '.join(INITS)}")
    for name in ("style_weight", "content_weight", "tv_weight"):
        value = getattr(s, name)
        if not np.isfinite(value) or value < 0:
            raise InputError(f"{name.replace('_', ' ')} must be a non-negative number, got {value}")
    if not 0.05 <= s.style_scale <= 4:
        raise InputError(f"style scale must be between 0.05 and 4, got {s.style_scale}")
    _check_layer(s.content_layer)


def paint(content, styles: Sequence, vgg, settings: PaintSettings | None = None,
          style_weights: Sequence[float] | None = None, device: str | torch.device = "cpu",
          progress: Callable[[PaintProgress], None] | None = None) -> PaintResult:
    """Stylise ``content`` with the (weighted) ``styles`` by optimising the pixels.

    ``content`` and each style are a path or a BGR uint8 image; ``vgg`` is the shared weights
    file or a network from :func:`load_gatys_network`. Returns the BGR uint8 result at
    ``settings.size`` (long side) and its final losses. Raises InputError for bad input.
    """
    s = settings or PaintSettings()
    _validate(s)
    mode = parse_preserve_color(s.preserve_color)
    content_bgr = _image(content, "content image")
    style_bgrs = [_image(style, "style image") for style in styles]
    weights = mix_weights(style_weights, len(style_bgrs))
    device = torch.device(device)
    net = _network(vgg, s.content_layer).to(device)
    if mode is PreserveColor.HISTOGRAM:
        style_bgrs = [match_color_histogram(style, content_bgr) for style in style_bgrs]

    plan = scale_plan(s.size, s.steps, min(s.coarsest_size, s.size))
    x = None
    for level, (long_side, steps) in enumerate(plan):
        content_level = resize_long_side(content_bgr, long_side)
        if min(content_level.shape[:2]) < MIN_SIDE:
            h, w = content_bgr.shape[:2]
            raise InputError(f"content image is {w}x{h} px: too narrow to paint at {long_side} px "
                             f"(short side below {MIN_SIDE} px); crop it or raise the size")
        content01 = _to_tensor(content_level, device)
        objective = _level_objective(net, content01, style_bgrs, weights, s)
        shape = tuple(content01.shape[-2:])
        if x is not None:
            x = torch.nn.functional.interpolate(x, size=shape, mode="bicubic", align_corners=False)
        elif s.init == "noise":
            gen = torch.Generator().manual_seed(s.seed)
            x = torch.rand((1, 3) + shape, generator=gen).to(device)
        else:
            x = content01

        def report(step: int, losses: dict[str, float], level=level, steps=steps) -> None:
            if progress is not None:
                progress(PaintProgress(level, len(plan), shape[0], shape[1], step, steps, losses))

        x = _optimize(x, objective, s, steps, report)

    result = apply_preserve_color(mode if mode is PreserveColor.LUMINANCE else None,
                                  _to_bgr(x), resize_long_side(content_bgr, s.size))
    with torch.no_grad():
        parts = objective(_to_tensor(result, device))
    return PaintResult(result, _floats(parts, _weighted_total(parts, s)))


def measure_losses(image, content, styles: Sequence, vgg, style_weights: Sequence[float] | None = None,
                   settings: PaintSettings | None = None, device: str | torch.device = "cpu") -> dict[str, float]:
    """Style, content and TV losses of ``image`` against ``content`` and the blended ``styles``.

    Measured at the image's own long side, with the style images scaled as :func:`paint` scales
    them, so the unstylised photo and a result can be compared on one footing.
    """
    s = settings or PaintSettings()
    image_bgr = _image(image, "image")
    weights = mix_weights(style_weights, len(styles))
    device = torch.device(device)
    net = _network(vgg, s.content_layer).to(device)
    h, w = image_bgr.shape[:2]
    content_bgr = _image(content, "content image")
    if content_bgr.shape[:2] != (h, w):
        content_bgr = cv2.resize(content_bgr, (w, h), interpolation=cv2.INTER_AREA)
    objective = _level_objective(net, _to_tensor(content_bgr, device),
                                 [_image(style, "style image") for style in styles], weights, s)
    with torch.no_grad():
        parts = objective(_to_tensor(image_bgr, device))
    return _floats(parts, _weighted_total(parts, s))
