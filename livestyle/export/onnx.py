"""Export livestyle nets to ONNX, prove the graph matches PyTorch, and describe it in a manifest.

Every feed-forward graph speaks one convention: input ``image`` float32 [N, 3, H, W] RGB 0..255
(H, W multiples of 4), output ``stylized`` float32 of the same shape, clamped to 0..255. fp16
graphs keep float32 inputs/outputs and cast inside, so callers never see the precision.
A graph that fails its parity check is never written under its final name.
"""

from __future__ import annotations

import copy
import hashlib
import json
import os
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn as nn

from ..errors import ModelError, OutputError, ParityError

OPSET = 17
FP32_TOLERANCE = 1.0   # grey levels on 0..255
FP16_TOLERANCE = 4.0
SIZE_MULTIPLE = 4


class StylizeGraph(nn.Module):
    """Wraps a net as the exported image -> stylized graph, with optional fp16 compute."""

    def __init__(self, net: nn.Module, fp16: bool = False):
        super().__init__()
        self.net = net.half() if fp16 else net
        self.fp16 = fp16

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        x = image.half() if self.fp16 else image
        return self.net(x).float().clamp(0.0, 255.0)


@dataclass
class ExportSpec:
    """What to export: a module, its example inputs and the names/axes of its graph I/O."""

    module: nn.Module
    example_inputs: tuple[torch.Tensor, ...]
    input_names: list[str]
    output_names: list[str]
    dynamic_axes: dict[str, dict[int, str]]


def image_spec(net: nn.Module, fp16: bool = False) -> ExportSpec:
    example = torch.rand(1, 3, 64, 64) * 255
    axes = {0: "batch", 2: "height", 3: "width"}
    return ExportSpec(StylizeGraph(net, fp16).eval(), (example,), ["image"], ["stylized"],
                      {"image": axes, "stylized": axes})


def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _export_graph(spec: ExportSpec, path: Path) -> None:
    import onnx

    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")  # the legacy exporter warns about slice folding; harmless
        torch.onnx.export(spec.module, spec.example_inputs, str(path), input_names=spec.input_names,
                          output_names=spec.output_names, dynamic_axes=spec.dynamic_axes,
                          opset_version=OPSET, dynamo=False)
    onnx.checker.check_model(onnx.load(str(path)), full_check=True)


def parity_images(shared: Path | None, count: int = 3, long_side: int = 256) -> list[np.ndarray]:
    """Real photos (RGB float 0..255, HxWx3, sides multiples of 4) for parity checks.

    Odd sizes after resizing are cropped to the multiple, since graph inputs must be multiples
    of 4; a synthetic gradient image stands in when the shared photos are absent.
    """
    import cv2

    images = []
    folder = (shared / "content" / "eval") if shared else None
    if folder and folder.is_dir():
        for p in sorted(folder.glob("*.jpg"))[:count]:
            bgr = cv2.imread(str(p))
            f = long_side / max(bgr.shape[:2])
            bgr = cv2.resize(bgr, None, fx=f, fy=f, interpolation=cv2.INTER_AREA)
            h, w = (s // SIZE_MULTIPLE * SIZE_MULTIPLE for s in bgr.shape[:2])
            images.append(bgr[:h, :w, ::-1].astype(np.float32))
    if not images:
        yy, xx = np.mgrid[0:long_side, 0:long_side * 3 // 4].astype(np.float32)
        images.append(np.stack([yy, xx, (yy + xx) / 2], -1) % 256)
    return images


def check_parity(reference: nn.Module, onnx_path: Path, images: list[np.ndarray], tolerance: float,
                 extra_inputs: dict[str, np.ndarray] | None = None) -> float:
    """Max |onnxruntime - PyTorch fp32| over the images, in grey levels; raises past tolerance."""
    import onnxruntime as ort

    session = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    worst = 0.0
    for img in images:
        x = np.ascontiguousarray(img.transpose(2, 0, 1)[None])
        feeds = {"image": x, **(extra_inputs or {})}
        got = session.run(None, feeds)[0]
        with torch.no_grad():
            torch_inputs = [torch.from_numpy(v) for v in feeds.values()]
            want = reference(*torch_inputs).float().clamp(0, 255).numpy()
        worst = max(worst, float(np.abs(got - want).max()))
    if worst > tolerance:
        raise ParityError(f"ONNX graph {onnx_path.name} differs from PyTorch by {worst:.2f} grey levels "
                          f"(allowed {tolerance}); not writing it")
    return worst


def export_checked(spec: ExportSpec, reference: nn.Module, out_path: Path, fp16: bool,
                   images: list[np.ndarray], extra_inputs: dict[str, np.ndarray] | None = None) -> dict:
    """Export to a temporary file, check it, then rename. Returns the manifest entry's facts."""
    out_path = Path(out_path)
    try:
        out_path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"cannot create {out_path.parent}: {exc.strerror}") from exc
    tmp = out_path.with_name(f".{out_path.name}.tmp{os.getpid()}")
    try:
        _export_graph(spec, tmp)
        diff = check_parity(reference, tmp, images, FP16_TOLERANCE if fp16 else FP32_TOLERANCE, extra_inputs)
        os.replace(tmp, out_path)
    except OSError as exc:
        raise OutputError(f"cannot write {out_path}: {exc.strerror}") from exc
    finally:
        tmp.unlink(missing_ok=True)
    return {"file": out_path.name, "sha256": sha256(out_path), "opset": OPSET,
            "precision": "fp16" if fp16 else "fp32", "parity_max_abs_diff": round(diff, 4),
            "inputs": {"image": {"layout": "NCHW", "channels": "RGB", "dtype": "float32",
                                 "range": [0, 255], "size_multiple": SIZE_MULTIPLE},
                       **{k: {"dtype": str(v.dtype), "shape": list(v.shape)}
                          for k, v in (extra_inputs or {}).items()}},
            "outputs": {"stylized": {"layout": "NCHW", "channels": "RGB", "dtype": "float32",
                                     "range": [0, 255]}}}


def export_image_net(net: nn.Module, out_path: Path, fp16: bool, shared: Path | None) -> dict:
    """Export a feed-forward style net (Johnson or Engstrom) with its parity check."""
    net = net.float().eval()
    reference = StylizeGraph(net).eval()
    spec = image_spec(copy.deepcopy(net), fp16)
    return export_checked(spec, reference, out_path, fp16, parity_images(shared))


def write_manifest_entry(manifest_path: Path, name: str, entry: dict) -> None:
    """Merge one model's entry into a manifest.json (written atomically)."""
    manifest = {}
    if manifest_path.is_file():
        try:
            manifest = json.loads(manifest_path.read_text())
        except json.JSONDecodeError as exc:
            raise ModelError(f"{manifest_path} is not valid JSON; delete it and re-export") from exc
    manifest.setdefault("format", "livestyle-manifest/1")
    manifest.setdefault("models", {})[name] = entry
    tmp = manifest_path.with_name(f".{manifest_path.name}.tmp{os.getpid()}")
    tmp.write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    os.replace(tmp, manifest_path)
