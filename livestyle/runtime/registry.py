"""One place that maps a style name to its artefact and what is known about it.

Three sources feed it:
* ``exported/manifest.json`` — nets livestyle's own training produced (shipped, no ../shared needed);
* the user's models folder (``paths.user_models_dir``), where ``livestyle export`` puts the styles a
  user trained, with a manifest of the same format;
* the shared folder's pretrained Engstrom nets (research-only licence), exported to ONNX on first
  use into the user cache, never into the repo.
"""

from __future__ import annotations

import difflib
import json
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import ModelError, StyleNotFoundError
from ..export.files import ADAIN_GRAPH_FILES, LIGHT_ADAIN_GRAPH_FILES, LIGHT_ADAIN_NAME
from ..extras import need
from ..paths import VGG16_WEIGHTS, cache_dir, exported_dir, shared_dir, user_models_dir
from .stylizer import SIZE_MULTIPLE

ENGSTROM_SUBDIR = Path("weights/johnson/engstrom_tf")
ENGSTROM_SUFFIX = "_engstrom"
ENGSTROM_LICENCE = ("research use only: (c) 2016 Logan Engstrom, free for research with attribution; "
                    "contact the author for commercial use")
ADAIN_DECODER_FILE = "adain_decoder.pt"


@dataclass(frozen=True)
class StyleInfo:
    name: str
    kind: str            # 'johnson' (ours), 'engstrom' (pretrained third-party), 'adain'
    variant: str         # 'full' or 'fast'
    origin: str          # who trained it
    licence: str
    source: Path         # ONNX file (ours) or .pth (third-party, exported on demand)
    meta: dict = field(default_factory=dict, compare=False, hash=False)


def size_multiple(info: StyleInfo) -> int:
    """What the style's graph needs its input sides to divide by (its manifest says; 4 for graphs
    exported before the manifest recorded it, and for the third-party nets)."""
    return int(info.meta.get("inputs", {}).get("image", {}).get("size_multiple", SIZE_MULTIPLE))


SHIPPED_ORIGIN = "livestyle (trained by this project)"
USER_ORIGIN = "yours (livestyle train, then export)"


def _own_styles(folder: Path | None = None, origin: str = SHIPPED_ORIGIN,
                fix: str = "reinstall livestyle") -> list[StyleInfo]:
    folder = exported_dir() if folder is None else folder
    manifest_path = folder / "manifest.json"
    if not manifest_path.is_file():
        return []
    try:
        manifest = json.loads(manifest_path.read_text())
    except json.JSONDecodeError as exc:
        raise ModelError(f"{manifest_path} is corrupt JSON; {fix}") from exc
    styles = []
    for name, entry in sorted(manifest.get("models", {}).items()):
        if entry.get("role", "style") != "style":
            continue
        styles.append(StyleInfo(name=name, kind=entry["kind"], variant=entry.get("variant", "full"),
                                origin=origin, licence=entry.get("licence", ""), source=folder / entry["file"],
                                meta=entry))
    return styles


def user_styles(shipped: list[StyleInfo] | None = None) -> list[StyleInfo]:
    """The styles in the user's models folder; a name that ships stays the shipped net's."""
    taken = {s.name for s in (_own_styles() if shipped is None else shipped)}
    mine = _own_styles(user_models_dir(), USER_ORIGIN, "delete it and export your styles again")
    return [s for s in mine if s.name not in taken]


def _engstrom_styles(shared: Path) -> list[StyleInfo]:
    folder = shared / ENGSTROM_SUBDIR
    if not folder.is_dir():
        return []
    return [StyleInfo(name=p.name.removesuffix("_fp16.pth") + ENGSTROM_SUFFIX, kind="engstrom",
                      variant="full", origin="lengstrom/fast-style-transfer via ml5js (pretrained)",
                      licence=ENGSTROM_LICENCE, source=p)
            for p in sorted(folder.glob("*_fp16.pth"))]


def list_styles(shared: str | Path | None = None) -> list[StyleInfo]:
    """All styles: livestyle's own (fixed styles; the AdaIN entry stands for --style-image), the
    user's, then the third-party ones."""
    shipped = _own_styles()
    return shipped + user_styles(shipped) + _engstrom_styles(shared_dir(shared))


FAST_SUFFIX = "_fast"   # <style>_fast is the light CPU variant of <style>


def fast_name(style: str) -> str:
    return style + FAST_SUFFIX


