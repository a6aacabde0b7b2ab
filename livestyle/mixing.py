"""How several style images mix: one rule for the weights, whatever the method (AdaIN, Gatys).

Both methods mix linearly in a space where the mix means something (AdaIN: the style statistics;
Gatys: the Gram targets), and both want weights that sum to 1 so that the loss or the statistics
keep the scale of a single style.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from .errors import InputError


def mix_weights(weights: Sequence[float] | None, count: int, what: str = "style image",
                option: str = "--style-weights") -> list[float]:
    """One weight per ``what`` (a style image; checkpoints for ``train average``), scaled to sum
    to 1; equal weights for ``None``. ``option`` is where the user gave them.

    Weights must be finite and non-negative with a positive sum: a negative weight would push a
    style away, which neither method defines.
    """
    if count < 1:
        raise InputError(f"give at least one {what}")
    if weights is None:
        return [1.0 / count] * count
    weights = [float(w) for w in weights]
    if len(weights) != count:
        raise InputError(f"{len(weights)} weight(s) ({option}) given for {count} {what}(s); give one per {what}")
    if any(not math.isfinite(w) or w < 0 for w in weights) or sum(weights) <= 0:
        raise InputError(f"{option} must be non-negative with a positive sum, got {weights}")
    total = sum(weights)
    return [w / total for w in weights]
