"""A style net as its two graphs, so a measurement can blend between encoder and decoder.

The runtime's stylizers hide the split; the temporal measurements need the features and the
decoded output of every frame, with and without blending, from one encoding.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..runtime import registry
from ..runtime.engine import Engine


@dataclass
class SplitNet:
    """A fixed style's encoder and decoder graphs, run by hand on single frames (CPU)."""

    name: str
    encoder: Engine
    decoder: Engine
    style_image: Path

    def encode(self, chw255: np.ndarray) -> np.ndarray:
        return self.encoder.run({"image": chw255[None]})[0][0]

    def decode(self, features: np.ndarray) -> np.ndarray:
        return self.decoder.run({"features": features[None]})[0][0]


def load_split_net(name: str, shared: Path) -> SplitNet:
    info = registry.resolve_style(name, shared)
    enc, dec = registry.split_onnx_for(info)
    style = info.meta.get("style_image") or f"{name.removesuffix('_engstrom')}.jpg"
    return SplitNet(name, Engine(enc, device="cpu"), Engine(dec, device="cpu"), shared / "styles" / style)
