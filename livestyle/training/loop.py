"""The one training loop shared by the Johnson and AdaIN trainers.

A *task* supplies the modules to train, a ``losses(step)`` function and how to save its models;
the loop owns the optimiser, mixed precision, progress, checkpoints, samples and resume.
"""

from __future__ import annotations

import json
import math
import statistics
import time
from contextlib import nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Protocol

import torch
from tqdm import tqdm

from ..checkpoints import atomic_save, load_torch_file
from ..devices import training_precision
from ..errors import InputError, OutputError, TrainingDiverged
from .averaging import WeightAverage

STATE_FILE = "train_state.pt"
# A logged loss this many times the median of the previous rows is a blow-up, not noise: a
# warm-started net's loss rises 1.5x at most while Adam settles (docs/training.md), and a run
# collapsing to flat colour rises more than a hundredfold within 50 steps (docs/lab/training-log.md).
# The first rows of a run are not judged: a fresh net's loss swings by 20x from step to step.
DIVERGENCE_FACTOR = 10.0
DIVERGENCE_WINDOW = 4   # previous loss-history rows compared against


class TrainingTask(Protocol):
    family: str

    def trainable(self) -> dict[str, torch.nn.Module]: ...

    def losses(self, step: int) -> dict[str, torch.Tensor]:
        """Named scalar losses for this step; 'total' is the one that is minimised."""

    def save_models(self, out_dir: Path, step: int, history: list[dict]) -> list[Path]: ...

    def write_samples(self, out_dir: Path, step: int) -> None: ...

    def init_from(self, folder: Path) -> list[str]:
        """Warm-start weights from model checkpoints a previous run saved; returns what was loaded."""


LR_SCHEDULES = ("constant", "cosine")
# The most of a time budget the learning-rate ramp may take (LoopConfig.time_budget_s).
WARMUP_BUDGET_SHARE = 0.1


@dataclass
class LoopConfig:
    steps: int
    lr: float = 1e-3
    # Linear learning-rate ramp over the first steps. A fresh Adam moves every weight by about
    # ``lr`` per step whatever its gradient, which throws a warm-started net far off before the
    # moment estimates settle (measured: docs/training.md, `--warmup`).
    warmup_steps: int = 0
    # 'constant' holds ``lr`` after the ramp; 'cosine' then lowers it along half a cosine to
    # ``min_lr`` at ``steps``. Lowering the rate is what moved a plateaued fine-tune (halving it:
    # docs/lab/training-log.md).
    schedule: str = "constant"   # one of LR_SCHEDULES
    min_lr: float = 0.0
    # Saved models are an exponential average of the weights with this decay (0: the last step's
    # weights); see averaging.py.
    average_decay: float = 0.0
    checkpoint_every: int = 500
    sample_every: int = 500
    log_every: int = 50
    time_limit_s: float | None = None  # stop (after a checkpoint) before a job's wall clock runs out
    # Training time of the whole run (resumed sessions add up, as steps do): the run stops when it
    # is spent, and a cosine schedule falls with the time spent as well as with the steps, so a
    # run planned in minutes ends at ``min_lr`` whatever this machine's speed.
    time_budget_s: float | None = None
    # 'auto', 'fp32' or 'bf16' (autocast; the weights and optimiser stay fp32): devices.training_precision
    precision: str = "auto"
    extra: dict = field(default_factory=dict)

    def __post_init__(self):
        # a misspelt schedule would otherwise train silently on the cosine
        if self.schedule not in LR_SCHEDULES:
            raise InputError(f"learning-rate schedule '{self.schedule}' is not one of {', '.join(LR_SCHEDULES)}")


