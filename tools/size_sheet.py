#!/usr/bin/env python
"""Each style net at several input sizes, to check it stays stylised (not grey, tiled or colour-shifted).

  python tools/size_sheet.py --styles mosaic,candy,starry_night,the_scream,udnie -o docs/images/sizes.jpg

Rows: styles. Columns: the photo stylised at each --sizes long side (shown scaled to one cell),
then a 1:1 crop of the largest size, where stroke scale and artefacts are visible.
"""
from __future__ import annotations

import argparse
from pathlib import Path

import cv2
import numpy as np

from livestyle.imageops import fit_in_square, resize_long_side
from livestyle.media.images import read_image, write_image
from livestyle.paths import shared_dir
from livestyle.runtime.factory import create_stylizer

CELL = 320


def cell(img: np.ndarray, label: str) -> np.ndarray:
    canvas = fit_in_square(img, CELL)
    for color, width in (((0, 0, 0), 3), ((255, 255, 255), 1)):
        cv2.putText(canvas, label, (6, CELL - 10), cv2.FONT_HERSHEY_SIMPLEX, 0.5, color, width)
    return canvas


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--styles", default="mosaic,candy,starry_night,the_scream,udnie")
    ap.add_argument("--photo", help="default: <shared>/content/eval/chicago.jpg")
    ap.add_argument("--sizes", default="256,512,1080")
    ap.add_argument("-o", "--output", type=Path, required=True)
    args = ap.parse_args()
    photo = read_image(args.photo or shared_dir(must_exist=True) / "content/eval/chicago.jpg")
    sizes = [int(s) for s in args.sizes.split(",")]
    rows = []
    for style in args.styles.split(","):
        stylizer = create_stylizer(style, device="cpu")
        outs = [stylizer(resize_long_side(photo, s)) for s in sizes]
        big = outs[-1]
        h, w = big.shape[:2]
        crop = big[h // 2 - CELL // 2:h // 2 + CELL // 2, w // 2 - CELL // 2:w // 2 + CELL // 2]
        rows.append(np.hstack([cell(o, f"{style} @{s}") for o, s in zip(outs, sizes)]
                              + [cell(crop, f"{sizes[-1]} crop 1:1")]))
        print(f"{style}: mean {big.mean():.0f}, std {big.std():.0f} at {sizes[-1]}")
    write_image(args.output, np.vstack(rows))
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
