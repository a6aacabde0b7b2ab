"""Arbitrary style from any painting (AdaIN): style statistics once per style, then per frame
encoder -> AdaIN (style mean/std as graph inputs) -> optional blending -> decoder.
"""

from __future__ import annotations

import copy

import numpy as np

from ..errors import InputError
from ..imageops import resize_long_side
from ..mixing import mix_weights
from .engine import Engine
from .split import SplitStylizer
from .stylizer import FrameBlender

STYLE_SIZE = 512   # long side the painting is encoded at; strokes scale with it
MIN_STYLE_SIDE = 32


def style_tensor(style_bgr: np.ndarray, style_size: int = STYLE_SIZE) -> np.ndarray:
    """Painting (BGR uint8) -> [1, 3, H, W] float RGB 0..255 at ``style_size`` long side."""
    h, w = style_bgr.shape[:2]
    if min(h, w) < MIN_STYLE_SIDE:
        raise InputError(f"style image is only {w}x{h} px; use one of at least {MIN_STYLE_SIDE} px")
    rgb = resize_long_side(style_bgr, style_size)[:, :, ::-1].astype(np.float32).transpose(2, 0, 1)
    return np.ascontiguousarray(rgb[None])


class AdaINStylizer(SplitStylizer):
    """Any painting as the style; ``set_style`` swaps it live (the cam's 'load style image')."""

    size_multiple = 8   # relu4_1 is 1/8 resolution: sides must divide by 8 to come back whole

    def __init__(self, style_graph: Engine, encoder: Engine, decoder: Engine, size: int | None = None,
                 preserve_color: str | None = None, alpha: float = 1.0,
                 blender: FrameBlender | None = None, style_size: int = STYLE_SIZE):
        super().__init__(encoder, decoder, "adain", size=size, preserve_color=preserve_color, blender=blender)
        if not 0.0 <= alpha <= 1.0:
            raise InputError(f"--alpha must be in 0..1, got {alpha}")
        self.style_graph, self.style_size = style_graph, style_size
        self.alpha = np.array([alpha], np.float32)
        self.style_mean: np.ndarray | None = None
        self.style_std: np.ndarray | None = None

    def style_stats(self, style_bgr: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        stats = self.style_graph.run({"image": style_tensor(style_bgr, self.style_size)})[0]
        c = stats.shape[1] // 2
        return stats[:, :c], stats[:, c:]

    def set_style(self, styles: list[np.ndarray], weights: list[float] | None = None,
                  name: str | None = None) -> None:
        """Encode the painting(s) once. Several are mixed by weight: AdaIN's output is affine in the
        style mean and std, so mixing the statistics equals mixing the AdaIN outputs (Huang &
        Belongie 2017, sec. 7)."""
        if not styles:
            raise InputError("give at least one style image")
        w = np.asarray(mix_weights(weights, len(styles)), np.float32)
        stats = [self.style_stats(s) for s in styles]
        self.style_mean = np.ascontiguousarray(sum(wi * m for wi, (m, _) in zip(w, stats)), np.float32)
        self.style_std = np.ascontiguousarray(sum(wi * s for wi, (_, s) in zip(w, stats)), np.float32)
        self.name = name or "adain"
        self.reset()  # features of the old style must not bleed into the new one

    def with_style(self, styles: list[np.ndarray], weights: list[float] | None = None,
                   name: str | None = None) -> "AdaINStylizer":
        """A stylizer for other painting(s) sharing this one's graphs: switching costs one style
        encoding, not three new sessions."""
        other = copy.copy(self)
        other.set_style(styles, weights, name)
        return other

    def extra_feeds(self, batch: int) -> dict[str, np.ndarray]:
        if self.style_mean is None:
            raise InputError("no style image set; call set_style() first")
        return {"style_mean": self.style_mean, "style_std": self.style_std, "alpha": self.alpha}

