"""The Johnson family (Johnson et al. 2016): fixed-style feed-forward nets, one painting per net.

Trained by ``livestyle train johnson`` (through the VGG-16 loss network) and ``livestyle train
distill`` (students of a trained net, no VGG-16); the net is ``models/johnson.py``'s
TransformerNet in one of its designs (a TransformerConfig).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from . import Trainer

ARCH = "johnson"
KIND = "fixed"

# train johnson --variant realtime's recipe: the one that fine-tuned the shipped fast nets on their
# paintings (docs/training.md: lr 5e-4 after a 50-step ramp, cosine to 1e-5, EMA 0.99, batch 4,
# temporal loss 10, content at relu3_3), in a time budget that ends within a sitting on a CPU;
# its style weight and photo count are measured in docs/own-style.md. The coarse-structure term is
# on there because without it a warm-started net draws the painting's strokes across faces and
# edges (docs/own-style.md, "Measured").
REALTIME = {"batch_size": 4, "lr": 5e-4, "warmup": 50, "lr_schedule": "cosine", "min_lr": 1e-5, "ema": 0.99,
            "checkpoint_every": 100, "sample_every": 100, "log_every": 10, "time_budget": 25.0,
            "max_photos": 500, "style_weight": 2.0, "content_layer": "relu3_3", "temporal_weight": 10.0,
            "warm_start": "auto", "structure_weight": 20.0}

# TransformerConfig's defaults (models/johnson.py), for manifest entries that predate recording
# every field; read here rather than imported, so the catalogue needs no PyTorch.
CONFIG_DEFAULTS = {"widths": [32, 64, 128], "num_residual": 5, "edge_kernel": 9, "separable": False,
                   "norm": "instance", "border": 0, "separable_out": False}
NORMS = {"instance": "instance norms everywhere", "instance-encoder": "instance norms in the encoder only",
         "instance-deep": "instance norms in the downsampling convs and blocks", "none": "no norms"}


def build(config: dict):
    from ..models.johnson import TransformerConfig, TransformerNet

    return TransformerNet(TransformerConfig.from_dict(config))


def describe(config: dict | None) -> str:
    cfg = {**CONFIG_DEFAULTS, **(config or {})}
    widths = "/".join(str(w) for w in cfg["widths"])
    scale = 2 ** (len(cfg["widths"]) - 1)
    convs = "separable convs" if cfg["separable"] else "convs"
    text = (f"{convs} {widths} channels, {cfg['num_residual']} residual blocks at 1/{scale}, "
            f"{cfg['edge_kernel']}x{cfg['edge_kernel']} edge convs, {NORMS.get(cfg['norm'], cfg['norm'])}")
    if cfg["separable_out"]:
        text += ", separable RGB-out conv"
    if cfg["border"]:
        text += f", {cfg['border']} px reflected border"
    return text


def _crop_fraction(text: str) -> float:
    from ..argtypes import bounded_float

    return bounded_float(text, lambda v: 0.0 < v <= 1.0, "a fraction in (0, 1] of a photo's short side")


def add_crop_min(p: argparse.ArgumentParser) -> None:
    p.add_argument("--crop-min", type=_crop_fraction, default=0.6, metavar="FRACTION",
                   help="smallest training crop as a fraction of a photo's short side (crops span it..1, "
                        "then are scaled to --image-size); smaller values train for larger frames")


def _layer_weights(text: str) -> dict[str, float]:
    from ..errors import MissingExtraError
    from ..extras import need

    try:
        need("training", "torch")   # parsing runs before run(), and the parser lives beside the losses
        from ..training.losses import parse_layer_weights

        return parse_layer_weights(text)
    except (ValueError, MissingExtraError) as err:
        raise argparse.ArgumentTypeError(str(err)) from None


def add_johnson_options(p: argparse.ArgumentParser) -> None:
    from ..argtypes import non_negative_float, positive_int, unit_float

    p.add_argument("--style-image", action="append", required=True, type=Path,
                   help="style painting; repeat to train several nets in one pass (shared content work)")
    p.add_argument("--name", action="append", help="style name per --style-image (default: file stem)")
    p.add_argument("--style-weight", type=float, action="append",
                   help="style weight; one value for all, or one per --style-image (default "
                        f"{REALTIME['style_weight']:g} with --variant realtime, 20 otherwise)")
    p.add_argument("--variant", choices=("realtime", "full", "fast", "both"), default="realtime",
                   help="realtime = the design of the shipped <style>_fast nets (video and cam in real time "
                        "on a CPU), warm-started from the shipped net closest to the painting and trained "
                        "for --time-budget minutes, saved as <name>.pt; full = Johnson et al.'s paper-sized "
                        "net (hours on a CPU); fast = a thin CPU net (<name>_fast.pt); "
                        "both = full and fast side by side")
    p.add_argument("--warm-start", metavar="auto|none|STYLE|FILE.pt",
                   help="start from a trained net: auto = of the shipped nets with the variant's design, "
                        "the one whose output is closest to the painting (lowest training loss on a few "
                        "crops); none = from scratch; or a style name or a Johnson checkpoint (its design "
                        "is kept); default auto with --variant realtime, none otherwise")
    p.add_argument("--content-weight", type=float, default=1.0, help="weight of the content (photo) loss")
    p.add_argument("--content-layer", choices=("relu2_2", "relu3_3"),
                   help="VGG-16 layer of the content loss (Johnson et al. use relu2_2; default "
                        f"{REALTIME['content_layer']} with --variant realtime, relu2_2 otherwise)")
    p.add_argument("--tv-weight", type=float, default=0.3, help="weight of the total-variation (smoothness) loss")
    p.add_argument("--style-size", type=positive_int, default=512, help="long side of the style image")
    p.add_argument("--style-layer-weights", type=_layer_weights, default={}, metavar="LAYER=W,...",
                   help="weights of single Gram style layers (relu1_2, relu2_2, relu3_3, relu4_3; the "
                        "rest stay 1): e.g. relu4_3=0.25 asks less for the painting's largest structures "
                        "(not enough to unlearn candy's blobs: docs/training.md)")
    p.add_argument("--structure-weight", type=non_negative_float, metavar="W",
                   help="weight of a content loss on the grey output and photo averaged over CELL x CELL "
                        "px cells: large motifs (discs, stars) must follow the photo's shapes, finer "
                        "texture and the palette stay free (0 = off; default "
                        f"{REALTIME['structure_weight']:g} with --variant realtime, 0 otherwise)")
    p.add_argument("--structure-cell", type=positive_int, default=4, metavar="CELL",
                   help="cell side in pixels of --structure-weight's averaging")
    add_crop_min(p)
    p.add_argument("--defocus", type=unit_float, default=0.0, metavar="FRACTION",
                   help="fraction of training crops blurred as if out of focus (Gaussian, sigma 1-4 px), so "
                        "the net paints soft backgrounds of video frames instead of leaving flat planes")
    p.add_argument("--flat", type=unit_float, default=0.0, metavar="FRACTION",
                   help="fraction of training crops smoothed into flat shading with sharp edges (an "
                        "edge-preserving filter), as rendered animation is, so the net paints its planes "
                        "(udnie: no gain on big_buck_bunny, docs/training.md)")
    p.add_argument("--temporal-weight", type=non_negative_float, metavar="W",
                   help="weight of the temporal loss on synthetic motion of the training photos, which "
                        "trains steadier video (0 = off; docs/temporal.md; default "
                        f"{REALTIME['temporal_weight']:g} with --variant realtime, 0 otherwise)")
    p.add_argument("--temporal-mode", choices=("warp", "noise", "both"), default="warp",
                   help="warp = photo moved along a random smooth flow (ReReVST); noise = photo plus "
                        "sensor noise (MCCNet); both = the sum")


def johnson_task(args, content, vgg, device, shared):
    from ..errors import InputError
    from ..training.johnson import JohnsonSettings, JohnsonTask, StyleJob

    names = args.name or [p.stem for p in args.style_image]
    if len(names) != len(args.style_image):
        raise InputError("give one --name per --style-image (or none)")
    # one value for all paintings, or a list with one per painting
    weights = args.style_weight if isinstance(args.style_weight, list) else [args.style_weight]
    if len(weights) not in (1, len(args.style_image)):
        raise InputError("give one --style-weight, or one per --style-image")
    variants = ("full", "fast") if args.variant == "both" else (args.variant,)
    jobs = [StyleJob(n, p, v) for n, p in zip(names, args.style_image) for v in variants]
    if len(weights) == 1:
        weights = weights * len(args.style_image)
    per_job_weight = [w for w in weights for _ in variants]
    settings = JohnsonSettings(image_size=args.image_size, batch_size=args.batch_size,
                               style_size=args.style_size, content_weight=args.content_weight,
                               tv_weight=args.tv_weight, content_layer=args.content_layer, seed=args.seed,
                               ema_decay=args.ema, temporal_weight=args.temporal_weight,
                               temporal_mode=args.temporal_mode, crop_min=args.crop_min, defocus=args.defocus,
                               flat=args.flat,
                               style_layer_weights=args.style_layer_weights,
                               structure_weight=args.structure_weight, structure_cell=args.structure_cell)
    return JohnsonTask(jobs, content, vgg, settings, device, style_weights=per_job_weight)


def johnson_recipe(args: argparse.Namespace) -> dict | None:
    return REALTIME if args.variant == "realtime" else None


def johnson_prepare(task, args: argparse.Namespace) -> list[str]:
    if args.init_from:
        return []
    if args.resume:
        task.recall_warm_starts(args.output)
        return []
    return _warm_start(task, args.warm_start, args.shared_dir) if args.warm_start != "none" else []


def johnson_done(task, args: argparse.Namespace) -> str | None:
    if args.variant != "realtime":
        return None
    first = task.jobs[0].key
    return f"to use it: livestyle export --checkpoint {args.output / (first + '.pt')}, then --style {first}"


def _warm_start(task, choice: str, shared_dir) -> list[str]:
    """--warm-start for each net of a johnson run: auto (the closest shipped net of its design), a
    style name or a checkpoint. Returns what was chosen, a line per net."""
    from ..errors import InputError
    from ..models.johnson import TransformerConfig
    from ..runtime import registry
    from ..training.johnson import VARIANTS

    notes = []
    for job in task.jobs:
        if choice == "auto":
            design = VARIANTS[job.variant]
            candidates = {s.name: registry.weights_for(s) for s in registry.list_styles(shared_dir)
                          if s.kind == "johnson" and s.origin == registry.SHIPPED_ORIGIN
                          and TransformerConfig.from_dict(s.meta.get("architecture") or {}) == design}
            if not candidates:
                notes.append(f"{job.key}: no shipped net has the {job.variant} design; training from scratch")
                continue
            best, scores = task.start_from_closest(job.key, candidates)
            others = ", ".join(f"{n} {v:.3g}" for n, v in sorted(scores.items(), key=lambda kv: kv[1]))
            notes.append(f"{job.key}: warm start from {best}, the closest of the shipped nets to the painting "
                  f"(training loss {others})")
            continue
        path = Path(choice)
        if path.suffix != ".pt":
            info = registry.resolve_style(choice, shared_dir)
            if info.kind != "johnson":
                raise InputError(f"--warm-start {choice}: not a livestyle Johnson net; give one of theirs or a .pt")
            path = registry.weights_for(info)
        elif not path.is_file():
            raise InputError(f"--warm-start checkpoint not found: {path}")
        task.start_from_closest(job.key, {choice: path})
        notes.append(f"{job.key}: warm start from {choice}")
    return notes


def add_distill_options(p: argparse.ArgumentParser) -> None:
    from ..argtypes import positive_int

    p.add_argument("--teacher", action="append", required=True, metavar="STYLE",
                   help="a style shipped in exported/ (or a Johnson checkpoint .pt); repeatable")
    p.add_argument("--bank-size", type=positive_int, default=2048, help="crops with precomputed teacher outputs")
    p.add_argument("--edge-weight", type=float, default=1.0, help="weight of the image-gradient L1 term")
    p.add_argument("--student", choices=("thin", "slim", "slim8", "deep8", "deep8s"), default="thin",
                   help="student design: thin (thin separable Johnson net, instance norms), slim (instance "
                        "norms in the encoder only, one reflection border instead of per-conv pads, which "
                        "ONNX Runtime runs faster), slim8 (slim with a third downsampling: blocks at 1/8 with "
                        "96 channels), deep8 (slim8 with 128 channels at 1/8 and its norms in the "
                        "downsampling convs and blocks) or deep8s (deep8 with a separable RGB-out conv, "
                        "cheaper in ONNX Runtime). A fast net as the teacher (mosaic_fast.pt) is taught to "
                        "another design under its own name. Speeds: docs/training.md")
    add_crop_min(p)


def distill_task(args, content, vgg, device, shared):
    from tqdm import tqdm

    from ..errors import InputError
    from ..runtime import registry
    from ..training.distill import STUDENTS, DistillSettings, DistillTask

    teachers = {}
    for t in args.teacher:
        path = Path(t)
        if path.suffix == ".pt":
            if not path.is_file():
                raise InputError(f"teacher checkpoint not found: {path}")
            teachers[path.stem] = path
            continue
        info = registry.resolve_style(t, args.shared_dir)
        if info.kind != "johnson":
            raise InputError(f"'{t}' is not one of livestyle's own Johnson nets; distil from those")
        teachers[info.name] = registry.weights_for(info)
    border = STUDENTS[args.student].border
    if args.image_size <= border:
        raise InputError(f"--student {args.student} reflects a {border} px border around each crop: "
                         f"use --image-size above {border}")
    settings = DistillSettings(image_size=args.image_size, batch_size=args.batch_size,
                               bank_size=args.bank_size, edge_weight=args.edge_weight, seed=args.seed,
                               crop_min=args.crop_min)
    bar = tqdm(total=settings.bank_size // 16 * len(teachers), unit="chunk", desc="teacher outputs")
    task = DistillTask(teachers, content, settings, device, config=STUDENTS[args.student],
                       progress=lambda *a: bar.update())
    bar.close()
    return task


TRAINERS = (
    Trainer("johnson", "fixed-style feed-forward net(s) (Johnson et al. 2016)", add_johnson_options,
            johnson_task, lr=1e-3, recipe=johnson_recipe, prepare=johnson_prepare, done=johnson_done),
    Trainer("distill", "the fast variant of style(s), distilled from their full nets (no VGG: cheap on a CPU)",
            add_distill_options, distill_task, lr=1e-3, needs_vgg=False),
)
