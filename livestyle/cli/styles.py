"""``livestyle styles``: what styles exist, who made them and under which licence."""

from __future__ import annotations

import argparse

from .common import add_shared_dir


def add_parser(p: argparse.ArgumentParser) -> None:
    add_shared_dir(p)


def run(args: argparse.Namespace) -> int:
    from ..paths import shared_dir
    from ..runtime.registry import default_style, list_styles

    styles = list_styles(args.shared_dir)
    default = default_style(args.shared_dir) if styles else None
    width = max([len(s.name) for s in styles] + [5])
    print(f"{'style':<{width}}  {'kind':<8}  {'variant':<7}  origin / licence")
    for s in styles:
        mark = "*" if s.name == default else " "
        label = "--style-image" if s.kind == "adain" else s.name
        print(f"{label:<{width}}{mark} {s.kind:<8}  {s.variant:<7}  {s.origin}; {s.licence}")
    if not any(s.kind == "engstrom" for s in styles):
        print(f"(no pretrained third-party styles: shared folder {shared_dir(args.shared_dir)} not found)")
    print("* default style")
    return 0
