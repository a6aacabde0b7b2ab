"""``livestyle train johnson|adain|adain-light|distill``: training with checkpoints and resume; ``average`` merges checkpoints of one run."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..devices import PRECISIONS
from .common import HelpFormatter, add_shared_dir, bounded_float, non_negative_float, non_negative_int, positive_int, unit_float


def add_parser(p: argparse.ArgumentParser) -> None:
    sub = p.add_subparsers(dest="family", metavar="FAMILY", required=True)

    j = sub.add_parser("johnson", help="fixed-style feed-forward net(s) (Johnson et al. 2016)",
                       formatter_class=HelpFormatter)
    j.add_argument("--style-image", action="append", required=True, type=Path,
                   help="style painting; repeat to train several nets in one pass (shared content work)")
    j.add_argument("--name", action="append", help="style name per --style-image (default: file stem)")
    j.add_argument("--style-weight", type=float, action="append",
                   help="style weight; one value for all, or one per --style-image (default 20)")
    j.add_argument("--variant", choices=("full", "fast", "both"), default="full",
                   help="full = paper-sized net; fast = light CPU net; both trains the two")
    j.add_argument("--content-weight", type=float, default=1.0, help="weight of the content (photo) loss")
    j.add_argument("--content-layer", choices=("relu2_2", "relu3_3"), default="relu2_2",
                   help="VGG-16 layer of the content loss (Johnson et al. use relu2_2)")
    j.add_argument("--tv-weight", type=float, default=0.3, help="weight of the total-variation (smoothness) loss")
    j.add_argument("--style-size", type=positive_int, default=512, help="long side of the style image")
    j.add_argument("--style-layer-weights", type=_layer_weights, default={}, metavar="LAYER=W,...",
                   help="weights of single Gram style layers (relu1_2, relu2_2, relu3_3, relu4_3; the "
                        "rest stay 1): e.g. relu4_3=0.25 asks less for the painting's largest structures "
                        "(not enough to unlearn candy's blobs: docs/training.md)")
    j.add_argument("--structure-weight", type=non_negative_float, default=0.0, metavar="W",
                   help="weight of a content loss on the grey output and photo averaged over CELL x CELL "
                        "px cells: large motifs (discs, stars) must follow the photo's shapes, finer "
                        "texture and the palette stay free (0 = off)")
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
    j.add_argument("--temporal-weight", type=non_negative_float, default=0.0, metavar="W",
                   help="weight of the temporal loss on synthetic motion of the training photos, which "
                        "trains steadier video (0 = off; docs/temporal.md)")
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
    la.add_argument("--style-weight", type=float, default=2.5, help="weight of the mean/std style loss")
    la.add_argument("--content-weight", type=float, default=1.0, help="weight of the loss against the AdaIN target")
    la.add_argument("--distill-weight", type=float, default=5.0,
                    help="weight of the feature-distillation loss (student taps vs VGG relu1_1..relu4_1)")
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
    from ..training.losses import parse_layer_weights

    try:
        return parse_layer_weights(text)
    except ValueError as err:
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
    p.add_argument("--content-dir", type=Path, action="append",
                   help="folder(s) of training photos (default: <shared>/content/train)")
    p.add_argument("-o", "--output", type=Path, required=True, help="output folder for checkpoints")
    p.add_argument("--steps", type=positive_int, default=20000, help="optimiser steps in all (a resumed run counts on)")
    p.add_argument("--batch-size", type=positive_int, default=8, help="photos per step")
    p.add_argument("--image-size", type=positive_int, default=256, help="training crop size")
    p.add_argument("--lr", type=float, help="Adam learning rate (default: 1e-3 johnson and distill, 1e-4 adain, 5e-4 adain-light)")
    p.add_argument("--warmup", type=non_negative_int, default=0, metavar="STEPS",
                   help="ramp the learning rate up linearly over this many steps (use with --init-from)")
    p.add_argument("--lr-schedule", choices=("constant", "cosine"), default="constant",
                   help="after the ramp: hold --lr, or lower it along a half cosine to --min-lr at "
                        "--steps (a resumed run keeps its place on the curve if --steps stays the same)")
    p.add_argument("--min-lr", type=non_negative_float, default=0.0, metavar="LR",
                   help="where --lr-schedule cosine ends")
    p.add_argument("--ema", type=_decay, default=0.0, metavar="DECAY",
                   help="save an exponential moving average of the weights instead of the last step's "
                        "(e.g. 0.99: about the last 100 steps; 0 = off); can be switched on at --resume")
    p.add_argument("--checkpoint-every", type=positive_int, default=500, help="steps between checkpoints")
    p.add_argument("--sample-every", type=positive_int, default=500, help="steps between sample images")
    p.add_argument("--log-every", type=positive_int, default=50, help="steps per loss-history row")
    p.add_argument("--time-limit", type=float, help="stop cleanly (with a checkpoint) after this many seconds")
    p.add_argument("--resume", action="store_true", help="continue from OUTPUT/train_state.pt")
    p.add_argument("--init-from", type=Path, metavar="DIR",
                   help="warm-start from model checkpoints (<name>.pt) of an earlier run; fresh optimiser")
    p.add_argument("--vgg-weights", type=Path, help="VGG-16 weights (default: <shared>/weights/vgg/...)")
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
    if args.family == "average":
        return _average(args)
    import torch

    from ..devices import keep_freed_cpu_memory, pick_device
    from ..errors import InputError
    from ..paths import shared_dir, vgg_weights
    from ..training.data import ImageBank
    from ..training.loop import LoopConfig, run_training

    lr = args.lr or {"adain": 1e-4, "adain-light": 5e-4}.get(args.family, 1e-3)
    if args.min_lr > lr:
        raise InputError(f"--min-lr {args.min_lr:g} is above the learning rate {lr:g}; give a lower one")
    device = pick_device(args.device)
    if device.type == "cpu":
        keep_freed_cpu_memory()
    torch.manual_seed(args.seed)  # same seed, same initial weights: runs are reproducible
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True
    shared = shared_dir(args.shared_dir)
    vgg = vgg_weights(args.vgg_weights, shared)
    content_dirs = args.content_dir or [shared / "content/train"]
    _refuse_output_among_inputs(args.output, [*content_dirs, *(getattr(args, "style_dir", None) or []),
                                              *(getattr(args, "style_image", None) or [])])
    content = ImageBank.from_folders(content_dirs, "content")
    loop = LoopConfig(steps=args.steps, lr=lr, warmup_steps=args.warmup, average_decay=args.ema,
                      schedule=args.lr_schedule, min_lr=args.min_lr,
                      checkpoint_every=args.checkpoint_every,
                      sample_every=args.sample_every, log_every=args.log_every, time_limit_s=args.time_limit,
                      precision=args.precision)

    if args.family == "johnson":
        from ..training.johnson import JohnsonSettings, JohnsonTask, StyleJob

        names = args.name or [p.stem for p in args.style_image]
        if len(names) != len(args.style_image):
            raise InputError("give one --name per --style-image (or none)")
        weights = args.style_weight or [20.0]
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

        styles = ImageBank.from_folders(args.style_dir or [shared / "styles"], "style",
                                        exclude=HELD_OUT_STYLES, max_side=512)
        settings = LightAdaINSettings(image_size=args.image_size, batch_size=args.batch_size,
                                      style_weight=args.style_weight, content_weight=args.content_weight,
                                      distill_weight=args.distill_weight, stage=args.stage,
                                      ema_decay=args.ema, seed=args.seed)
        task = LightAdaINTask(content, styles, vgg, settings, device)
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
    run_training(task, args.output, loop, device, resume=args.resume)
    print(f"checkpoints in {args.output}")
    return 0


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
