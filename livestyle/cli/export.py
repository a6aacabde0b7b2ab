"""``livestyle export`` / ``tools/export.py``: style net -> ONNX with a parity check and a manifest."""

from __future__ import annotations

import argparse
from pathlib import Path

from .common import add_shared_dir

ARTWORK_NOTES = {
    "mosaic": "style image: pytorch/examples mosaic.jpg (a mosaic photo; check its copyright before commercial use)",
    "candy": "style image: pytorch/examples candy.jpg (check its copyright before commercial use)",
    "starry_night": "style image: Van Gogh, The Starry Night (1889), public domain",
    "the_scream": "style image: Munch, The Scream (1893), public domain",
    "udnie": "style image: Picabia, Udnie (1913), public domain in most jurisdictions",
}


def add_parser(p: argparse.ArgumentParser) -> None:
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--style", help="a registered style name (see 'livestyle styles')")
    src.add_argument("--checkpoint", type=Path,
                     help="a livestyle training checkpoint (.pt) to export: a fixed style's, exported by "
                          "name; an arbitrary-style net's is shipped into exported/ as --light-checkpoint "
                          "and --adain-checkpoint do")
    src.add_argument("--adain-checkpoint", type=Path, metavar="DECODER.pt",
                     help="a trained AdaIN decoder: parity-check its graphs and ship it in exported/")
    src.add_argument("--light-checkpoint", type=Path, metavar="ADAIN_LIGHT.pt",
                     help="a trained light arbitrary-style net (livestyle train adain-light): export its "
                          "three graphs with parity checks and ship them with the checkpoint in exported/")
    p.add_argument("--name", help="style name for --checkpoint (default: the checkpoint's file stem)")
    p.add_argument("--fp16", action="store_true", help="half-precision weights (parity tolerance 4 grey levels)")
    p.add_argument("--streams-on-gpu", action=argparse.BooleanOptionalAction, default=None,
                   help="for a fast net (--checkpoint): let --model auto run it for video and cam on a GPU "
                        "too, for a net that beats its full net on video (default: keep what the "
                        "manifest says; a fast net streams on CPUs only)")
    p.add_argument("-o", "--output", type=Path,
                   help="ONNX file to write (default: the user cache for third-party styles, "
                        "<your models folder>/<name>.onnx for --checkpoint, which 'livestyle styles' "
                        "lists; a style that ships with livestyle is exported again from its checkpoint "
                        "only when -o is given)")
    p.add_argument("--ship", action="store_true",
                   help="with --checkpoint: into livestyle's own models folder (exported/, or "
                        "$LIVESTYLE_EXPORTED) instead of yours, to ship the net with livestyle")
    add_shared_dir(p)


