"""What each net livestyle ships is, one row per net, read from the registry (``exported/manifest.json``).

A row says what kind of net it is, its architecture, its size on disk, how it was trained (the last
run and the steps of its whole chain of warm starts), its teacher, the licence note of the artwork
it paints, and how closely its ONNX graph follows its PyTorch weights. ``tools/nets_table.py``
writes these rows as docs/nets.md, and a test keeps that page equal to them.
"""

from __future__ import annotations

from dataclasses import astuple, dataclass
from pathlib import Path

from ..families import family
from . import registry
from .registry import StyleInfo

@dataclass(frozen=True)
class NetRow:
    net: str
    kind: str
    architecture: str
    size: str
    training: str
    teacher: str
    licence: str
    parity: str


HEADERS = ("net", "kind / variant", "architecture", "size on disk", "trained (last run; steps in all)",
           "teacher", "artwork licence", "parity (max \\|ONNX - PyTorch\\|)")


def shipped_nets() -> list[StyleInfo]:
    """livestyle's own nets (not the third-party ones from the shared folder): the fixed styles by
    name, then the two arbitrary-style nets."""
    own = [s for s in registry.list_styles() if s.kind != "engstrom" and s.origin != registry.USER_ORIGIN]
    return sorted(own, key=lambda s: (s.kind == "adain", s.name))


def net_rows(nets: list[StyleInfo] | None = None) -> list[NetRow]:
    return [net_row(info) for info in (shipped_nets() if nets is None else nets)]


def net_row(info: StyleInfo) -> NetRow:
    meta = info.meta
    return NetRow(net=info.name, kind=f"{info.kind} / {info.variant}", architecture=_architecture(meta),
                  size=_size(info), training=_training(meta), teacher=_teacher(meta),
                  licence=info.licence or "-", parity=_parity(meta))


def cells(row: NetRow) -> tuple[str, ...]:
    return astuple(row)


def _architecture(meta: dict) -> str:
    # Entries record their family's arch since the light net shipped; the older ones are Johnson
    # nets or the AdaIN decoder, told apart by their kind.
    arch = meta.get("arch") or ("adain_decoder" if meta.get("kind") == "adain" else "johnson")
    return family(arch).describe(meta.get("architecture"))


def _files(info: StyleInfo) -> list[Path]:
    meta, folder = info.meta, info.source.parent
    names = [meta["file"]]
    names += [g["file"] for g in meta.get("graphs", {}).values()]
    if meta.get("checkpoint") and meta["checkpoint"] not in names:
        names.append(meta["checkpoint"])
    return [folder / n for n in names]


def _size(info: StyleInfo) -> str:
    onnx = pt = 0
    missing = []
    for path in _files(info):
        if not path.is_file():
            missing.append(path.name)
        elif path.suffix == ".onnx":
            onnx += path.stat().st_size
        else:
            pt += path.stat().st_size
    graphs = sum(1 for p in _files(info) if p.suffix == ".onnx")
    parts = []
    if onnx:
        parts.append(f"{_mb(onnx)} ONNX" + (f" ({graphs} graphs)" if graphs > 1 else ""))
    if pt:
        parts.append(f"{_mb(pt)} .pt")
    if missing:
        parts.append("missing: " + ", ".join(missing))
    return " + ".join(parts)


def _mb(size: int) -> str:
    return f"{size / 1e6:.1f} MB" if size >= 1e6 else f"{size / 1e6:.2f} MB"


def _chain(meta: dict) -> list[dict]:
    """The warm starts a net was trained from, newest first."""
    chain, record = [], meta.get("warm_start")
    if isinstance(record, list):   # a training checkpoint lists its warm starts, the last one newest
        record = record[-1] if record else None
    while record:
        chain.append(record)
        record = record.get("warm_start")
    return chain


def _training(meta: dict) -> str:
    t, steps = meta.get("training", {}), meta.get("steps")
    parts = [f"{steps:,} steps" if steps is not None else "steps not recorded"]
    if "image_size" in t:
        parts.append(f"{t['image_size']} px crops")
    if "batch_size" in t:
        parts.append(f"batch {t['batch_size']}")
    if "style_weight" in t:
        parts.append(f"style weight {t['style_weight']:g}")
    if t.get("content_layer", "relu2_2") != "relu2_2":
        parts.append(f"content at {t['content_layer']}")
    if t.get("style_layer_weights"):
        parts.append("Gram layer weights " + " / ".join(f"{k} {v:g}" for k, v in sorted(t["style_layer_weights"].items())))
    if t.get("structure_weight"):
        cells = f" ({t['structure_cell']} px cells)" if "structure_cell" in t else ""
        parts.append(f"structure weight {t['structure_weight']:g}{cells}")
    if t.get("temporal_weight"):
        parts.append(f"temporal weight {t['temporal_weight']:g} ({t.get('temporal_mode', 'warp')})")
    if t.get("distill_weight"):
        parts.append(f"distillation weight {t['distill_weight']:g}")
    if t.get("ema_decay"):
        parts.append(f"weights averaged (EMA {t['ema_decay']:g})")
    if meta.get("averaged_from"):
        sources = meta["averaged_from"]
        shares = [s.get("weight", 1 / len(sources)) for s in sources]
        parts.append("then the mean of " + " + ".join(f"{w:.2g} x step {s.get('steps')} ({s.get('checkpoint')})"
                                                      for s, w in zip(sources, shares)))
    text = ", ".join(parts)
    chain = _chain(meta)
    if chain and steps is not None and all(r.get("steps") is not None for r in chain):
        total = steps + sum(r["steps"] for r in chain)
        distilled = " (the first a distillation)" if chain[-1].get("distilled_from") else ""
        text += f"; {total:,} in all over {len(chain) + 1} runs{distilled}"
    elif not chain:
        text += "; from scratch"
    return text


def _teacher(meta: dict) -> str:
    """The first teacher (whose licence the net inherits), and any net it was taught again from."""
    if meta.get("teacher"):
        return meta["teacher"]
    teachers = [r["distilled_from"] for r in [meta, *_chain(meta)] if r.get("distilled_from")]
    if not teachers:
        return "-"
    text = f"`{teachers[-1]}` (distilled from it, then fine-tuned on the painting"
    return text + "".join(f"; then distilled again from `{t}`, the net before" for t in reversed(teachers[:-1])) + ")"


def _parity(meta: dict) -> str:
    if "parity_max_abs_diff" in meta:
        return f"{meta['parity_max_abs_diff']:g} grey levels ({meta.get('precision', 'fp32')})"
    parity = meta.get("parity", {})
    if "chained_parity_max_abs_diff" in parity:
        return f"{parity['chained_parity_max_abs_diff']:g} grey levels (encoder + decoder graphs)"
    return "-"