def base_name(style: str) -> str:
    """The style a variant belongs to ('mosaic' for 'mosaic_fast'; a full net is its own)."""
    return style.removesuffix(FAST_SUFFIX)


def list_style_names(shared_dir: str | Path | None = None, variants: bool = True) -> list[str]:
    """Fixed styles by name; ``variants=False`` leaves out ``<name>_fast`` where ``<name>`` exists
    (``--model`` picks between the two, so a style picker should list the style once)."""
    names = [s.name for s in list_styles(shared_dir) if s.kind != "adain"]
    if variants:
        return names
    return [n for n in names if base_name(n) == n or base_name(n) not in names]


def fast_style_names(shared_dir: str | Path | None = None) -> list[str]:
    """The ``<name>_fast`` light CPU variants shipped beside their ``<name>``."""
    names = list_style_names(shared_dir)
    return sorted(set(names) - set(list_style_names(shared_dir, variants=False)))


STREAMS_ON_GPU = "streams_on_gpu"   # manifest flag of a fast net: --model auto streams it on GPUs too


def fast_net_streams_on_gpu(style: str, shared: str | Path | None = None) -> bool:
    """Whether ``--model auto`` runs ``style``'s fast net for streams on a GPU as well as on a CPU.

    Speed alone never puts a fast net on a GPU; its manifest entry does, where the fast net was
    measured to beat the full one on video (docs/temporal.md).
    """
    fast = {s.name: s for s in list_styles(shared)}.get(fast_name(style))
    return bool(fast and fast.variant == "fast" and fast.meta.get(STREAMS_ON_GPU))


def resolve_style(name: str, shared: str | Path | None = None, variant: str = "full") -> StyleInfo:
    """Look a style up by name; ``variant='fast'`` prefers the light CPU net when one exists."""
    styles = {s.name: s for s in list_styles(shared)}
    if variant == "fast" and fast_name(name) in styles:
        return styles[fast_name(name)]
    if name in styles:
        return styles[name]
    close = difflib.get_close_matches(name, list(styles), n=3, cutoff=0.5)
    hint = f"did you mean {', '.join(close)}? " if close else ""
    raise StyleNotFoundError(f"unknown style '{name}'; {hint}run 'livestyle styles' to list them")


def default_style(shared: str | Path | None = None) -> str:
    """livestyle's own mosaic when shipped, else the first style available."""
    names = list_style_names(shared)
    for preferred in ("mosaic", "candy", "udnie_engstrom"):
        if preferred in names:
            return preferred
    if not names:
        raise StyleNotFoundError("no styles are installed and no shared folder was found; "
                                 "reinstall livestyle or pass --shared-dir")
    return names[0]


def onnx_for(style: StyleInfo, fp16: bool = False, int8: bool = False, shared: str | Path | None = None) -> Path:
    """Path of the runnable ONNX graph for a style, exporting third-party weights on first use."""
    if int8:
        fp32 = onnx_for(style)
        target = cache_dir() / "int8" / f"{style.name}-{_file_tag(fp32)}.onnx"
        if not target.is_file():
            need("--int8 (its graphs are calibrated and written on first use)", "torch", "onnx")
            from ..export.quantize import calibration_feeds, quantize_int8

            feeds = calibration_feeds(shared_dir(shared))
            quantize_int8(fp32, target, feeds[::2], feeds[1::2])
        return target
    if style.kind != "engstrom":
        path = style.source
        if not path.is_file():
            raise ModelError(f"model file {path} for style '{style.name}' is missing; reinstall livestyle")
        if not fp16:
            return path
        checkpoint = path.with_name(style.meta.get("checkpoint", path.stem + ".pt"))
        if not checkpoint.is_file():
            raise ModelError(f"--fp16 builds '{style.name}' from its checkpoint {checkpoint}, which is missing; "
                             "run without --fp16 or export the style again")
        # Keyed by the checkpoint's content: a style retrained under the same name gets a new graph.
        half = cache_dir() / "own" / f"{style.name}-{_file_tag(checkpoint)}_fp16.onnx"
        if not half.is_file():
            need("--fp16 (its graphs are built from the PyTorch checkpoints on first use)", "torch", "onnx")
            from ..export.johnson import export_checkpoint

            export_checkpoint(checkpoint, half, fp16=True)
        return half
    target = cache_dir() / "engstrom" / f"{style.name}{'_fp16' if fp16 else ''}.onnx"
    if not target.is_file():
        need(f"the third-party style '{style.name}' (exported from its PyTorch weights on first use)",
             "torch", "onnx")
        from ..export.johnson import export_engstrom

        export_engstrom(style, target, fp16=fp16)
    return target


