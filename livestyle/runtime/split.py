"""Stylizers whose net runs as two graphs, encoder -> features -> decoder.

AdaIN needs the split (the style statistics enter between the graphs). Splitting also lets a
blender work on the features instead of the output (``blend_space="feature"``), kept for the
temporal evaluation: measured, it steadies less than blending the output (docs/temporal.md).
"""

from __future__ import annotations

import numpy as np

from .engine import Engine
from .stylizer import FrameBlender, Stylizer


class SplitStylizer(Stylizer):
    """encoder graph (``image`` + extra feeds -> ``features``), decoder graph, optional blender."""

    def __init__(self, encoder: Engine, decoder: Engine, name: str, size: int | None = None,
                 preserve_color: str | None = None, blender: FrameBlender | None = None,
                 blend_space: str = "output"):
        super().__init__(name, size=size, preserve_color=preserve_color, blender=blender)
        if blend_space not in ("output", "feature"):
            raise ValueError(f"blend_space must be 'output' or 'feature', got {blend_space!r}")
        self.encoder, self.decoder = encoder, decoder
        self.blend_space = blend_space

    @property
    def backend(self) -> str:
        return self.encoder.backend

    def extra_feeds(self, batch: int) -> dict[str, np.ndarray]:
        """Graph inputs besides the image that the encoder takes (AdaIN: the style statistics)."""
        return {}

    def run_graph(self, batch: np.ndarray) -> np.ndarray:
        features = self.encoder.run({"image": batch, **self.extra_feeds(len(batch))})[0]
        if self.blender is not None and self.blend_space == "feature":
            features = np.stack([self.blender(f, img) for f, img in zip(features, batch)])
        return self.decoder.run({"features": features})[0]
