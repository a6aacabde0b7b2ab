"""Export of feed-forward style nets: our Johnson checkpoints and the pretrained Engstrom weights."""

from __future__ import annotations

import shutil
from pathlib import Path

from ..checkpoints import build_model, load_checkpoint, load_torch_file
from ..errors import ModelError
from ..models.johnson import EngstromNet
from ..paths import shared_dir
from .onnx import export_image_net, export_split, parity_images, write_manifest_entry


def load_engstrom(weights: Path) -> EngstromNet:
    state = load_torch_file(weights, what="Engstrom style weights")
    net = EngstromNet()
    try:
        net.load_state_dict({k: v.float() for k, v in state.items()})
    except (RuntimeError, AttributeError) as exc:
        raise ModelError(f"{weights} does not hold Engstrom-architecture weights") from exc
    return net.eval()


def export_engstrom(style, out_path: Path, fp16: bool = False, shared: Path | None = None) -> dict:
    net = load_engstrom(style.source)
    entry = export_image_net(net, out_path, fp16, shared or shared_dir())
    entry.update(kind="engstrom", variant="full", licence=style.licence, source=str(style.source))
    write_manifest_entry(out_path.parent / "manifest.json", out_path.stem, entry)
    return entry


def export_checkpoint(ckpt_path: Path, out_path: Path, fp16: bool = False,
                      shared: Path | None = None, licence: str = "") -> dict:
    """Export one of our own Johnson checkpoints; the entry carries its training facts."""
    ckpt = load_checkpoint(ckpt_path, arch="johnson")
    net = build_model(ckpt)
    entry = export_image_net(net, out_path, fp16, shared or shared_dir())
    meta = ckpt.get("meta", {})
    entry.update(kind="johnson", variant=meta.get("variant", "full"), licence=licence,
                 style_image=meta.get("style_image"), steps=meta.get("steps"),
                 final_losses=meta.get("final_losses"), training=meta.get("settings"),
                 architecture=ckpt["config"])
    for key in ("distilled_from", "warm_start", "averaged_from"):
        if meta.get(key):
            entry[key] = meta[key]
    return entry



def publish_checkpoint(ckpt_path: Path, out_path: Path, name: str, fp16: bool = False,
                       shared: Path | None = None, licence: str = "", decisions: dict | None = None) -> dict:
    """Export one of our checkpoints to ``out_path`` and describe it as ``name`` in the manifest
    beside it: fp32 as a style, with the checkpoint copied beside the graph (the torch backend runs
    it); fp16 as a variant of it. ``decisions`` are manifest choices such as ``streams_on_gpu``."""
    entry = export_checkpoint(ckpt_path, out_path, fp16=fp16, shared=shared, licence=licence)
    entry.update(decisions or {})
    if not fp16:
        entry["checkpoint"] = ckpt_path.name
        shipped = out_path.parent / ckpt_path.name
        if shipped.resolve() != Path(ckpt_path).resolve():
            shutil.copy2(ckpt_path, shipped)
    write_manifest_entry(out_path.parent / "manifest.json", name, {**entry, "role": "variant" if fp16 else "style"})
    return entry


def export_split_net(weights: Path, kind: str, encoder_path: Path, decoder_path: Path, fp16: bool = False,
                     shared: Path | None = None) -> dict:
    """Encoder/decoder graph pair of a fixed-style net (ours or Engstrom's) for temporal blending."""
    if kind == "engstrom":
        net = load_engstrom(weights)
    else:
        net = build_model(load_checkpoint(weights, arch="johnson"))
    return export_split(net, encoder_path, decoder_path, fp16, parity_images(shared or shared_dir()))
