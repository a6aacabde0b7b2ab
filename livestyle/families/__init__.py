"""livestyle's model families: one module each in this package, found by its file name.

A family is one kind of net livestyle trains and ships (rembg's ``sessions/`` habit: one module per
model, a lookup by name). Its module says everything the rest of livestyle needs to know about it:

* ``ARCH``: the name its checkpoints record; ``ALIASES``: names older checkpoints record;
* ``KIND``: what the runtime does with it: ``"fixed"`` (one style per net) or ``"arbitrary"``
  (any painting; its graphs take the painting's statistics);
* ``build(config)``: the net, from a checkpoint's config (``checkpoints.build_model``);
* ``describe(config)``: one line on its design, for the table of nets (``runtime/catalog.py``);
* ``TRAINERS``: the ``livestyle train`` commands that train it (:class:`Trainer`);
* ``RUNS_ALONE`` (default True): False for a net that needs another in front of it to run;
* ``ship(checkpoint, exported, shared)`` where ``livestyle export`` ships the trained net as it is
  into livestyle's models folder (the arbitrary-style nets); a family without it is exported per
  style (``--checkpoint``, the fixed styles).

Checkpoints, ``livestyle train``, the PyTorch engine and the catalogue read families only through
:func:`family` and :func:`trainers`, so a new family is a new module here beside its net
(``models/``), task (``training/``) and exporter (``export/``), and its tests: nothing else changes.
Family modules import nothing heavy at import time, so the runtime reads them on an install
without PyTorch.
"""

from __future__ import annotations

import argparse
import functools
import importlib
import pkgutil
from dataclasses import dataclass
from types import ModuleType
from typing import Any, Callable

from ..errors import ModelError

KINDS = ("fixed", "arbitrary")


@dataclass(frozen=True)
class Trainer:
    """One ``livestyle train COMMAND``: its options and the task it runs (training/loop.py)."""

    command: str
    help: str
    add_options: Callable[[argparse.ArgumentParser], None]
    # (args, content ImageBank, VGG-16 file or None, torch device, shared folder) -> training task
    make_task: Callable[..., Any]
    lr: float                                   # the default learning rate
    needs_vgg: bool = True
    # Option defaults of this run where they differ from every run's (train's DEFAULTS), or None.
    recipe: Callable[[argparse.Namespace], dict | None] = lambda args: None
    # After the task is built: warm starts beyond --init-from (e.g. from a shipped net); returns
    # what it did, a line each, for the command to print.
    prepare: Callable[[Any, argparse.Namespace], list[str]] = lambda task, args: []
    # After training: what to tell the user.
    done: Callable[[Any, argparse.Namespace], str | None] = lambda task, args: None


@functools.lru_cache(maxsize=1)
def _modules() -> dict[str, ModuleType]:
    found = {}
    for info in pkgutil.iter_modules(__path__):
        module = importlib.import_module(f"{__name__}.{info.name}")
        if module.KIND not in KINDS:
            raise ModelError(f"family {module.ARCH}: KIND must be one of {KINDS}, not {module.KIND!r}")
        for name in (module.ARCH, *getattr(module, "ALIASES", ())):
            found[name] = module
    return found


def family(arch: str) -> ModuleType:
    """The family module whose checkpoints record ``arch`` (or an older name of it)."""
    modules = _modules()
    if arch not in modules:
        known = sorted({m.ARCH for m in modules.values()})
        raise ModelError(f"unknown architecture '{arch}' in checkpoint (livestyle knows {', '.join(known)})")
    return modules[arch]


def canonical_arch(arch: str) -> str:
    """``arch`` as today's checkpoints record it."""
    return family(arch).ARCH


def trainers() -> dict[str, Trainer]:
    """Every ``livestyle train`` command of every family, by command."""
    out: dict[str, Trainer] = {}
    for module in dict.fromkeys(_modules().values()):
        for trainer in getattr(module, "TRAINERS", ()):
            if trainer.command in out:
                raise ModelError(f"two families train with 'livestyle train {trainer.command}'")
            out[trainer.command] = trainer
    return dict(sorted(out.items()))