def learning_rate(config: LoopConfig, step: int, trained_s: float = 0.0) -> float:
    """The rate for the step that follows ``step`` finished steps (a pure function of the step, so
    a resumed run continues the ramp and the decay exactly; with a time budget, also of the
    training time ``trained_s`` spent so far: the decay follows whichever is further along)."""
    if step + 1 < config.warmup_steps:
        ramp = (step + 1) / config.warmup_steps
        if config.time_budget_s:   # a slow machine would otherwise spend its whole budget ramping up
            ramp = max(ramp, trained_s / (WARMUP_BUDGET_SHARE * config.time_budget_s))
        if ramp < 1.0:
            return config.lr * ramp
    if config.schedule == "constant":
        return config.lr
    start = max(config.warmup_steps - 1, 0)
    progress = min(1.0, (step - start) / max(config.steps - start, 1))
    if config.time_budget_s:
        progress = max(progress, min(1.0, trained_s / config.time_budget_s))
    return config.min_lr + (config.lr - config.min_lr) * 0.5 * (1.0 + math.cos(math.pi * progress))


def _estimated_total(config: LoopConfig, step: int, steps_per_s: float | None, trained_s: float) -> int:
    """Where a budgeted run will stop at ``steps_per_s``: the progress bar's total, so that the ETA
    it works out at the same rate is the end of the budget."""
    if not config.time_budget_s or not steps_per_s:
        return config.steps
    left = max(config.time_budget_s - trained_s, 0.0)
    return min(config.steps, step + int(left * steps_per_s) + 1)


