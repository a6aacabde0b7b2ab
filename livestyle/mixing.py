"""How several style images mix: one rule for the weights, whatever the method (AdaIN, Gatys).

Both methods mix linearly in a space where the mix means something (AdaIN: the style statistics;
Gatys: the Gram targets), and both want weights that sum to 1 so that the loss or the statistics
keep the scale of a single style.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from .errors import InputError


def mix_weights(weights: Sequence[float] | None, count: int) -> list[float]:
    """One weight per style image, scaled to sum to 1; equal weights for ``None``.

    Weights must be finite and non-negative with a positive sum: a negative weight would push a
    style away, which neither method defines.
    """
    if count < 1:
        raise InputError("give at least one style image")
    if weights is None:
        return [1.0 / count] * count
    weights = [float(w) for w in weights]
    if len(weights) != count:
        raise InputError(f"{len(weights)} style weight(s) (--style-weights) given for {count} style "
                         f"image(s); give one per image")
    if any(not math.isfinite(w) or w < 0 for w in weights) or sum(weights) <= 0:
        raise InputError(f"style weights must be non-negative with a positive sum, got {weights}")
    total = sum(weights)
    return [w / total for w in weights]

