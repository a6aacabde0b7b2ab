"""int8 graphs for the CPU: static QDQ quantisation calibrated on real photos, with a check.

On CPUs with VNNI, onnxruntime runs int8 convolutions faster than fp32: a gain for the full nets,
none for the depthwise-separable fast ones (docs/performance.md). int8 cannot match fp32 to a grey
level, so the check is on the mean difference over held-out photos instead of the maximum; a graph
that fails it is not written.
"""

from __future__ import annotations

import contextlib
import logging
import tempfile
from pathlib import Path

import numpy as np

from ..errors import ModelError, ParityError
from .onnx import write_checked_file

INT8_MEAN_TOLERANCE = 10.0   # grey levels, mean |int8 - fp32| over the check images


def _reader(feeds_list: list[dict[str, np.ndarray]]):
    from onnxruntime.quantization import CalibrationDataReader

    class Reader(CalibrationDataReader):
        def __init__(self):
            self._it = iter(feeds_list)

        def get_next(self):
            return next(self._it, None)

    return Reader()


def quantize_int8(src: Path, dst: Path, calibration: list[dict[str, np.ndarray]],
                  check: list[dict[str, np.ndarray]] | None = None, image_output: bool = True) -> float:
    """Quantise ``src`` into ``dst``; returns the mean |int8 - fp32| on ``check`` feeds.

    ``image_output`` graphs are checked in grey levels; feature graphs relative to their range.
    """
    import onnxruntime as ort
    from onnxruntime.quantization import QuantFormat, QuantType, quantize_static
    from onnxruntime.quantization.shape_inference import quant_pre_process

    if not calibration:
        raise ModelError("int8 needs calibration photos; pass --shared-dir (its content/eval photos)")
    check = check or calibration

    def build(tmp_out: Path) -> float:
        with tempfile.TemporaryDirectory() as tmp, _quiet_root_logger():
            pre = Path(tmp) / "pre.onnx"
            quant_pre_process(str(src), str(pre), skip_symbolic_shape=True)
            quantize_static(str(pre), str(tmp_out), _reader(calibration), quant_format=QuantFormat.QDQ,
                            per_channel=True, activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8)
        ref = ort.InferenceSession(str(src), providers=["CPUExecutionProvider"])
        got = ort.InferenceSession(str(tmp_out), providers=["CPUExecutionProvider"])
        diffs = []
        for feeds in check:
            a, b = ref.run(None, feeds)[0], got.run(None, feeds)[0]
            scale = 1.0 if image_output else max(float(np.abs(a).max()), 1e-6) / 255.0
            diffs.append(float(np.abs(a - b).mean()) / scale)
        diff = float(np.mean(diffs))
        if diff > INT8_MEAN_TOLERANCE:
            raise ParityError(f"int8 graph of {src.name} differs from fp32 by {diff:.1f} grey levels on "
                              f"average (allowed {INT8_MEAN_TOLERANCE}); not writing it")
        return diff

    return write_checked_file(dst, build)


@contextlib.contextmanager
def _quiet_root_logger():
    """The quantiser warns on the root logger about 1-D (norm) weights it rightly skips."""
    logging.disable(logging.WARNING)
    try:
        yield
    finally:
        logging.disable(logging.NOTSET)


def calibration_feeds(shared: Path | None, count: int = 8, size: tuple[int, int] = (640, 360)) -> list[dict]:
    """Photos from the shared eval set at a webcam size, as graph feeds (empty when absent)."""
    import cv2

    folder = shared / "content" / "eval" if shared else None
    if not folder or not folder.is_dir():
        return []
    feeds = []
    for p in sorted(folder.glob("*.jpg"))[:count]:
        bgr = cv2.resize(cv2.imread(str(p)), size, interpolation=cv2.INTER_AREA)
        feeds.append({"image": np.ascontiguousarray(bgr[:, :, ::-1].transpose(2, 0, 1)[None], np.float32)})
    return feeds
