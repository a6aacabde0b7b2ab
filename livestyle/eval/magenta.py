"""Magenta's nets from the shared folder (``<shared>/weights/extras``): the CPU anchors livestyle
is measured against.

* :class:`MagentaArbitrary` (Ghiasi et al. 2017), the anchor of the arbitrary-style path for
  quality and speed: a style predictor (painting at 256x256 -> a 100-d style code, once per
  painting) and a transform that takes content at a fixed 384x384, so photos are resized to it
  and the result back to the photo's size.
* :class:`Magenta26` (Dumoulin et al. 2017, 26 styles in one net), the speed anchor of the fixed
  styles: any frame size, style 0.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from ..errors import InputError

TRANSFORM_SIDE = 384
PREDICT_SIDE = 256


def _nhwc01(bgr: np.ndarray, side: int) -> np.ndarray:
    rgb = cv2.resize(bgr, (side, side), interpolation=cv2.INTER_AREA)[:, :, ::-1]
    return np.ascontiguousarray(rgb[None].astype(np.float32) / 255.0)


def _extras(shared: Path, *names: str) -> list[Path]:
    paths = [Path(shared) / "weights" / "extras" / n for n in names]
    missing = [p for p in paths if not p.is_file()]
    if missing:
        raise InputError(f"{missing[0]} not found; the Magenta anchor needs the shared folder (--shared-dir)")
    return paths


class Magenta26:
    """``Magenta26(shared)(frame_bgr) -> stylised BGR`` (style 0) at the frame's size."""

    def __init__(self, shared: Path):
        import onnxruntime as ort

        path, = _extras(shared, "magenta_multistyle26.onnx")
        self.session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        self.weights = np.eye(26, dtype=np.float32)[0]

    @staticmethod
    def prepared_input(bgr: np.ndarray) -> np.ndarray:
        return np.ascontiguousarray(bgr[:, :, ::-1].transpose(2, 0, 1)[None], np.float32) / 255.0

    def transform_only(self, nchw01: np.ndarray) -> np.ndarray:
        """The model alone on a prepared input (what the speed anchor times)."""
        return self.session.run(None, {"image": nchw01, "style_weights": self.weights})[0]

    def __call__(self, bgr: np.ndarray) -> np.ndarray:
        y = self.transform_only(self.prepared_input(bgr))[0]
        return np.ascontiguousarray((np.clip(y, 0, 1) * 255).astype(np.uint8).transpose(1, 2, 0)[:, :, ::-1])


class MagentaArbitrary:
    """``MagentaArbitrary(shared, painting_bgr)(photo_bgr) -> stylised BGR`` at the photo's size."""

    def __init__(self, shared: Path, painting_bgr: np.ndarray, threads: int | None = None):
        import onnxruntime as ort

        paths = _extras(shared, "magenta_arbitrary_predict.onnx", "magenta_arbitrary_transform.onnx")
        options = ort.SessionOptions()
        if threads:
            options.intra_op_num_threads = threads
        predict, self.transform = (ort.InferenceSession(str(p), options, providers=["CPUExecutionProvider"])
                                   for p in paths)
        self.code = predict.run(None, {"style_image": _nhwc01(painting_bgr, PREDICT_SIDE)})[0]
        self._code_name = self.transform.get_inputs()[1].name

    def transform_only(self, content_nhwc01: np.ndarray) -> np.ndarray:
        """The model alone on a prepared 384x384 input (what the speed anchor times)."""
        return self.transform.run(None, {"content_image": content_nhwc01, self._code_name: self.code})[0]

    def __call__(self, bgr: np.ndarray) -> np.ndarray:
        out = self.transform_only(_nhwc01(bgr, TRANSFORM_SIDE))
        rgb = np.clip(out[0] * 255.0, 0, 255).round().astype(np.uint8)
        return cv2.resize(rgb[:, :, ::-1], (bgr.shape[1], bgr.shape[0]), interpolation=cv2.INTER_CUBIC)

    @staticmethod
    def prepared_input(bgr: np.ndarray) -> np.ndarray:
        return _nhwc01(bgr, TRANSFORM_SIDE)
