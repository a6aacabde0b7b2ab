"""One place that maps a style name to its artefact and what is known about it.

Two sources feed it:
* ``exported/manifest.json`` — nets livestyle's own training produced (shipped, no ../shared needed);
* the shared folder's pretrained Engstrom nets (research-only licence), exported to ONNX on first
  use into the user cache, never into the repo.
"""

from __future__ import annotations

import difflib
import json
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import ModelError, StyleNotFoundError
from ..paths import cache_dir, exported_dir, shared_dir

ENGSTROM_SUBDIR = Path("weights/johnson/engstrom_tf")
ENGSTROM_SUFFIX = "_engstrom"
ENGSTROM_LICENCE = ("research use only: (c) 2016 Logan Engstrom, free for research with attribution; "
                    "contact the author for commercial use")
ADAIN_NAME = "adain"


@dataclass(frozen=True)
class StyleInfo:
    name: str
    kind: str            # 'johnson' (ours), 'engstrom' (pretrained third-party), 'adain'
    variant: str         # 'full' or 'fast'
    origin: str          # who trained it
    licence: str
    source: Path         # ONNX file (ours) or .pth (third-party, exported on demand)
    meta: dict = field(default_factory=dict, compare=False, hash=False)

    @property
    def ships_with_livestyle(self) -> bool:
        return self.kind != "engstrom"


def _own_styles() -> list[StyleInfo]:
    manifest_path = exported_dir() / "manifest.json"
    if not manifest_path.is_file():
        return []
    try:
        manifest = json.loads(manifest_path.read_text())
    except json.JSONDecodeError as exc:
        raise ModelError(f"{manifest_path} is corrupt JSON; reinstall livestyle") from exc
    styles = []
    for name, entry in sorted(manifest.get("models", {}).items()):
        if entry.get("role", "style") != "style":
            continue
        styles.append(StyleInfo(name=name, kind=entry["kind"], variant=entry.get("variant", "full"),
                                origin="livestyle (trained by this project)",
                                licence=entry.get("licence", ""), source=exported_dir() / entry["file"],
                                meta=entry))
    return styles


def _engstrom_styles(shared: Path) -> list[StyleInfo]:
    folder = shared / ENGSTROM_SUBDIR
    if not folder.is_dir():
        return []
    return [StyleInfo(name=p.name.removesuffix("_fp16.pth") + ENGSTROM_SUFFIX, kind="engstrom",
                      variant="full", origin="lengstrom/fast-style-transfer via ml5js (pretrained)",
                      licence=ENGSTROM_LICENCE, source=p)
            for p in sorted(folder.glob("*_fp16.pth"))]


def list_styles(shared: str | Path | None = None) -> list[StyleInfo]:
    """All styles, livestyle's own first (fixed styles; the AdaIN entry stands for --style-image)."""
    return _own_styles() + _engstrom_styles(shared_dir(shared))


def list_style_names(shared_dir: str | Path | None = None) -> list[str]:
    return [s.name for s in list_styles(shared_dir) if s.kind != "adain"]


def resolve_style(name: str, shared: str | Path | None = None, variant: str = "full") -> StyleInfo:
    """Look a style up by name; ``variant='fast'`` prefers the light CPU net when one exists."""
    styles = {s.name: s for s in list_styles(shared)}
    if variant == "fast" and f"{name}_fast" in styles:
        return styles[f"{name}_fast"]
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


def onnx_for(style: StyleInfo, fp16: bool = False) -> Path:
    """Path of the runnable ONNX graph for a style, exporting third-party weights on first use."""
    if style.kind != "engstrom":
        path = style.source
        if not path.is_file():
            raise ModelError(f"model file {path} for style '{style.name}' is missing; reinstall livestyle")
        if not fp16:
            return path
        half = cache_dir() / "own" / f"{style.name}_fp16.onnx"
        if not half.is_file():
            from ..export.johnson import export_checkpoint

            export_checkpoint(path.with_name(style.meta.get("checkpoint", path.stem + ".pt")), half,
                              fp16=True)
        return half
    target = cache_dir() / "engstrom" / f"{style.name}{'_fp16' if fp16 else ''}.onnx"
    if not target.is_file():
        from ..export.johnson import export_engstrom

        export_engstrom(style, target, fp16=fp16)
    return target
