"""Export and ship livestyle's light arbitrary-style net (models/light_adain.py).

Same three graphs as the VGG-based AdaIN path (export/adain.py), so one runtime runs both:
``style`` (painting -> student relu4_1 mean and std, once per painting), ``encoder`` (frame,
style_mean, style_std, alpha -> AdaIN-mixed features) and ``decoder`` (features -> frame), all with
dynamic H/W. Unlike the VGG path every weight is livestyle's own, so the fp32 graphs and the fp16
checkpoint ship in ``exported/`` and work with no shared folder.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
import torch.nn as nn

from ..checkpoints import build_model, load_checkpoint
from ..models.light_adain import LightAdaINNet
from .onnx import (FEATURE_TOLERANCE, ExportSpec, check_feeds_parity, export_split, sha256,
                   write_checked, write_manifest_entry)

NAME = "adain_light"
ARCH = "light_adain"
GRAPH_FILES = {"style": f"{NAME}.style.onnx", "encoder": f"{NAME}.encoder.onnx",
               "decoder": f"{NAME}.decoder.onnx"}
PARITY_ALPHA = 0.8  # not 1, so the parity check also covers the content/style mix
LICENCE = ("trained by livestyle (ours). Teacher and loss network during training only: VGG-16 "
           "(Simonyan & Zisserman 2014, Oxford VGG / Keras release, CC BY 4.0), not needed at run time")


class _StyleStats(nn.Module):
    """Painting -> [N, 2C, 1, 1]: channel means then stds (one output keeps the graph I/O simple)."""

    def __init__(self, net: LightAdaINNet):
        super().__init__()
        self.net = net

    def forward(self, rgb255: torch.Tensor) -> torch.Tensor:
        return torch.cat(self.net.style_stats(rgb255), dim=1)


def load_light_net(checkpoint: Path) -> LightAdaINNet:
    return build_model(load_checkpoint(checkpoint, ARCH)).float().eval()


def export_light_adain(checkpoint: Path, out_dir: Path, images: list[np.ndarray], fp16: bool = False,
                       files: dict[str, str] = GRAPH_FILES) -> dict:
    """Write the three graphs into ``out_dir`` after parity checks; returns their facts."""
    net = load_light_net(checkpoint)
    out_dir = Path(out_dir)
    stats_ref = _StyleStats(net).eval()
    style_feeds = [{"image": np.ascontiguousarray(img.transpose(2, 0, 1)[None])} for img in images]
    axes = {0: "batch", 2: "height", 3: "width"}
    # Run once per painting, so the style graph stays fp32 whatever the per-frame precision.
    style_spec = ExportSpec(stats_ref, (torch.from_numpy(style_feeds[0]["image"]),), ["image"],
                            ["style_stats"], {"image": axes, "style_stats": {0: "batch"}})
    style_diff = write_checked(style_spec, out_dir / files["style"], lambda tmp: check_feeds_parity(
        stats_ref, tmp, style_feeds, FEATURE_TOLERANCE[False], relative=True))
    with torch.no_grad():
        stats = stats_ref(torch.from_numpy(style_feeds[-1]["image"])).numpy()
    c = stats.shape[1] // 2
    extra = {"style_mean": stats[:, :c].copy(), "style_std": stats[:, c:].copy(),
             "alpha": np.array([PARITY_ALPHA], np.float32)}
    facts = export_split(net, out_dir / files["encoder"], out_dir / files["decoder"], fp16, images, extra,
                         encode="stylize_features", decode="decode")
    facts["style_parity_rel"] = round(style_diff, 6)
    return facts


def publish_light_adain(checkpoint: Path, exported: Path, images: list[np.ndarray]) -> dict:
    """Ship a trained light net: graphs (parity-checked) + fp16 checkpoint + manifest entry."""
    import os
    import shutil

    exported = Path(exported)
    ckpt = load_checkpoint(checkpoint, ARCH)
    facts = export_light_adain(checkpoint, exported, images)
    target = exported / f"{NAME}.pt"
    if Path(checkpoint).resolve() != target.resolve():
        tmp = target.with_name(f".{target.name}.tmp{os.getpid()}")
        shutil.copyfile(checkpoint, tmp)
        os.replace(tmp, target)
    meta = ckpt.get("meta", {})
    entry = {"role": "style", "kind": "adain", "variant": "fast", "arch": ARCH, "file": target.name,
             "architecture": ckpt.get("config"), "checkpoint": target.name, "checkpoint_sha256": sha256(target),
             "graphs": {k: {"file": f, "sha256": sha256(exported / f)} for k, f in GRAPH_FILES.items()},
             "licence": LICENCE, "teacher": meta.get("teacher"), "steps": meta.get("steps"),
             "training": meta.get("settings"), "held_out_styles": meta.get("held_out_styles"),
             "final_losses": meta.get("final_losses"),
             **({"warm_start": meta["warm_start"]} if meta.get("warm_start") else {}),
             "parity": {k: v for k, v in facts.items() if "parity" in k},
             "inputs": facts["inputs"], "outputs": facts["outputs"], "opset": facts["opset"]}
    write_manifest_entry(exported / "manifest.json", NAME, entry)
    return entry
