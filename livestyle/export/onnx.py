"""Export livestyle nets to ONNX, prove the graph matches PyTorch, and describe it in a manifest.

Every feed-forward graph speaks one convention: input ``image`` float32 [N, 3, H, W] RGB 0..255
(H, W multiples of 4), output ``stylized`` float32 of the same shape, clamped to 0..255. fp16
graphs keep float32 inputs/outputs and cast inside, so callers never see the precision.
A graph that fails its parity check is never written under its final name.
"""

from __future__ import annotations

import copy
import json
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import torch
import torch.nn as nn

from ..errors import ModelError, ParityError
# export/adain_light.py takes ``sha256`` from here.
from ..fileio import sha256_file as sha256
from ..fileio import write_atomically

OPSET = 17
FP32_TOLERANCE = 1.0   # grey levels on 0..255
FP16_TOLERANCE = 4.0
SIZE_MULTIPLE = 4
PARITY_MULTIPLE = 8   # the largest stride of any livestyle graph (AdaIN's relu4_1, light8 students)


def size_multiple_of(net: nn.Module) -> int:
    """The graph's total stride, which its input sides must divide by: a TransformerNet says
    (``config.stride``), the other nets are stride 4."""
    config = getattr(net, "config", None)
    return getattr(config, "stride", SIZE_MULTIPLE)


class StylizeGraph(nn.Module):
    """Wraps a net (or one of its methods) as an exported graph, with optional fp16 compute.

    Float inputs are cast to half inside the graph and outputs back to float, so callers never
    see the precision; ``clamp`` bounds image outputs to 0..255 (features stay unbounded).
    """

    def __init__(self, net: nn.Module, fp16: bool = False, method: str = "forward", clamp: bool = True):
        super().__init__()
        self.net = net.half() if fp16 else net
        self.fp16, self.method, self.clamp = fp16, method, clamp

    def forward(self, *inputs: torch.Tensor) -> torch.Tensor:
        if self.fp16:
            inputs = tuple(x.half() for x in inputs)
        out = getattr(self.net, self.method)(*inputs).float()
        return out.clamp(0.0, 255.0) if self.clamp else out


@dataclass
class ExportSpec:
    """What to export: a module, its example inputs and the names/axes of its graph I/O."""

    module: nn.Module
    example_inputs: tuple[torch.Tensor, ...]
    input_names: list[str]
    output_names: list[str]
    dynamic_axes: dict[str, dict[int, str]]


IMAGE_AXES = {0: "batch", 2: "height", 3: "width"}   # what varies in an image or feature map


def image_spec(net: nn.Module, fp16: bool = False) -> ExportSpec:
    example = torch.rand(1, 3, 64, 64) * 255
    return ExportSpec(StylizeGraph(net, fp16).eval(), (example,), ["image"], ["stylized"],
                      {"image": IMAGE_AXES, "stylized": IMAGE_AXES})


def graph_spec(module: nn.Module, feeds: dict[str, np.ndarray], output_names: tuple[str, ...] = ("stylized",)
               ) -> ExportSpec:
    """What to export of ``module`` (a :class:`StylizeGraph`, say) fed ``feeds``: example values by
    input name, in the order ``module`` takes them. The ``image`` input and the outputs get dynamic
    batch, height and width; other inputs (style statistics, say) keep the example's shape."""
    device = next(module.parameters()).device
    example = tuple(torch.from_numpy(v).to(device) for v in feeds.values())
    dynamic = [name for name in feeds if name == "image"] + list(output_names)
    return ExportSpec(module, example, list(feeds), list(output_names), {name: IMAGE_AXES for name in dynamic})


def export_graph(spec: ExportSpec, path: Path) -> None:
    """Export ``spec`` to ONNX at ``path`` (opset :data:`OPSET`) and check the model; no parity
    check (:func:`write_checked` adds one)."""
    import onnx

    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")  # the legacy exporter warns about slice folding; harmless
        torch.onnx.export(spec.module, spec.example_inputs, str(path), input_names=spec.input_names,
                          output_names=spec.output_names, dynamic_axes=spec.dynamic_axes,
                          opset_version=OPSET, dynamo=False)
    onnx.checker.check_model(onnx.load(str(path)), full_check=True)


