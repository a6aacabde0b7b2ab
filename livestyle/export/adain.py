"""Export of the AdaIN runtime: a style-statistics graph and the split content path.

Three graphs, all with dynamic H/W: ``style`` (image -> relu4_1 mean and std, run once per style),
``encoder`` (image, style_mean, style_std, alpha -> AdaIN-mixed relu4_1 features) and ``decoder``
(features -> image). The encoder is built from the shared VGG-16, so these graphs are derived from
third-party weights: they are written to the user cache, never into the repository.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
import torch.nn as nn

from ..checkpoints import build_model, load_checkpoint, load_vgg16
from ..models.adain import STYLE_LAYERS, AdaINContentNet, AdaINStyleEncoder
from .files import ADAIN_GRAPH_FILES as GRAPH_FILES
from .onnx import FEATURE_TOLERANCE, ExportSpec, check_feeds_parity, export_split, write_checked

PARITY_ALPHA = 0.8  # not 1, so the parity check also covers the content/style mix


class StyleStatsGraph(nn.Module):
    """Style image -> [N, 2C, 1, 1]: channel means, then stds (one output keeps I/O simple)."""

    def __init__(self, style_encoder: nn.Module):
        super().__init__()
        self.style_encoder = style_encoder

    def forward(self, rgb255: torch.Tensor) -> torch.Tensor:
        mean, std = self.style_encoder(rgb255)
        return torch.cat([mean, std], dim=1)


def build_adain_net(decoder_checkpoint: Path, vgg_weights: Path) -> AdaINContentNet:
    encoder = load_vgg16(vgg_weights, STYLE_LAYERS, torchvision_ok=False)
    decoder = build_model(load_checkpoint(decoder_checkpoint, "adain_decoder"))
    return AdaINContentNet(encoder, decoder).float().eval()


def export_arbitrary(net: nn.Module, style_encoder: nn.Module, out_dir: Path, fp16: bool,
                     images: list[np.ndarray], files: dict[str, str] = GRAPH_FILES) -> dict:
    """Write an arbitrary-style net's three graphs into ``out_dir`` after parity checks.

    ``net`` has ``stylize_features(image, style_mean, style_std, alpha)`` and ``decode``;
    ``style_encoder`` maps a painting to its (mean, std). Both the VGG-based and livestyle's light
    net export through here, so one runtime runs either.
    """
    out_dir = Path(out_dir)
    stats_ref = StyleStatsGraph(style_encoder).eval()
    style_feeds = [{"image": np.ascontiguousarray(img.transpose(2, 0, 1)[None])} for img in images]
    axes = {0: "batch", 2: "height", 3: "width"}
    # The style graph runs once per style, so it stays fp32 whatever the per-frame precision.
    style_spec = ExportSpec(stats_ref, (torch.from_numpy(style_feeds[0]["image"]),), ["image"],
                            ["style_stats"], {"image": axes, "style_stats": {0: "batch"}})
    style_diff = write_checked(style_spec, out_dir / files["style"], lambda tmp: check_feeds_parity(
        stats_ref, tmp, style_feeds, FEATURE_TOLERANCE[False], relative=True))
    with torch.no_grad():
        stats = stats_ref(torch.from_numpy(style_feeds[-1]["image"])).numpy()
    c = stats.shape[1] // 2
    extra = {"style_mean": stats[:, :c].copy(), "style_std": stats[:, c:].copy(),
             "alpha": np.array([PARITY_ALPHA], np.float32)}
    facts = export_split(net, out_dir / files["encoder"], out_dir / files["decoder"], fp16,
                         images, extra, encode="stylize_features", decode="decode")
    facts["style_parity_rel"] = round(style_diff, 6)
    return facts


def export_adain(decoder_checkpoint: Path, vgg_weights: Path, out_dir: Path, fp16: bool,
                 images: list[np.ndarray]) -> dict:
    """The VGG-based net's graphs (built from third-party weights: user cache only)."""
    net = build_adain_net(decoder_checkpoint, vgg_weights)
    return export_arbitrary(net, AdaINStyleEncoder(net.encoder), out_dir, fp16, images)


DECODER_LICENCE = ("decoder trained by livestyle (ours); it runs on the VGG-16 encoder from the shared "
                   "folder (Simonyan & Zisserman 2014, CC BY 4.0), which is not shipped")


def publish_adain_decoder(checkpoint: Path, exported: Path, vgg_weights: Path,
                          images: list[np.ndarray]) -> dict:
    """Ship a trained decoder: parity-check its graphs (into a scratch folder), then copy the fp16
    checkpoint into ``exported`` and describe it in the manifest. Graphs built with the VGG
    encoder are not shipped; the runtime rebuilds them in the user cache."""
    import shutil
    import tempfile

    from ..fileio import sha256_file, write_atomically
    from .onnx import write_manifest_entry

    ckpt = load_checkpoint(checkpoint, "adain_decoder")
    with tempfile.TemporaryDirectory() as tmp:
        facts = export_adain(checkpoint, vgg_weights, Path(tmp), fp16=False, images=images)
    target = Path(exported) / "adain_decoder.pt"
    if Path(checkpoint).resolve() != target.resolve():
        write_atomically(target, lambda tmp: shutil.copyfile(checkpoint, tmp))
    meta = ckpt.get("meta", {})
    entry = {"role": "style", "kind": "adain", "variant": "full", "file": target.name,
             "sha256": sha256_file(target), "licence": DECODER_LICENCE, "steps": meta.get("steps"),
             "training": meta.get("settings"), "held_out_styles": meta.get("held_out_styles"),
             "final_losses": meta.get("final_losses"),
             "parity": {k: v for k, v in facts.items() if "parity" in k}}
    write_manifest_entry(Path(exported) / "manifest.json", "adain", entry)
    return entry
