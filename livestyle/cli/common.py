"""Options shared by several commands, defined once."""

from __future__ import annotations

import argparse

from ..argtypes import size_arg, unit_float


class HelpFormatter(argparse.ArgumentDefaultsHelpFormatter, argparse.RawDescriptionHelpFormatter):
    """Option defaults in --help where they say something; descriptions and epilogs kept as written.

    Unset options (None/False) show no default, and a help text that already explains its default
    is not given a second one.
    """

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        if action.default is None or action.default is False or "default" in text:
            return text
        return super()._get_help_string(action)


def add_shared_dir(p: argparse.ArgumentParser) -> None:
    p.add_argument("--shared-dir", metavar="DIR",
                   help="folder with the third-party data (default: $LIVESTYLE_SHARED or ../shared)")


def add_device(p: argparse.ArgumentParser, fp16: bool = True) -> None:
    p.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto",
                   help="where to run; auto picks the fastest available")
    if fp16:
        p.add_argument("--fp16", action="store_true", help="half precision (fastest on GPUs)")
        p.add_argument("--int8", action="store_true",
                       help="8-bit graphs calibrated on photos (faster full nets on CPUs with VNNI; fixed styles only)")


def add_overwrite(p, what: str = "the output file") -> None:
    p.add_argument("--overwrite", action="store_true",
                   help=f"replace {what} where it already exists (default: refuse, keeping the file)")


def add_stylizer_options(p: argparse.ArgumentParser, temporal: bool = True) -> None:
    g = p.add_argument_group("style")
    g.add_argument("--style", metavar="NAME",
                   help="registered style (see 'livestyle styles'); unset: the default style")
    g.add_argument("--style-image", action="append", metavar="IMG",
                   help="any painting as the style (AdaIN); repeat to mix several")
    g.add_argument("--style-weights", metavar="W1,W2,...",
                   help="mixing weights, one per --style-image")
    g.add_argument("--alpha", type=unit_float, default=1.0, help="style strength, 0 = photo, 1 = full style")
    g.add_argument("--model", choices=("auto", "full", "fast"), default="auto",
                   help="fixed styles: full = Johnson net, fast = its light distilled student (real time "
                        "on a CPU, where one is shipped); auto = fast for video/cam on a CPU (and on a GPU where "
                        "its manifest marks it better on video), else full. "
                        "--style-image: fast = livestyle's light arbitrary-style net (shipped), full = "
                        "the decoder on the VGG-16 encoder (more texture, less of the photo's structure; "
                        "needs the shared folder and PyTorch), auto = fast")
    g.add_argument("--size", type=size_arg, metavar="PX",
                   help="long side to stylise at, larger or smaller than the input; the output keeps the "
                        f"input's size. Unset: inputs longer than {WORK_SIZE} px are stylised at {WORK_SIZE} px "
                        "and brought back to full size with the input's own edge detail, so memory stays "
                        "bounded at any size (50 MP photos, 8K video) and strokes keep a painting's scale; "
                        "smaller inputs at their own size. Smaller is faster; the input's own long side "
                        "stylises pixel for pixel (finer strokes, memory grows with the pixels; "
                        "docs/sizes.md)")
    g.add_argument("--preserve-color", choices=("luminance", "histogram"),
                   help="keep the photo's colours, take only the style's texture")
    if temporal:
        _add_temporal_options(g)
    add_device(g)
    add_shared_dir(g)


# runtime.upsample.WORK_SIZE written out, so that --help does not import the runtime;
# tests/test_sizes.py checks that the two agree.
WORK_SIZE = 1280


# runtime.temporal.DEFAULT_STABILITY written out, so that --help does not import the runtime;
# tests/test_foundation.py checks that the two agree.
DEFAULT_STABILITY = 0.8


def _add_temporal_options(g) -> None:
    g.add_argument("--stability", type=unit_float,
                   help="video/cam: blend each stylised frame with the previous result (moved by "
                        "optical flow) against flicker; 0 = off (per-frame), 1 = strongest "
                        f"(default: {DEFAULT_STABILITY})")
    g.add_argument("--flow", choices=("dis", "none"), default="dis",
                   help="motion estimate for --stability: dis = optical flow (moving cameras), "
                        "none = cheaper, for a still camera")


def parse_weights(text: str | None, option: str = "--style-weights") -> list[float] | None:
    """``--style-weights`` (or another ``option``) as typed ("0.7,0.3") -> numbers. Parsed in
    ``run``, not by argparse, so a bad value is one ``error:`` line like every other;
    ``livestyle.mixing`` checks the numbers."""
    from ..errors import InputError

    if text is None:
        return None
    try:
        return [float(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise InputError(f"{option} must be comma-separated numbers such as 0.7,0.3, got '{text}'") from None


def model_note(stylizer, asked: str = "auto") -> str | None:
    """Tells the user when ``--model auto`` put a light net in for the style they named."""
    model = getattr(stylizer, "model_name", None)
    if asked != "auto" or model in (None, stylizer.name):
        return None
    why = " on the CPU" if stylizer.backend.endswith("cpu") else ", steadier on video than its full net,"
    return f"'{stylizer.name}' runs its light net {model}{why} (--model full for the full net)"


def stylizer_options(args: argparse.Namespace, streaming: bool = False) -> dict:
    """``create_stylizer`` keyword arguments from the options above (``streaming``: video, cam)."""
    return dict(style=args.style, style_images=args.style_image,
                style_weights=parse_weights(args.style_weights),
                alpha=args.alpha, size=args.size, device=args.device, fp16=args.fp16, int8=args.int8,
                preserve_color=args.preserve_color, shared_dir=args.shared_dir,
                model=getattr(args, "model", "auto"), stability=getattr(args, "stability", None), flow=getattr(args, "flow", "dis"),
                streaming=streaming)
