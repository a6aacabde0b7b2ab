#!/usr/bin/env python
"""Build the data pack a device job carries (``.gpu/``, git-ignored): ../shared does not travel.

What goes in: the training photos, centre-cropped to squares of ``--size`` px (JPEG), the style
images a job names (long side at most 512, as the trainer reads them), and the VGG-16 loss
network's weights as they are. The pack stays out of the repository (the shared data's terms);
the device tool carries at most 64 MiB, which this checks before anything is written.

    python tools/gpu/make_pack.py --out .gpu --styles mosaic,candy,starry_night,the_scream,udnie_engstrom
"""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

import cv2

from livestyle.imageops import resize_long_side
from livestyle.paths import VGG16_WEIGHTS, shared_dir

CARRY_LIMIT = 64 * 2**20
PHOTO_SUFFIXES = {".jpg", ".jpeg", ".png"}


def centre_square(image, size: int):
    h, w = image.shape[:2]
    side = min(h, w)
    y, x = (h - side) // 2, (w - side) // 2
    return cv2.resize(image[y:y + side, x:x + side], (size, size), interpolation=cv2.INTER_AREA)


def encoded(path: Path, transform, quality: int) -> bytes:
    image = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if image is None:
        raise SystemExit(f"make_pack: cannot read {path}")
    ok, data = cv2.imencode(".jpg", transform(image), [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise SystemExit(f"make_pack: cannot encode {path}")
    return data.tobytes()


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", type=Path, default=Path(".gpu"), help="pack folder (replaced)")
    p.add_argument("--styles", default="mosaic,candy,starry_night,the_scream,udnie_engstrom",
                   help="style images from <shared>/styles, comma-separated names without .jpg")
    p.add_argument("--size", type=int, default=256, help="side of the square training photos")
    p.add_argument("--quality", type=int, default=85, help="JPEG quality of the photos")
    p.add_argument("--limit", type=int, default=0, help="photos at most (0: all; a small pack for tests)")
    p.add_argument("--shared-dir")
    args = p.parse_args()
    shared = shared_dir(args.shared_dir, must_exist=True)

    files: dict[Path, bytes] = {}
    photos = sorted(q for q in (shared / "content/train").rglob("*") if q.suffix.lower() in PHOTO_SUFFIXES)
    for q in photos[:args.limit or None]:
        rel = q.relative_to(shared / "content/train").with_suffix(".jpg")
        files[Path("content") / rel] = encoded(q, lambda im: centre_square(im, args.size), args.quality)
    for name in filter(None, args.styles.split(",")):
        src = next((shared / "styles" / f"{name}{ext}" for ext in (".jpg", ".png")
                    if (shared / "styles" / f"{name}{ext}").is_file()), None)
        if src is None:
            raise SystemExit(f"make_pack: no style image '{name}' in {shared / 'styles'}")
        files[Path("styles") / f"{name}.jpg"] = encoded(src, lambda im: resize_long_side(im, 512), 95)
    vgg = shared / VGG16_WEIGHTS
    total = sum(len(b) for b in files.values()) + vgg.stat().st_size
    print(f"{len(photos[:args.limit or None])} photos, {len(files) - len(photos[:args.limit or None])} styles, "
          f"VGG-16: {total / 2**20:.1f} MiB")
    if total > CARRY_LIMIT:
        print(f"make_pack: {total / 2**20:.1f} MiB is over the device tool's 64 MiB: "
              "lower --quality or --size, or set --limit", file=sys.stderr)
        return 1
    if args.out.exists():
        shutil.rmtree(args.out)
    for rel, data in files.items():
        (args.out / rel).parent.mkdir(parents=True, exist_ok=True)
        (args.out / rel).write_bytes(data)
    (args.out / "vgg").mkdir(parents=True, exist_ok=True)
    shutil.copy2(vgg, args.out / "vgg" / vgg.name)
    print(f"pack written to {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
