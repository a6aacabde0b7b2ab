"""Stylizers whose net runs as two graphs, encoder -> features -> decoder.

Splitting at a feature level lets the runtime work on features between the graphs: temporal
blending (``runtime/temporal.py``) mixes each frame's features with the previous frame's, warped
by optical flow, which steadies the strokes far more than smoothing output pixels would.
"""

from __future__ import annotations

from typing import Protocol

import numpy as np

from .engine import Engine
from .stylizer import Stylizer


class FeatureBlender(Protocol):
    def __call__(self, features: np.ndarray, image: np.ndarray) -> np.ndarray:
        """features [C, h, w] of ``image`` [3, H, W] (RGB 0..255) -> blended features."""

    def reset(self) -> None:
        """Forget the history (new clip, new style)."""


class SplitStylizer(Stylizer):
    """encoder graph (``image`` + extra feeds -> ``features``), optional blender, decoder graph."""

    def __init__(self, encoder: Engine, decoder: Engine, name: str, size: int | None = None,
                 preserve_color: str | None = None, blender: FeatureBlender | None = None):
        super().__init__(encoder, name, size=size, preserve_color=preserve_color)
        self.decoder = decoder
        self.blender = blender

    def run_graph(self, batch: np.ndarray) -> np.ndarray:
        features = self.engine.run({"image": batch, **self.extra_feeds(len(batch))})[0]
        if self.blender is not None:
            # Frames of a batch are consecutive, so each one blends with the one before it.
            features = np.stack([self.blender(f, img) for f, img in zip(features, batch)])
        return self.decoder.run({"features": features})[0]

    def reset(self) -> None:
        if self.blender is not None:
            self.blender.reset()