def run_training(task: TrainingTask, out_dir: Path, config: LoopConfig, device: torch.device,
                 resume: bool = False, progress: bool = True,
                 on_log: Callable[[dict], None] | None = None) -> list[dict]:
    """Train until ``config.steps``; returns the loss history (one row per ``log_every`` steps)."""
    out_dir = Path(out_dir)
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"cannot create output folder {out_dir}: {exc.strerror}") from exc
    modules = task.trainable()
    step, history = 0, []
    state_path = out_dir / STATE_FILE
    if resume:
        if not state_path.is_file():
            raise InputError(f"--resume given but {state_path} does not exist; start without --resume")
        state = load_torch_file(state_path, what="training state")
        if _run_family(state.get("family")) != task.family:
            raise InputError(f"{state_path} is a '{state.get('family')}' run, not '{task.family}'")
        # A module the saved run did not train (the task trains more now) keeps the weights the net
        # was built or warm-started with and joins the optimiser after the saved ones, with fresh
        # moments (Adam starts a parameter's state on its first step). The saved order is kept, so
        # the optimiser's parameters line up with its saved state, now and at the next resume.
        saved = [name for name in state["modules"] if name in modules]
        modules = {name: modules[name] for name in saved + [n for n in modules if n not in saved]}
        for name in saved:
            modules[name].load_state_dict(state["modules"][name])
        params = [p for m in modules.values() for p in m.parameters()]
        optimizer = torch.optim.Adam(params, lr=config.lr)
        saved_optimizer = state["optimizer"]
        if len(saved) < len(modules):
            group = dict(saved_optimizer["param_groups"][0], params=list(range(len(params))))
            saved_optimizer = {**saved_optimizer, "param_groups": [group]}
        optimizer.load_state_dict(saved_optimizer)
        step, history = state["step"], state["history"]
        torch.set_rng_state(state["torch_rng"])
        trained_before = state.get("trained_s", 0.0)
    else:
        optimizer = torch.optim.Adam([p for m in modules.values() for p in m.parameters()], lr=config.lr)
        trained_before = 0.0
    # Starts from the (loaded) weights, so averaging can be switched on when a run is resumed.
    average = WeightAverage(modules, config.average_decay) if config.average_decay > 0 else None
    if average and resume and "average" in state:
        average.load_state_dict(state["average"])
    saved_weights = average.swapped_in if average else nullcontext

    amp = training_precision(device.type, config.precision) == "bf16"
    started = time.monotonic()
    first_step = step

    def trained_s() -> float:
        return trained_before + time.monotonic() - started

    def budget_spent() -> bool:
        return bool(config.time_budget_s) and trained_s() >= config.time_budget_s

    bar = tqdm(total=_estimated_total(config, step, None, trained_before), initial=step, unit="step",
               disable=not progress, dynamic_ncols=True)
    running: dict[str, float] = {}
    saved_step, keep_last_checkpoint = step, False

    def checkpoint() -> None:
        nonlocal saved_step
        saved_step = step
        atomic_save({"family": task.family, "step": step, "history": history,
                     "modules": {n: m.state_dict() for n, m in modules.items()},
                     "optimizer": optimizer.state_dict(), "torch_rng": torch.get_rng_state(),
                     "trained_s": trained_s(),
                     **({"average": average.state_dict()} if average else {})},
                    state_path)
        with saved_weights():
            task.save_models(out_dir, step, history)
        (out_dir / "history.json").write_text(json.dumps(history, indent=1))

    def write_samples() -> None:
        for m in modules.values():
            m.eval()
        with saved_weights():
            task.write_samples(out_dir, step)

    try:
        while step < config.steps and not budget_spent():
            for m in modules.values():
                m.train()
            with torch.autocast(device.type, dtype=torch.bfloat16, enabled=amp):
                losses = task.losses(step)
            if not torch.isfinite(losses["total"].detach()):
                raise _diverged(step + 1, "is not a number", saved_step, config.lr)
            optimizer.zero_grad(set_to_none=True)
            losses["total"].backward()
            for group in optimizer.param_groups:
                group["lr"] = learning_rate(config, step, trained_s())
            optimizer.step()
            if average:
                average.update()
            step += 1
            for k, v in losses.items():
                running[k] = running.get(k, 0.0) + float(v.detach())
            if step % config.log_every == 0 or step == config.steps:
                n = config.log_every if step % config.log_every == 0 else step % config.log_every
                row = {"step": step, "time_s": round(time.monotonic() - started, 1),
                       **{k: round(v / n, 5) for k, v in running.items()}}
                before = [r["total"] for r in history[-DIVERGENCE_WINDOW:]]
                usual = statistics.median(before) if len(before) == DIVERGENCE_WINDOW else None
                if usual is not None and row["total"] > DIVERGENCE_FACTOR * max(usual, 1e-8):
                    raise _diverged(step, f"averaged {row['total']:.4g} over the last {n} steps, after "
                                          f"{usual:.4g}", saved_step, config.lr)
                history.append(row)
                running = {}
                bar.set_postfix({k: f"{v:.3g}" for k, v in row.items() if k not in ("step", "time_s")})
                if on_log:
                    on_log(row)
            bar.update(1)
            if config.time_budget_s and not bar.disable:
                # tqdm's own smoothed rate, so that its ETA is the budget's end
                rate = bar.format_dict.get("rate") or (step - first_step) / (time.monotonic() - started)
                bar.total = _estimated_total(config, step, rate, trained_s())
                bar.refresh()
            if step % config.sample_every == 0:
                write_samples()
            if step % config.checkpoint_every == 0:
                checkpoint()
            if config.time_limit_s and time.monotonic() - started > config.time_limit_s:
                break
        if step > first_step and step % config.sample_every:
            write_samples()   # what the net it stops with paints
        if budget_spent() and progress:
            tqdm.write(f"time budget of {config.time_budget_s / 60:g} min spent at step {step}; "
                       "--resume with a larger --time-budget goes on")
    except TrainingDiverged:
        keep_last_checkpoint = True
        raise
    finally:
        bar.close()
        # Always leave a resumable state behind, also on Ctrl-C or a time limit; after a blow-up
        # the last checkpoint is the last good state, so it is kept as it is.
        if not keep_last_checkpoint:
            checkpoint()
    return history


def _diverged(step: int, what: str, saved_step: int, lr: float) -> TrainingDiverged:
    where = f"the checkpoint of step {saved_step} is kept" if saved_step else "no checkpoint was written"
    return TrainingDiverged(f"training diverged at step {step}: the loss {what}; {where}. Go on with --resume "
                            f"and a lower --lr (this run: {lr:g}), or a lower --style-weight")


def _run_family(recorded: str | None) -> str | None:
    """The family a training state records, by today's name where it was renamed since."""
    from ..errors import ModelError
    from ..families import canonical_arch

    try:
        return canonical_arch(recorded) if recorded else recorded
    except ModelError:   # a trainer's own name (distill, adain), not a checkpoint arch
        return recorded