def _file_tag(path: Path) -> str:
    """Short content hash, so cached exports follow a retrained checkpoint instead of going stale."""
    from ..fileio import sha256_file

    return sha256_file(path)[:10]


def weights_for(style: StyleInfo) -> Path:
    """The PyTorch weights a style's graphs are exported from."""
    if style.kind == "engstrom":
        path = style.source
    else:
        path = style.source.with_name(style.meta.get("checkpoint", style.source.stem + ".pt"))
    if not path.is_file():
        raise ModelError(f"weights {path} for style '{style.name}' are missing; reinstall livestyle "
                         "(or pass --shared-dir for third-party styles)")
    return path


def split_onnx_for(style: StyleInfo, fp16: bool = False) -> tuple[Path, Path]:
    """Encoder and decoder graphs of a fixed style (feature-space blending, the temporal
    measurements), exported on first use."""
    weights = weights_for(style)
    stem = cache_dir() / "split" / f"{style.name}-{_file_tag(weights)}{'_fp16' if fp16 else ''}"
    encoder, decoder = stem.with_name(stem.name + ".encoder.onnx"), stem.with_name(stem.name + ".decoder.onnx")
    if not (encoder.is_file() and decoder.is_file()):
        need("split graphs (built from the PyTorch weights on first use)", "torch", "onnx")
        from ..export.johnson import export_split_net

        export_split_net(weights, style.kind, encoder, decoder, fp16=fp16)
    return encoder, decoder


def adain_graphs(fp16: bool = False, shared: str | Path | None = None,
                 vgg: str | Path | None = None) -> dict[str, Path]:
    """The AdaIN style/encoder/decoder graphs, built on first use from our decoder + the shared VGG.

    The VGG-16 encoder is third-party, so it is never shipped: it comes from the shared folder
    (or ``vgg``) and the graphs built from it live in the user cache.
    """
    from ..paths import vgg_weights

    decoder = exported_dir() / ADAIN_DECODER_FILE
    if not decoder.is_file():
        raise ModelError(f"the AdaIN decoder {decoder} is missing; reinstall livestyle")
    vgg_path = vgg_weights(vgg, shared)
    if not vgg_path.is_file():
        raise ModelError(f"--style-image needs the VGG-16 encoder weights ({vgg_path} not found); "
                         f"pass --shared-dir DIR (or set LIVESTYLE_SHARED) to the folder holding {VGG16_WEIGHTS}")
    folder = cache_dir() / "adain" / f"{_file_tag(decoder)}-{_file_tag(vgg_path)}{'-fp16' if fp16 else ''}"
    paths = {k: folder / f for k, f in ADAIN_GRAPH_FILES.items()}
    if not all(p.is_file() for p in paths.values()):
        need("--style-image with --model full (the VGG-16 net's graphs are built on first use)", "torch", "onnx")
        from ..export.adain import export_adain
        from ..export.onnx import parity_images

        export_adain(decoder, vgg_path, folder, fp16, parity_images(Path(shared) if shared else shared_dir()))
    return paths


def adain_light_checkpoint() -> Path:
    return exported_dir() / f"{LIGHT_ADAIN_NAME}.pt"


def adain_light_graphs(fp16: bool = False) -> dict[str, Path] | None:
    """livestyle's own light arbitrary-style graphs (shipped in exported/, no shared folder needed);
    None when this install has none. fp16 graphs are exported from the shipped checkpoint into the
    user cache on first use, with their parity checks."""
    folder = exported_dir()
    paths = {k: folder / f for k, f in LIGHT_ADAIN_GRAPH_FILES.items()}
    if not all(p.is_file() for p in paths.values()):
        return None
    if not fp16:
        return paths
    checkpoint = adain_light_checkpoint()
    if not checkpoint.is_file():
        raise ModelError(f"the light net's checkpoint {checkpoint} is missing; reinstall livestyle")
    half_folder = cache_dir() / "adain_light" / f"{_file_tag(checkpoint)}-fp16"
    half = {k: half_folder / f for k, f in LIGHT_ADAIN_GRAPH_FILES.items()}
    if not all(p.is_file() for p in half.values()):
        need("--fp16 with --style-image (its graphs are built from the PyTorch checkpoint on first use)",
             "torch", "onnx")
        from ..export.adain_light import export_adain_light
        from ..export.onnx import parity_images

        export_adain_light(checkpoint, half_folder, parity_images(None), fp16=True)
    return half
