"""Export and ship livestyle's light arbitrary-style net (models/adain_light.py).

Same three graphs as the VGG-based AdaIN path (export/adain.py), so one runtime runs both:
``style`` (painting -> student relu4_1 mean and std, once per painting), ``encoder`` (frame,
style_mean, style_std, alpha -> AdaIN-mixed features) and ``decoder`` (features -> frame), all with
dynamic H/W. Unlike the VGG path every weight is livestyle's own, so the fp32 graphs and the fp16
checkpoint ship in ``exported/`` and work with no shared folder.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np

from ..checkpoints import build_model, load_checkpoint
from ..fileio import sha256_file, write_atomically
from ..models.adain_light import AdaINLightNet, LightStyleEncoder
from .adain import export_arbitrary
from .files import LIGHT_ADAIN_GRAPH_FILES as GRAPH_FILES
from .files import LIGHT_ADAIN_NAME as NAME
from .onnx import write_manifest_entry

ARCH = "adain_light"
LICENCE = ("trained by livestyle (ours). Teacher and loss network during training only: VGG-16 "
           "(Simonyan & Zisserman 2014, Oxford VGG / Keras release, CC BY 4.0), not needed at run time")


def load_light_net(checkpoint: Path) -> AdaINLightNet:
    return build_model(load_checkpoint(checkpoint, ARCH)).float().eval()


def export_adain_light(checkpoint: Path, out_dir: Path, images: list[np.ndarray], fp16: bool = False) -> dict:
    """Write the three graphs into ``out_dir`` after parity checks; returns their facts."""
    net = load_light_net(checkpoint)
    return export_arbitrary(net, LightStyleEncoder(net), out_dir, fp16, images, GRAPH_FILES)


def publish_adain_light(checkpoint: Path, exported: Path, images: list[np.ndarray]) -> dict:
    """Ship a trained light net: graphs (parity-checked) + fp16 checkpoint + manifest entry."""
    exported = Path(exported)
    ckpt = load_checkpoint(checkpoint, ARCH)
    facts = export_adain_light(checkpoint, exported, images)
    target = exported / f"{NAME}.pt"
    if Path(checkpoint).resolve() != target.resolve():
        write_atomically(target, lambda tmp: shutil.copyfile(checkpoint, tmp))
    meta = ckpt.get("meta", {})
    entry = {"role": "style", "kind": "adain", "variant": "fast", "arch": ARCH, "file": target.name,
             "architecture": ckpt.get("config"), "checkpoint": target.name, "sha256": sha256_file(target),
             "graphs": {k: {"file": f, "sha256": sha256_file(exported / f)} for k, f in GRAPH_FILES.items()},
             "licence": LICENCE, "teacher": meta.get("teacher"), "steps": meta.get("steps"),
             "training": meta.get("settings"), "held_out_styles": meta.get("held_out_styles"),
             "final_losses": meta.get("final_losses"),
             **({"warm_start": meta["warm_start"]} if meta.get("warm_start") else {}),
             "parity": {k: v for k, v in facts.items() if "parity" in k},
             "inputs": facts["inputs"], "outputs": facts["outputs"], "opset": facts["opset"]}
    write_manifest_entry(exported / "manifest.json", NAME, entry)
    return entry
