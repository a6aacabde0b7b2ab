"""``livestyle train COMMAND``: training with checkpoints and resume, one command per trainer of a model
family (``livestyle/families/``); ``average`` merges checkpoints of one run."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..devices import PRECISIONS
from ..paths import TORCHVISION_VGG16, VGG16_WEIGHTS
from ..families import trainers
from ..families.johnson import REALTIME
from ..argtypes import non_negative_float, non_negative_int, positive_int, unit_float
from .common import HelpFormatter, add_shared_dir, parse_weights

# Defaults of the options left at None in the parser, for every run; a trainer's recipe (train
# johnson --variant realtime's, families/johnson.py) replaces some.
DEFAULTS = {"batch_size": 8, "warmup": 0, "lr_schedule": "constant", "min_lr": 0.0, "ema": 0.0,
            "checkpoint_every": 500, "sample_every": 500, "log_every": 50, "time_budget": None,
            "max_photos": None, "style_weight": [20.0], "content_layer": "relu2_2", "temporal_weight": 0.0,
            "warm_start": "none", "structure_weight": 0.0}


def add_parser(p: argparse.ArgumentParser) -> None:
    sub = p.add_subparsers(dest="family", metavar="FAMILY", required=True)

    for trainer in trainers().values():
        parser = sub.add_parser(trainer.command, help=trainer.help, formatter_class=HelpFormatter)
        trainer.add_options(parser)
        _common(parser)

    av = sub.add_parser("average", help="one net from the mean of the weights of checkpoints of one run "
                        "(lands between two that miss a goal on either side)", formatter_class=HelpFormatter)
    av.add_argument("checkpoints", nargs="+", type=Path, metavar="CKPT", help="livestyle checkpoints (.pt), two or more")
    av.add_argument("-o", "--output", type=Path, required=True, help="the averaged checkpoint (.pt)")
    av.add_argument("--weights", metavar="W1,W2,...",
                    help="share of each CKPT in the mean, in order (scaled to sum to 1; default: equal)")


def _decay(text: str) -> float:
    value = unit_float(text)
    if value == 1.0:
        raise argparse.ArgumentTypeError("a decay of 1 would never move the average; use a value below 1")
    return value


def _common(p: argparse.ArgumentParser) -> None:
    # Options whose default is None here take it from _defaults (a trainer's recipe, such as train
    # johnson --variant realtime's, replaces some); the help texts say both.
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
    p.add_argument("--lr", type=float, help="Adam learning rate (default: "
                   + ", ".join(f"{t.lr:g} {t.command}" for t in trainers().values())
                   + f", {REALTIME['lr']:g} johnson --variant realtime)")
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
    weights = parse_weights(args.weights, "--weights")
    averaged = average_checkpoints([load_checkpoint(p) for p in args.checkpoints],
                                   [p.name for p in args.checkpoints], weights)
    atomic_save(averaged, args.output)
    parts = ", ".join(f"step {s['steps']} x {s['weight']:.3g}" for s in averaged["meta"]["averaged_from"])
    print(f"{args.output}: mean of {len(args.checkpoints)} checkpoints ({parts})")
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

    trainer = trainers()[args.family]
    recipe = trainer.recipe(args) or {}
    _defaults(args, recipe)
    lr = args.lr or recipe.get("lr", trainer.lr)
    if args.min_lr > lr:
        raise InputError(f"--min-lr {args.min_lr:g} is above the learning rate {lr:g}; give a lower one")
    device = pick_device(args.device)
    if device.type == "cpu":
        keep_freed_cpu_memory()
    torch.manual_seed(args.seed)  # same seed, same initial weights: runs are reproducible
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True
    shared = shared_dir(args.shared_dir)
    # a trainer that needs the VGG-16 fails here without it, before the photos are loaded
    vgg = loss_vgg_weights(args.vgg_weights, shared) if trainer.needs_vgg else None
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

    task = trainer.make_task(args, content, vgg, device, shared)
    if args.init_from:
        print(f"warm start from {args.init_from}: {', '.join(task.init_from(args.init_from)) or 'nothing matched'}")
    for note in trainer.prepare(task, args) or ():
        print(note)
    if loop.time_budget_s:
        print(f"training for {args.time_budget:g} minutes of --time-budget (Ctrl-C stops sooner, with a "
              f"checkpoint); sample images and checkpoints go to {args.output}")
    run_training(task, args.output, loop, device, resume=args.resume)
    print(f"checkpoints in {args.output}")
    done = trainer.done(task, args)
    if done:
        print(done)
    return 0


def _defaults(args: argparse.Namespace, recipe: dict) -> None:
    """Fill the options left unset with the run's defaults (its trainer's ``recipe`` where it has
    one), and check what depends on them."""
    from ..errors import InputError

    if getattr(args, "warm_start", None) is not None and args.init_from:
        raise InputError("give --init-from or --warm-start, not both")
    for name, value in DEFAULTS.items():
        if getattr(args, name, "absent") is None:
            setattr(args, name, recipe.get(name, value))
