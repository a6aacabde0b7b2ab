"""``livestyle demo``: the first thing to run after installing. Stylises a photo, says where it went."""

from __future__ import annotations

import argparse
from pathlib import Path

from .common import add_device, add_shared_dir

DEMO_PHOTO = Path("content/eval/chicago.jpg")


def add_parser(p: argparse.ArgumentParser) -> None:
    p.add_argument("--style", help="style to show (default: livestyle's own mosaic)")
    p.add_argument("-o", "--output", type=Path, default=Path("livestyle_demo.png"),
                   help="where to write the before/after picture")
    add_device(p, fp16=False)
    add_shared_dir(p)


def generated_scene(width: int = 640, height: int = 400):
    """A synthetic landscape for machines without the shared photos: sky, sun, hills, houses."""
    import cv2
    import numpy as np

    y = np.linspace(0, 1, height, dtype=np.float32)[:, None, None]
    img = (np.array([235, 190, 120], np.float32) * (1 - y) + np.array([255, 240, 220], np.float32) * y)
    img = np.broadcast_to(img, (height, width, 3)).copy().astype(np.uint8)
    cv2.circle(img, (width * 3 // 4, height // 4), height // 9, (80, 210, 255), -1, cv2.LINE_AA)
    xs = np.arange(width)
    hills = (height * 0.62 + 25 * np.sin(xs / 57.0) + 12 * np.sin(xs / 13.0)).astype(int)
    for x, top in zip(xs, hills):
        img[top:, x] = (60, 140 - (top % 40), 50)
    for i, x0 in enumerate(range(40, width - 80, 130)):
        top = int(height * 0.55) + (i % 2) * 20
        cv2.rectangle(img, (x0, top), (x0 + 70, top + 80), (60 + 30 * i, 80, 180 - 20 * i), -1)
        pts = np.array([[x0 - 8, top], [x0 + 35, top - 40], [x0 + 78, top]], np.int32)
        cv2.fillPoly(img, [pts], (40, 40, 150))
    return img


def run(args: argparse.Namespace) -> int:
    import time

    import numpy as np

    from ..fileio import refuse_overwriting_inputs
    from ..media.images import check_writable, read_image, write_image
    from ..paths import shared_dir
    from ..runtime.factory import create_stylizer

    photo_path = shared_dir(args.shared_dir) / DEMO_PHOTO
    refuse_overwriting_inputs(args.output, [photo_path])
    check_writable(args.output)
    photo = read_image(photo_path) if photo_path.is_file() else generated_scene()
    source = str(photo_path) if photo_path.is_file() else "a generated scene (shared photos not found)"
    stylizer = create_stylizer(style=args.style, size=512, device=args.device, shared_dir=args.shared_dir)
    started = time.perf_counter()
    result = stylizer(photo)
    elapsed = time.perf_counter() - started
    write_image(args.output, np.concatenate([photo, result], axis=1))
    print(f"stylised {source} with '{stylizer.name}' on {stylizer.backend} in {elapsed:.2f} s")
    print(f"wrote {args.output.resolve()} (left: photo, right: stylised)")
    return 0
