"""A style net as its two graphs, so a measurement can blend between encoder and decoder.

The runtime's stylizers hide the split; the temporal measurements need the features and the
decoded output of every frame, with and without blending, from one encoding.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from ..runtime import registry
from ..runtime.engine import Engine


@dataclass
class SplitNet:
    """A fixed style's encoder and decoder graphs, run by hand on single frames (CPU).

    Frames are reflection-padded to the graph's ``size_multiple`` (as the stylizers pad them) and
    outputs cropped back: a stride-8 net on a 348-row frame would otherwise paint 352 rows.
    """

    name: str
    encoder: Engine
    decoder: Engine
    style_image: Path
    size_multiple: int = registry.SIZE_MULTIPLE

    def encode(self, chw255: np.ndarray) -> np.ndarray:
        h, w = chw255.shape[1:]
        pad_h, pad_w = (-h) % self.size_multiple, (-w) % self.size_multiple
        if pad_h or pad_w:
            planes = [cv2.copyMakeBorder(p, 0, pad_h, 0, pad_w, cv2.BORDER_REFLECT_101) for p in chw255]
            chw255 = np.stack(planes).astype(np.float32, copy=False)
        return self.encoder.run({"image": chw255[None]})[0][0]

    def decode(self, features: np.ndarray, frame_hw: tuple[int, int] | None = None) -> np.ndarray:
        """The output for ``features``, cropped to ``frame_hw`` (the encoded frame's size) if given."""
        out = self.decoder.run({"features": features[None]})[0][0]
        return out if frame_hw is None else out[:, :frame_hw[0], :frame_hw[1]]


def load_split_net(name: str, shared: Path) -> SplitNet:
    info = registry.resolve_style(name, shared)
    enc, dec = registry.split_onnx_for(info)
    style = info.meta.get("style_image") or f"{name.removesuffix('_engstrom')}.jpg"
    return SplitNet(name, Engine(enc, device="cpu"), Engine(dec, device="cpu"), shared / "styles" / style,
                    registry.size_multiple(info))
