"""Options shared by several commands, defined once."""

from __future__ import annotations

import argparse


def add_shared_dir(p: argparse.ArgumentParser) -> None:
    p.add_argument("--shared-dir", metavar="DIR",
                   help="folder with the third-party data (default: $LIVESTYLE_SHARED or ../shared)")


def add_device(p: argparse.ArgumentParser, fp16: bool = True) -> None:
    p.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto",
                   help="where to run; auto picks the fastest available")
    if fp16:
        p.add_argument("--fp16", action="store_true", help="half precision (fastest on GPUs)")


def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got '{text}'") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be positive, got {value}")
    return value


def size_arg(text: str) -> int:
    """Long-side pixel sizes: positive and below what fits in memory (16K)."""
    value = positive_int(text)
    if value < 16 or value > 16384:
        raise argparse.ArgumentTypeError(f"size must be between 16 and 16384 pixels, got {value}")
    return value


def unit_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number in 0..1, got '{text}'") from None
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"must be in 0..1, got {value}")
    return value
