"""Command-line value types (argparse ``type=``): whole numbers, bounded floats, pixel sizes.

Used by the commands in ``cli/`` and by the model families, which declare their own ``train``
options; each raises ``argparse.ArgumentTypeError`` with what was expected and what was given.
"""

from __future__ import annotations

import argparse


def whole_number(text: str, minimum: int = 1) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got '{text}'") from None
    if value < minimum:
        raise argparse.ArgumentTypeError(f"must be positive, got {value}" if minimum == 1
                                         else f"must be at least {minimum}, got {value}")
    return value


def positive_int(text: str) -> int:
    return whole_number(text, 1)


def non_negative_int(text: str) -> int:
    return whole_number(text, 0)


def size_arg(text: str) -> int:
    """Long-side pixel sizes: positive and below what fits in memory (16K)."""
    value = positive_int(text)
    if value < 16 or value > 16384:
        raise argparse.ArgumentTypeError(f"size must be between 16 and 16384 pixels, got {value}")
    return value


def bounded_float(text: str, ok, requirement: str) -> float:
    """``text`` as a float for which ``ok(value)`` holds, else an argparse error naming ``requirement``
    (NaN fails every bound)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got '{text}'") from None
    if not ok(value):
        raise argparse.ArgumentTypeError(f"must be {requirement}, got {text}")
    return value


def positive_float(text: str) -> float:
    return bounded_float(text, lambda v: v > 0, "more than 0")


def non_negative_float(text: str) -> float:
    return bounded_float(text, lambda v: v >= 0, "at least 0")


def unit_float(text: str) -> float:
    return bounded_float(text, lambda v: 0.0 <= v <= 1.0, "in 0..1")