def parity_images(shared: Path | None, count: int = 3, long_side: int = 256) -> list[np.ndarray]:
    """Real photos (RGB float 0..255, HxWx3, sides multiples of 8) for parity checks.

    Odd sizes after resizing are cropped to the multiple, since graph inputs must be multiples
    of the graph's stride (4 or 8); a synthetic gradient image stands in when the shared photos
    are absent.
    """
    import cv2

    from ..imageops import resize_long_side

    images = []
    folder = (shared / "content" / "eval") if shared else None
    if folder and folder.is_dir():
        for p in sorted(folder.glob("*.jpg"))[:count]:
            bgr = resize_long_side(cv2.imread(str(p)), long_side, enlarge=cv2.INTER_AREA)
            h, w = (s // PARITY_MULTIPLE * PARITY_MULTIPLE for s in bgr.shape[:2])
            images.append(bgr[:h, :w, ::-1].astype(np.float32))
    if not images:
        yy, xx = np.mgrid[0:long_side, 0:long_side * 3 // 4].astype(np.float32)
        images.append(np.stack([yy, xx, (yy + xx) / 2], -1) % 256)
    return images


def check_parity(reference: nn.Module, onnx_path: Path, images: list[np.ndarray], tolerance: float,
                 extra_inputs: dict[str, np.ndarray] | None = None) -> float:
    """Max |onnxruntime - PyTorch fp32| over the images, in grey levels; raises past tolerance."""
    feeds = [{"image": np.ascontiguousarray(img.transpose(2, 0, 1)[None]), **(extra_inputs or {})}
             for img in images]
    return check_feeds_parity(reference, onnx_path, feeds, tolerance)


def check_feeds_parity(reference: nn.Module, onnx_path: Path, feeds_list: list[dict[str, np.ndarray]],
                       tolerance: float, relative: bool = False) -> float:
    """Max |onnxruntime - PyTorch| of the first output over the feeds; raises past tolerance.

    ``relative`` divides by the reference's largest magnitude: right for feature maps, whose
    scale (hundreds on the Caffe-scale VGG) makes grey-level tolerances meaningless.
    """
    import onnxruntime as ort

    session = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    worst = 0.0
    for feeds in feeds_list:
        got = session.run(None, feeds)[0]
        with torch.no_grad():
            want = reference(*[torch.from_numpy(v) for v in feeds.values()]).float().numpy()
        diff = float(np.abs(got - want).max())
        if relative:
            diff /= max(float(np.abs(want).max()), 1e-6)
        worst = max(worst, diff)
    if worst > tolerance:
        unit = "relative to the largest value" if relative else "grey levels"
        raise ParityError(f"ONNX graph {onnx_path.name} differs from PyTorch by {worst:.4g} {unit} "
                          f"(allowed {tolerance}); not writing it")
    return worst


def write_checked_file(out_path: Path, build: Callable[[Path], float]) -> float:
    """``build(tmp)`` writes and checks the graph (raising on failure) under a temporary name;
    only a graph that passed is renamed to ``out_path``."""
    return write_atomically(out_path, build)


def write_checked(spec: ExportSpec, out_path: Path, check: Callable[[Path], float]) -> float:
    """Export to a temporary file, run ``check`` on it (raises on failure), then rename."""
    def build(tmp: Path) -> float:
        export_graph(spec, tmp)
        return check(tmp)
    return write_checked_file(out_path, build)


def _io_facts(extra_inputs: dict[str, np.ndarray] | None) -> dict:
    return {k: {"dtype": str(v.dtype), "shape": list(v.shape)} for k, v in (extra_inputs or {}).items()}


IMAGE_IO = {"layout": "NCHW", "channels": "RGB", "dtype": "float32", "range": [0, 255]}


def export_checked(spec: ExportSpec, reference: nn.Module, out_path: Path, fp16: bool,
                   images: list[np.ndarray], extra_inputs: dict[str, np.ndarray] | None = None,
                   size_multiple: int = SIZE_MULTIPLE) -> dict:
    """Export an image -> stylized graph with its parity check. Returns the manifest entry's facts."""
    tolerance = FP16_TOLERANCE if fp16 else FP32_TOLERANCE
    diff = write_checked(spec, out_path,
                         lambda tmp: check_parity(reference, tmp, images, tolerance, extra_inputs))
    return {"file": Path(out_path).name, "sha256": sha256(Path(out_path)), "opset": OPSET,
            "precision": "fp16" if fp16 else "fp32", "parity_max_abs_diff": round(diff, 4),
            "inputs": {"image": {**IMAGE_IO, "size_multiple": size_multiple}, **_io_facts(extra_inputs)},
            "outputs": {"stylized": IMAGE_IO}}


def export_image_net(net: nn.Module, out_path: Path, fp16: bool, shared: Path | None) -> dict:
    """Export a feed-forward style net (Johnson or Engstrom) with its parity check."""
    net = net.float().eval()
    reference = StylizeGraph(net).eval()
    spec = image_spec(copy.deepcopy(net), fp16)
    return export_checked(spec, reference, out_path, fp16, parity_images(shared),
                          size_multiple=size_multiple_of(net))


FEATURE_TOLERANCE = {False: 1e-3, True: 2e-2}   # fp32 / fp16, relative to the largest feature


def export_split(net: nn.Module, encoder_path: Path, decoder_path: Path, fp16: bool,
                 images: list[np.ndarray], extra_inputs: dict[str, np.ndarray] | None = None,
                 encode: str = "encode", decode: str = "decode") -> dict:
    """Export ``net`` as two graphs, image (+ extras) -> ``features`` and ``features`` -> ``stylized``.

    The runtime works between the two (temporal blending of features). Each graph gets its own
    parity check, and the chained ONNX pair is checked end to end against PyTorch in grey levels.
    """
    net = net.float().eval()
    ref_enc = StylizeGraph(net, method=encode, clamp=False).eval()
    ref_dec = StylizeGraph(net, method=decode).eval()
    extra = extra_inputs or {}
    enc_feeds = [{"image": np.ascontiguousarray(img.transpose(2, 0, 1)[None]), **extra} for img in images]
    with torch.no_grad():
        features = [ref_enc(*[torch.from_numpy(v) for v in f.values()]).numpy() for f in enc_feeds]
    axes = IMAGE_AXES
    enc_spec = ExportSpec(StylizeGraph(copy.deepcopy(net), fp16, encode, clamp=False).eval(),
                          tuple(torch.from_numpy(v) for v in enc_feeds[0].values()),
                          list(enc_feeds[0]), ["features"], {"image": axes, "features": axes})
    dec_spec = ExportSpec(StylizeGraph(copy.deepcopy(net), fp16, decode).eval(),
                          (torch.from_numpy(features[0]),), ["features"], ["stylized"],
                          {"features": axes, "stylized": axes})
    enc_diff = write_checked(enc_spec, encoder_path, lambda tmp: check_feeds_parity(
        ref_enc, tmp, enc_feeds, FEATURE_TOLERANCE[fp16], relative=True))
    tolerance = FP16_TOLERANCE if fp16 else FP32_TOLERANCE
    try:
        dec_diff = write_checked(dec_spec, decoder_path, lambda tmp: check_feeds_parity(
            ref_dec, tmp, [{"features": f} for f in features], tolerance))
        chained = _chained_diff(Path(encoder_path), Path(decoder_path), enc_feeds,
                                StylizeGraph(_Chain(net, encode, decode)).eval())
        if chained > tolerance:
            raise ParityError(f"the exported encoder+decoder pair differs from PyTorch by {chained:.2f} "
                              f"grey levels (allowed {tolerance})")
    except Exception:
        Path(encoder_path).unlink(missing_ok=True)  # never leave half a pair behind
        Path(decoder_path).unlink(missing_ok=True)
        raise
    return {"encoder": Path(encoder_path).name, "decoder": Path(decoder_path).name, "opset": OPSET,
            "precision": "fp16" if fp16 else "fp32", "encoder_parity_rel": round(enc_diff, 6),
            "decoder_parity_max_abs_diff": round(dec_diff, 4), "chained_parity_max_abs_diff": round(chained, 4),
            "inputs": {"image": {**IMAGE_IO, "size_multiple": size_multiple_of(net)}, **_io_facts(extra)},
            "outputs": {"stylized": IMAGE_IO}}


class _Chain(nn.Module):
    def __init__(self, net: nn.Module, encode: str, decode: str):
        super().__init__()
        self.net, self.encode, self.decode = net, encode, decode

    def forward(self, *inputs: torch.Tensor) -> torch.Tensor:
        return getattr(self.net, self.decode)(getattr(self.net, self.encode)(*inputs))


def _chained_diff(encoder_path: Path, decoder_path: Path, feeds_list: list[dict], reference: nn.Module) -> float:
    import onnxruntime as ort

    enc = ort.InferenceSession(str(encoder_path), providers=["CPUExecutionProvider"])
    dec = ort.InferenceSession(str(decoder_path), providers=["CPUExecutionProvider"])
    worst = 0.0
    for feeds in feeds_list:
        got = dec.run(None, {"features": enc.run(None, feeds)[0]})[0]
        with torch.no_grad():
            want = reference(*[torch.from_numpy(v) for v in feeds.values()]).numpy()
        worst = max(worst, float(np.abs(got - want).max()))
    return worst


# Decisions taken from measurements made after an export (not facts of the graph): a new export
# of the same name keeps them unless its entry says otherwise (runtime.registry reads them).
KEPT_ON_REEXPORT = ("streams_on_gpu",)


def write_manifest_entry(manifest_path: Path, name: str, entry: dict) -> None:
    """Merge one model's entry into a manifest.json (written atomically)."""
    manifest = {}
    if manifest_path.is_file():
        try:
            manifest = json.loads(manifest_path.read_text())
        except json.JSONDecodeError as exc:
            raise ModelError(f"{manifest_path} is not valid JSON; delete it and re-export") from exc
    manifest.setdefault("format", "livestyle-manifest/1")
    previous = manifest.setdefault("models", {}).get(name, {})
    kept = {key: previous[key] for key in KEPT_ON_REEXPORT if key in previous and key not in entry}
    manifest["models"][name] = {**entry, **kept}
    text = json.dumps(manifest, indent=2, sort_keys=True) + "\n"
    write_atomically(manifest_path, lambda tmp: tmp.write_text(text))