def run(args: argparse.Namespace) -> int:
    from ..extras import need

    need("exporting to ONNX", "torch", "onnx")
    from ..errors import InputError
    from ..export.johnson import export_engstrom, publish_checkpoint
    from ..fileio import refuse_overwriting_inputs
    from ..media.images import check_writable
    from ..paths import cache_dir, exported_dir, shared_dir, user_models_dir
    from ..runtime import registry
    from ..runtime.registry import base_name

    shared = shared_dir(args.shared_dir)
    if args.ship and args.checkpoint is None:
        raise InputError("--ship is for --checkpoint FILE.pt")
    if args.streams_on_gpu is not None:
        _check_fast_checkpoint(args.checkpoint)  # before the export, which would replace the graph
    if args.output is not None:
        refuse_overwriting_inputs(args.output, [args.checkpoint, args.adain_checkpoint, args.light_checkpoint])
        check_writable(args.output, make_folders=True)  # before the export, which takes a while
    ship_from = args.light_checkpoint or args.adain_checkpoint or _shipped_as_trained(args.checkpoint)
    if ship_from:
        if args.output is not None:
            raise InputError(f"-o does not apply to {ship_from}: its net is shipped into exported/ as it is; "
                             "leave -o out")
        from ..checkpoints import load_checkpoint
        from ..families import family

        expected = "adain_light" if args.light_checkpoint else "adain_decoder" if args.adain_checkpoint else None
        entry = family(load_checkpoint(ship_from, expected)["arch"]).ship(ship_from, exported_dir(), shared)
        print(f"shipped {exported_dir() / entry['file']} (parity: {entry['parity']})")
        return 0
    suffix = "_fp16" if args.fp16 else ""
    if args.style:
        info = registry.resolve_style(args.style, shared)
        if info.kind == "engstrom":
            out = args.output or cache_dir() / "engstrom" / f"{info.name}{suffix}.onnx"
            entry = export_engstrom(info, out, fp16=args.fp16, shared=shared)
        elif args.output is None:
            print(f"'{info.name}' ships with livestyle already as {info.source}; "
                  f"give -o FILE.onnx to export it again from its checkpoint")
            return 0
        else:
            out = args.output
            entry = _export_shipped(info, out, args.fp16, shared)
    else:
        name = args.name or args.checkpoint.stem
        if not args.ship and args.output is None:
            _refuse_shipped_name(name)
        out = args.output or (exported_dir() if args.ship else user_models_dir()) / f"{name}{suffix}.onnx"
        # A fast variant paints the same artwork as its full net, so it carries the same note.
        decisions = {} if args.streams_on_gpu is None else {registry.STREAMS_ON_GPU: args.streams_on_gpu}
        licence = ARTWORK_NOTES.get(base_name(name)) or _style_image_note(args.checkpoint)
        entry = publish_checkpoint(args.checkpoint, out, name + suffix, fp16=args.fp16, shared=shared,
                                   licence=licence, decisions=decisions)
    print(f"wrote {out} ({entry['precision']}, opset {entry['opset']}, "
          f"max |ORT - PyTorch| = {entry['parity_max_abs_diff']} grey levels)")
    return 0


def _shipped_as_trained(checkpoint: Path | None) -> Path | None:
    """``checkpoint`` where its family ships trained nets as they are (``ship``), else None."""
    if checkpoint is None or not checkpoint.is_file():
        return None
    from ..checkpoints import load_checkpoint
    from ..families import family

    return checkpoint if hasattr(family(load_checkpoint(checkpoint)["arch"]), "ship") else None


def _style_image_note(checkpoint: Path) -> str:
    from ..checkpoints import load_checkpoint

    image = load_checkpoint(checkpoint, arch="johnson").get("meta", {}).get("style_image")
    return f"style image: {image}" if image else ""


def _refuse_shipped_name(name: str) -> None:
    """Your style under a name that ships would be hidden behind the shipped net (which wins)."""
    from ..errors import InputError
    from ..runtime import registry

    shipped = {s.name for s in registry.list_styles() if s.origin == registry.SHIPPED_ORIGIN}
    if name in shipped:
        raise InputError(f"'{name}' is a style that ships with livestyle; export yours under another name "
                         f"with --name (e.g. --name my_{name}), or give --ship to replace the shipped net")


def _check_fast_checkpoint(checkpoint: Path | None) -> None:
    from ..checkpoints import load_checkpoint
    from ..errors import InputError

    if checkpoint is None:
        raise InputError("--streams-on-gpu is for a fast net exported with --checkpoint FILE.pt")
    variant = load_checkpoint(checkpoint, arch="johnson").get("meta", {}).get("variant", "full")
    if variant != "fast":
        raise InputError(f"--streams-on-gpu is for fast nets; {checkpoint} holds a {variant} net")


def _export_shipped(info, out: Path, fp16: bool, shared: Path) -> dict:
    """A style that ships, exported again from its shipped checkpoint into ``out`` alone: the
    shipped graph and manifest are left as they are (``--checkpoint`` re-ships a style)."""
    from ..errors import InputError
    from ..export.johnson import export_checkpoint
    from ..fileio import refuse_overwriting_inputs
    from ..paths import exported_dir

    checkpoint = info.meta.get("checkpoint")
    if info.kind != "johnson" or not checkpoint:
        raise InputError(f"'{info.name}' is not one graph that can be exported again on its own; "
                         f"use --checkpoint or --adain-checkpoint with its weights")
    refuse_overwriting_inputs(out, [info.source], "-o")
    return export_checkpoint(exported_dir() / checkpoint, out, fp16=fp16, shared=shared,
                             licence=info.licence)
