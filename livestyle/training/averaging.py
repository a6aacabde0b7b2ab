"""Exponential moving average of a net's weights (Polyak averaging) for the saved models.

At the small batches a CPU affords, consecutive checkpoints of one run scatter widely (a udnie
fine-tune's eval style loss, docs/training.md, "Fine-tuning udnie on the CPU");
the averaged weights sit in the middle of that scatter instead of wherever the last step left
them. The raw weights keep training; only what is saved and sampled is averaged.

:func:`average_checkpoints` does the same after the fact, uniformly, over saved checkpoints of one
run: where two checkpoints sit on either side of a goal (one a little short on style, the next a
little over on content), the mean of their weights lands between them (docs/training.md).
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator

import torch

from ..errors import ModelError
from ..mixing import mix_weights


class WeightAverage:
    """``avg = decay * avg + (1 - decay) * weights`` after every optimiser step, per module."""

    def __init__(self, modules: dict[str, torch.nn.Module], decay: float):
        if not 0.0 < decay < 1.0:
            raise ValueError(f"averaging decay must be in (0, 1), got {decay}")
        self.modules, self.decay = modules, decay
        self.averages = {name: self._floats(m) for name, m in modules.items()}

    @staticmethod
    def _floats(module: torch.nn.Module) -> dict[str, torch.Tensor]:
        return {k: v.detach().clone() for k, v in module.state_dict().items() if v.is_floating_point()}

    @torch.no_grad()
    def update(self) -> None:
        for name, module in self.modules.items():
            current = module.state_dict()
            for key, avg in self.averages[name].items():
                avg.lerp_(current[key], 1.0 - self.decay)

    def state_dict(self) -> dict:
        return {"decay": self.decay, "averages": self.averages}

    def load_state_dict(self, state: dict) -> None:
        for name, avg in state["averages"].items():
            if name in self.averages:
                self.averages[name] = {k: v.clone() for k, v in avg.items()}

    @contextmanager
    def swapped_in(self) -> Iterator[None]:
        """The modules hold the averaged weights inside the block and their own ones after it."""
        saved = {name: self._floats(m) for name, m in self.modules.items()}
        try:
            for name, module in self.modules.items():
                module.load_state_dict(self.averages[name], strict=False)
            yield
        finally:
            for name, module in self.modules.items():
                module.load_state_dict(saved[name], strict=False)


def average_checkpoints(checkpoints: list[dict], names: list[str] | None = None,
                        weights: list[float] | None = None) -> dict:
    """The mean of the weights of ``checkpoints`` (same architecture and config), uniform or with
    ``weights`` (one per checkpoint, scaled to sum to 1: a point on the line between two nets).

    Integer tensors (none in today's nets) are taken from the last checkpoint. The result keeps the
    last checkpoint's metadata and records its sources and their shares under ``meta['averaged_from']``.
    """
    if len(checkpoints) < 2:
        raise ModelError("give at least two checkpoints to average")
    names = names or [f"#{i}" for i in range(len(checkpoints))]
    shares = mix_weights(weights, len(checkpoints), "checkpoint", "--weights")
    first, last = checkpoints[0], checkpoints[-1]
    for name, ckpt in zip(names, checkpoints):
        if ckpt["arch"] != first["arch"] or ckpt["config"] != first["config"]:
            raise ModelError(f"{name} is a different net (architecture or size) from {names[0]}; "
                             "average checkpoints of one run")
        if ckpt["state_dict"].keys() != first["state_dict"].keys():
            raise ModelError(f"{name} has other weights than {names[0]}; average checkpoints of one run")
    state = {}
    for key, value in last["state_dict"].items():
        if value.is_floating_point():
            state[key] = sum(w * c["state_dict"][key].float() for w, c in zip(shares, checkpoints)).to(value.dtype)
        else:
            state[key] = value.clone()
    meta = dict(last.get("meta", {}))
    meta["averaged_from"] = [{"checkpoint": name, "steps": c.get("meta", {}).get("steps"), "weight": round(w, 6)}
                             for name, c, w in zip(names, checkpoints, shares)]
    return {**{k: last[k] for k in ("format", "arch", "config")}, "state_dict": state, "meta": meta}
