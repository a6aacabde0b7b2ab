"""``livestyle train johnson|adain|adain-light|distill``: training with checkpoints and resume; ``average`` merges checkpoints of one run."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..devices import PRECISIONS
from ..paths import TORCHVISION_VGG16, VGG16_WEIGHTS
from .common import HelpFormatter, add_shared_dir, bounded_float, non_negative_float, non_negative_int, positive_int, unit_float

# Defaults of the options left at None in the parser: those of every run, then train johnson
# --variant realtime's recipe. The recipe is the one that fine-tuned the shipped fast nets on their
# paintings (docs/training.md: lr 5e-4 after a 50-step ramp, cosine to 1e-5, EMA 0.99, batch 4,
# temporal loss 10, content at relu3_3), in a time budget that ends within a sitting on a CPU;
# its style weight and photo count are measured in docs/own-style.md. The coarse-structure term is
# on there because without it a warm-started net draws the painting's strokes across faces and
# edges (docs/own-style.md, "Measured").
DEFAULTS = {"batch_size": 8, "warmup": 0, "lr_schedule": "constant", "min_lr": 0.0, "ema": 0.0,
            "checkpoint_every": 500, "sample_every": 500, "log_every": 50, "time_budget": None,
            "max_photos": None, "style_weight": [20.0], "content_layer": "relu2_2", "temporal_weight": 0.0,
            "warm_start": "none", "structure_weight": 0.0}
REALTIME = {"batch_size": 4, "lr": 5e-4, "warmup": 50, "lr_schedule": "cosine", "min_lr": 1e-5, "ema": 0.99,
            "checkpoint_every": 100, "sample_every": 100, "log_every": 10, "time_budget": 25.0,
            "max_photos": 500, "style_weight": 2.0, "content_layer": "relu3_3", "temporal_weight": 10.0,
            "warm_start": "auto", "structure_weight": 10.0}


def add_parser(p: argparse.ArgumentParser) -> None:
    sub = p.add_subparsers(dest="family", metavar="FAMILY", required=True)

    j = sub.add_parser("johnson", help="fixed-style feed-forward net(s) (Johnson et al. 2016)",
                       formatter_class=HelpFormatter)
    j.add_argument("--style-image", action="append", required=True, type=Path,
                   help="style painting; repeat to train several nets in one pass (shared content work)")
    j.add_argument("--name", action="append", help="style name per --style-image (default: file stem)")
    j.add_argument("--style-weight", type=float, action="append",
                   help="style weight; one value for all, or one per --style-image (default "
                        f"{REALTIME['style_weight']:g} with --variant realtime, 20 otherwise)")
    j.add_argument("--variant", choices=("realtime", "full", "fast", "both"), default="realtime",
                   help="realtime = the design of the shipped <style>_fast nets (video and cam in real time "
                        "on a CPU), warm-started from the shipped net closest to the painting and trained "
                        "for --time-budget minutes, saved as <name>.pt; full = Johnson et al.'s paper-sized "
                        "net (hours on a CPU); fast = a thin CPU net (<name>_fast.pt); "
                        "both = full and fast side by side")
    j.add_argument("--warm-start", metavar="auto|none|STYLE|FILE.pt",
                   help="start from a trained net: auto = of the shipped nets with the variant's design, "
                        "the one whose output is closest to the painting (lowest training loss on a few "
                        "crops); none = from scratch; or a style name or a Johnson checkpoint (its design "
                        "is kept); default auto with --variant realtime, none otherwise")
    j.add_argument("--content-weight", type=float, default=1.0, help="weight of the content (photo) loss")
    j.add_argument("--content-layer", choices=("relu2_2", "relu3_3"),
                   help="VGG-16 layer of the content loss (Johnson et al. use relu2_2; default "
                        f"{REALTIME['content_layer']} with --variant realtime, relu2_2 otherwise)")
    j.add_argument("--tv-weight", type=float, default=0.3, help="weight of the total-variation (smoothness) loss")
    j.add_argument("--style-size", type=positive_int, default=512, help="long side of the style image")
    j.add_argument("--style-layer-weights", type=_layer_weights, default={}, metavar="LAYER=W,...",
                   help="weights of single Gram style layers (relu1_2, relu2_2, relu3_3, relu4_3; the "
                        "rest stay 1): e.g. relu4_3=0.25 asks less for the painting's largest structures "
                        "(not enough to unlearn candy's blobs: docs/training.md)")
    j.add_argument("--structure-weight", type=non_negative_float, metavar="W",
                   help="weight of a content loss on the grey output and photo averaged over CELL x CELL "
                        "px cells: large motifs (discs, stars) must follow the photo's shapes, finer "
                        "texture and the palette stay free (0 = off; default "
                        f"{REALTIME['structure_weight']:g} with --variant realtime, 0 otherwise)")
    j.add_argument("--structure-cell", type=positive_int, default=4, metavar="CELL",
                   help="cell side in pixels of --structure-weight's averaging")
    _add_crop_min(j)
    j.add_argument("--defocus", type=unit_float, default=0.0, metavar="FRACTION",
                   help="fraction of training crops blurred as if out of focus (Gaussian, sigma 1-4 px), so "
                        "the net paints soft backgrounds of video frames instead of leaving flat planes")
    j.add_argument("--flat", type=unit_float, default=0.0, metavar="FRACTION",
                   help="fraction of training crops smoothed into flat shading with sharp edges (an "
                        "edge-preserving filter), as rendered animation is, so the net paints its planes "
                        "(udnie: no gain on big_buck_bunny, docs/training.md)")
    j.add_argument("--temporal-weight", type=non_negative_float, metavar="W",
                   help="weight of the temporal loss on synthetic motion of the training photos, which "
                        "trains steadier video (0 = off; docs/temporal.md; default "
                        f"{REALTIME['temporal_weight']:g} with --variant realtime, 0 otherwise)")
    j.add_argument("--temporal-mode", choices=("warp", "noise", "both"), default="warp",
                   help="warp = photo moved along a random smooth flow (ReReVST); noise = photo plus "
                        "sensor noise (MCCNet); both = the sum")
    _common(j)

    a = sub.add_parser("adain", help="AdaIN decoder for arbitrary styles (Huang & Belongie 2017)",
                       formatter_class=HelpFormatter)
    a.add_argument("--style-dir", type=Path, action="append", help="folder(s) of paintings "
                   "(default: <shared>/styles)")
    a.add_argument("--style-weight", type=float, default=2.0, help="weight of the mean/std style loss")
    a.add_argument("--content-weight", type=float, default=1.0, help="weight of the loss against the AdaIN target")
    _common(a)

    la = sub.add_parser("adain-light", help="livestyle's light arbitrary-style net: student encoder "
                        "distilled from VGG-16 + small decoder (runs without VGG)", formatter_class=HelpFormatter)
    la.add_argument("--style-dir", type=Path, action="append", help="folder(s) of paintings "
                    "(default: <shared>/styles, held-out paintings excluded)")
    la.add_argument("--hold-out", action="append", default=[], metavar="NAME",
                    help="also keep this painting (file name without extension) out of training, to score "
                         "the net on it later; repeatable (training/adain.py's HELD_OUT_STYLES always are)")
    la.add_argument("--style-weight", type=float, default=2.5, help="weight of the mean/std style loss")
    la.add_argument("--content-weight", type=float, default=1.0, help="weight of the loss against the AdaIN target")
    la.add_argument("--distill-weight", type=float, default=5.0,
                    help="weight of the feature-distillation loss (student taps vs VGG relu1_1..relu4_1)")
    la.add_argument("--gram-weight", type=non_negative_float, default=0.0,
                    help="weight of a Gram style loss on the teacher's taps (channel correlations, which "
                         "mean/std leave out)")
    la.add_argument("--structure-weight", type=non_negative_float, default=0.0,
                    help="weight of the Laplacian of the grey output against the photo's at half size "
                         "(keeps eyes, edges and lettering; Li et al. 2017)")
    la.add_argument("--skip", action="store_true",
                    help="add the 1/4-resolution structure skip to the decoder (models/light_adain.py); a net "
                         "without it warm-starts one with it")
    la.add_argument("--stage", choices=("joint", "decoder"), default="joint",
                    help="joint = encoder, heads and decoder together; decoder = encoder frozen")
    _common(la)

    d = sub.add_parser("distill", help="fast CPU net(s) distilled from our full nets (no VGG: cheap on a CPU)",
                       formatter_class=HelpFormatter)
    d.add_argument("--teacher", action="append", required=True, metavar="STYLE",
                   help="a style shipped in exported/ (or a Johnson checkpoint .pt); repeatable")
    d.add_argument("--bank-size", type=positive_int, default=2048, help="crops with precomputed teacher outputs")
    d.add_argument("--edge-weight", type=float, default=1.0, help="weight of the image-gradient L1 term")
    d.add_argument("--student", choices=("fast", "light", "light8", "deep8"), default="fast",
                   help="student design: fast (thin separable Johnson net, instance norms), light (instance "
                        "norms in the encoder only, one reflection border instead of per-conv pads: about "
                        "1.6x faster in ONNX Runtime on a CPU), light8 (light with a third downsampling: "
                        "blocks at 1/8 with 96 channels, slightly faster) or deep8 (light8 with 128 channels "
                        "at 1/8 and its norms in the downsampling convs and blocks; docs/training.md)")
    _add_crop_min(d)
    _common(d)

    av = sub.add_parser("average", help="one net from the mean of the weights of checkpoints of one run "
                        "(lands between two that miss a goal on either side)", formatter_class=HelpFormatter)
    av.add_argument("checkpoints", nargs="+", type=Path, metavar="CKPT", help="livestyle checkpoints (.pt), two or more")
    av.add_argument("-o", "--output", type=Path, required=True, help="the averaged checkpoint (.pt)")


def _layer_weights(text: str) -> dict[str, float]:
    from ..errors import MissingExtraError
    from ..extras import need

    try:
        need("training", "torch")   # parsing runs before run(), and the parser lives beside the losses
        from ..training.losses import parse_layer_weights

        return parse_layer_weights(text)
    except (ValueError, MissingExtraError) as err:
        raise argparse.ArgumentTypeError(str(err)) from None


def _crop_fraction(text: str) -> float:
    return bounded_float(text, lambda v: 0.0 < v <= 1.0, "a fraction in (0, 1] of a photo's short side")


def _add_crop_min(p: argparse.ArgumentParser) -> None:
    p.add_argument("--crop-min", type=_crop_fraction, default=0.6, metavar="FRACTION",
                   help="smallest training crop as a fraction of a photo's short side (crops span it..1, "
                        "then are scaled to --image-size); smaller values train for larger frames")


def _decay(text: str) -> float:
    value = unit_float(text)
    if value == 1.0:
        raise argparse.ArgumentTypeError("a decay of 1 would never move the average; use a value below 1")
    return value


def _common(p: argparse.ArgumentParser) -> None:
    # Options whose default is None here take it from _defaults (train johnson's realtime variant
    # has a recipe of its own); the help texts say both.
    p.add_argument("--content-dir", type=Path, action="append",
                   help="folder(s) of training photos, searched recursively; each is scaled to 432 px on "
                        "its long side when loaded (default: <shared>/content/train)")
    p.add_argument("--max-photos", type=positive_int, metavar="N",
                   help="train on at most N of the photos, spread over the folder(s) (default: "
                        f"{REALTIME['max_photos']} with train johnson --variant realtime, all otherwise)")
    p.add_argument("-o", "--output", type=Path, required=True, help="output folder for checkpoints")
    p.add_argument("--steps", type=positive_int, default=20000, help="optimiser steps in all (a resumed run counts on)")
    p.add_argument("--time-budget", type=non_negative_float, metavar="MINUTES",
                   help="training time of the run: stop with a checkpoint when it is spent; a cosine "
                        "--lr-schedule falls over it; a resumed run counts on, so give a larger one to go "
                        f"on (default: {REALTIME['time_budget']:g} with train johnson --variant realtime, "
                        "none otherwise; 0 = none)")
    p.add_argument("--batch-size", type=positive_int, help="photos per step (default 8; 4 with --variant realtime)")
    p.add_argument("--image-size", type=positive_int, default=256, help="training crop size")
    p.add_argument("--lr", type=float, help="Adam learning rate (default: 1e-3 johnson and distill, 5e-4 johnson "
                   "--variant realtime, 1e-4 adain, 5e-4 adain-light)")
    p.add_argument("--warmup", type=non_negative_int, metavar="STEPS",
                   help="ramp the learning rate up linearly over this many steps (use with --init-from; "
                        f"default 0, {REALTIME['warmup']} with --variant realtime)")
    p.add_argument("--lr-schedule", choices=("constant", "cosine"),
                   help="after the ramp: hold --lr, or lower it along a half cosine to --min-lr at "
                        "--steps or at the end of --time-budget, whichever comes first (a resumed run keeps "
                        "its place on the curve if they stay the same; default constant, cosine with "
                        "--variant realtime)")
    p.add_argument("--min-lr", type=non_negative_float, metavar="LR",
                   help=f"where --lr-schedule cosine ends (default 0, {REALTIME['min_lr']:g} with --variant realtime)")
    p.add_argument("--ema", type=_decay, metavar="DECAY",
                   help="save an exponential moving average of the weights instead of the last step's "
                        "(e.g. 0.99: about the last 100 steps; 0 = off); can be switched on at --resume "
                        f"(default 0, {REALTIME['ema']:g} with --variant realtime)")
    p.add_argument("--checkpoint-every", type=positive_int,
                   help=f"steps between checkpoints (default 500, {REALTIME['checkpoint_every']} with --variant realtime)")
    p.add_argument("--sample-every", type=positive_int,
                   help="steps between sample images (sample_<step>.jpg: training crops above, the net's "
                        f"output below; default 500, {REALTIME['sample_every']} with --variant realtime)")
    p.add_argument("--log-every", type=positive_int,
                   help=f"steps per loss-history row (default 50, {REALTIME['log_every']} with --variant realtime)")
    p.add_argument("--time-limit", type=float, help="stop cleanly (with a checkpoint) after this many seconds")
    p.add_argument("--resume", action="store_true", help="continue from OUTPUT/train_state.pt")
    p.add_argument("--init-from", type=Path, metavar="DIR",
                   help="warm-start from model checkpoints (<name>.pt) of an earlier run; fresh optimiser")
    p.add_argument("--vgg-weights", type=Path,
                   help="VGG-16 weights: the shared folder's file or torchvision's ImageNet "
                        f"{TORCHVISION_VGG16} as it is (default: <shared>/{VGG16_WEIGHTS}, else "
                        f"{TORCHVISION_VGG16} in torchvision's download cache, ~/.cache/torch/hub/checkpoints)")
    p.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto",
                   help="auto = CUDA when present, else CPU")
    p.add_argument("--precision", choices=PRECISIONS, default="auto",
                   help="arithmetic of the forward and backward passes (weights stay fp32): auto = bf16 "
                        "autocast on CUDA and on CPUs with native bf16 (AVX512-BF16, AMX; about 2x faster "
                        "there), else fp32")
    p.add_argument("--seed", type=int, default=0,
                   help="seed of the initial weights and of the random crops (a batch is a function of seed and step)")
    add_shared_dir(p)


def _refuse_output_among_inputs(output: Path, inputs: list[Path]) -> None:
    """Checkpoints and sample sheets written into a photo folder would be read back as training
    photos by the next run (and a style image as -o would be lost): refuse before any work."""
    from ..errors import OutputError
    from ..fileio import refuse_overwriting_inputs

    refuse_overwriting_inputs(output, inputs)
    out = Path(output).resolve()
    for folder in inputs:
        if Path(folder).is_dir() and Path(folder).resolve() in out.parents:
            raise OutputError(f"output folder {output} is inside the input folder {folder}; the next run "
                              "would train on its sample sheets: choose -o outside it")


def _average(args: argparse.Namespace) -> int:
    from ..checkpoints import atomic_save, load_checkpoint
    from ..fileio import refuse_overwriting_inputs
    from ..training.averaging import average_checkpoints

    refuse_overwriting_inputs(args.output, args.checkpoints)
    averaged = average_checkpoints([load_checkpoint(p) for p in args.checkpoints],
                                   [p.name for p in args.checkpoints])
    atomic_save(averaged, args.output)
    steps = ", ".join(str(s["steps"]) for s in averaged["meta"]["averaged_from"])
    print(f"{args.output}: mean of {len(args.checkpoints)} checkpoints (steps {steps})")
    return 0


def run(args: argparse.Namespace) -> int:
    from ..extras import need

    need("training", "torch")
    if args.family == "average":
        return _average(args)
    import torch

    from ..devices import keep_freed_cpu_memory, pick_device
    from ..errors import InputError, OutputError
    from ..paths import loss_vgg_weights, shared_dir
    from ..training.data import CONTENT_LONG_SIDE, ImageBank
    from ..training.loop import LoopConfig, run_training

    realtime = args.family == "johnson" and args.variant == "realtime"
    _defaults(args, realtime)
    lr = args.lr or {"adain": 1e-4, "adain-light": 5e-4}.get(args.family, REALTIME["lr"] if realtime else 1e-3)
    if args.min_lr > lr:
        raise InputError(f"--min-lr {args.min_lr:g} is above the learning rate {lr:g}; give a lower one")
    device = pick_device(args.device)
    if device.type == "cpu":
        keep_freed_cpu_memory()
    torch.manual_seed(args.seed)  # same seed, same initial weights: runs are reproducible
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True
    shared = shared_dir(args.shared_dir)
    # the distillation needs no VGG-16; the others fail here, before the photos are loaded
    vgg = None if args.family == "distill" else loss_vgg_weights(args.vgg_weights, shared)
    content_dirs = args.content_dir or [shared / "content/train"]
    if not args.content_dir and not content_dirs[0].is_dir():
        raise InputError(f"no training photos: {content_dirs[0]} not found; pass --content-dir FOLDER "
                         "(a few hundred varied photos will do)")
    _refuse_output_among_inputs(args.output, [*content_dirs, *(getattr(args, "style_dir", None) or []),
                                              *(getattr(args, "style_image", None) or [])])
    if args.output.exists() and not args.output.is_dir():
        raise OutputError(f"-o {args.output} is a file; give a folder for the checkpoints")
    content = ImageBank.from_folders(content_dirs, "content", max_side=CONTENT_LONG_SIDE, limit=args.max_photos)
    print(f"{len(content)} training photos from {', '.join(map(str, content_dirs))}")
    loop = LoopConfig(steps=args.steps, lr=lr, warmup_steps=args.warmup, average_decay=args.ema,
                      schedule=args.lr_schedule, min_lr=args.min_lr,
                      checkpoint_every=args.checkpoint_every,
                      sample_every=args.sample_every, log_every=args.log_every, time_limit_s=args.time_limit,
                      time_budget_s=args.time_budget * 60 if args.time_budget else None,
                      precision=args.precision)

    if args.family == "johnson":
        from ..training.johnson import JohnsonSettings, JohnsonTask, StyleJob

        names = args.name or [p.stem for p in args.style_image]
        if len(names) != len(args.style_image):
            raise InputError("give one --name per --style-image (or none)")
        weights = args.style_weight
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
        task = JohnsonTask(jobs, content, vgg, settings, device, style_weights=per_job_weight)
    elif args.family == "distill":
        task = _distill_task(args, content, device)
    elif args.family == "adain-light":
        from ..training.adain import HELD_OUT_STYLES
        from ..training.light_adain import LightAdaINSettings, LightAdaINTask

        from ..media.images import list_images

        style_dirs = args.style_dir or [shared / "styles"]
        known = {p.stem for folder in style_dirs if Path(folder).is_dir() for p in list_images(folder)}
        unknown = sorted(set(args.hold_out) - known)
        if unknown:
            raise InputError(f"--hold-out {', '.join(unknown)}: no such painting in {', '.join(map(str, style_dirs))} "
                             "(give the file name without its extension)")
        held_out = HELD_OUT_STYLES + tuple(n for n in args.hold_out if n not in HELD_OUT_STYLES)
        styles = ImageBank.from_folders(style_dirs, "style", exclude=held_out, max_side=512)
        settings = LightAdaINSettings(image_size=args.image_size, batch_size=args.batch_size,
                                      style_weight=args.style_weight, content_weight=args.content_weight,
                                      distill_weight=args.distill_weight, stage=args.stage,
                                      gram_weight=args.gram_weight, structure_weight=args.structure_weight,
                                      ema_decay=args.ema, seed=args.seed, held_out=held_out)
        from ..models.light_adain import LightAdaINConfig

        task = LightAdaINTask(content, styles, vgg, settings, device, config=LightAdaINConfig(skip=args.skip))
    else:
        from ..training.adain import HELD_OUT_STYLES, AdaINSettings, AdaINTask

        style_dirs = args.style_dir or [shared / "styles"]
        styles = ImageBank.from_folders(style_dirs, "style", exclude=HELD_OUT_STYLES, max_side=512)
        settings = AdaINSettings(image_size=args.image_size, batch_size=args.batch_size,
                                 style_weight=args.style_weight, content_weight=args.content_weight,
                                 seed=args.seed)
        task = AdaINTask(content, styles, vgg, settings, device)
    if args.init_from:
        print(f"warm start from {args.init_from}: {', '.join(task.init_from(args.init_from)) or 'nothing matched'}")
    elif args.resume and args.family == "johnson":
        task.recall_warm_starts(args.output)
    elif args.family == "johnson" and args.warm_start != "none":
        _warm_start(task, args.warm_start, args.shared_dir)
    if loop.time_budget_s:
        print(f"training for {args.time_budget:g} minutes of --time-budget (Ctrl-C stops sooner, with a "
              f"checkpoint); sample images and checkpoints go to {args.output}")
    run_training(task, args.output, loop, device, resume=args.resume)
    print(f"checkpoints in {args.output}")
    if realtime:
        first = task.jobs[0].key
        print(f"to use it: livestyle export --checkpoint {args.output / (first + '.pt')}, then --style {first}")
    return 0


def _defaults(args: argparse.Namespace, realtime: bool) -> None:
    """Fill the options left unset with the run's defaults (train johnson --variant realtime's recipe
    where it has one), and check what depends on them."""
    from ..errors import InputError

    if getattr(args, "warm_start", None) is not None and args.init_from:
        raise InputError("give --init-from or --warm-start, not both")
    for name, value in DEFAULTS.items():
        if getattr(args, name, "absent") is None:
            setattr(args, name, REALTIME[name] if realtime else value)
    if args.family == "johnson":
        if not isinstance(args.style_weight, list):
            args.style_weight = [args.style_weight]
        if args.init_from:
            args.warm_start = "none"


def _warm_start(task, choice: str, shared_dir) -> None:
    """--warm-start for each net of a johnson run: auto (the closest shipped net of its design), a
    style name or a checkpoint."""
    from ..errors import InputError
    from ..models.johnson import TransformerConfig
    from ..runtime import registry
    from ..training.johnson import VARIANTS

    for job in task.jobs:
        if choice == "auto":
            design = VARIANTS[job.variant]
            candidates = {s.name: registry.weights_for(s) for s in registry.list_styles(shared_dir)
                          if s.kind == "johnson" and s.origin == registry.SHIPPED_ORIGIN
                          and TransformerConfig.from_dict(s.meta.get("architecture") or {}) == design}
            if not candidates:
                print(f"{job.key}: no shipped net has the {job.variant} design; training from scratch")
                continue
            best, scores = task.start_from_closest(job.key, candidates)
            others = ", ".join(f"{n} {v:.3g}" for n, v in sorted(scores.items(), key=lambda kv: kv[1]))
            print(f"{job.key}: warm start from {best}, the closest of the shipped nets to the painting "
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
        print(f"{job.key}: warm start from {choice}")


def _distill_task(args, content, device):
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
