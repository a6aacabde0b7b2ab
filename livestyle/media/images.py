"""Reading and writing still images, normalised to BGR uint8 HxWx3 at the boundary."""

from __future__ import annotations

import os
from pathlib import Path

import cv2
import numpy as np

from ..errors import InputError, OutputError
from ..fileio import write_atomically
from ..imageops import to_bgr

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff"}


def read_image(path, what: str = "image") -> np.ndarray:
    path = Path(path)
    if not path.exists():
        raise InputError(f"{what} not found: {path}")
    if path.is_dir():
        raise InputError(f"{what} {path} is a folder; give an image file")
    if path.stat().st_size == 0:
        raise InputError(f"{what} {path} is empty (0 bytes)")
    data = np.fromfile(str(path), dtype=np.uint8)
    image = cv2.imdecode(data, cv2.IMREAD_UNCHANGED)
    if image is None:
        raise InputError(f"{what} {path} is not a readable image (corrupt or unsupported format); "
                         f"use JPEG or PNG")
    if min(image.shape[:2]) < 1:
        raise InputError(f"{what} {path} has no pixels")
    return to_bgr(image)


def check_writable(path) -> Path:
    """Fail before the work starts, not after, when an output cannot be written."""
    path = Path(path)
    parent = path.parent if str(path.parent) else Path(".")
    if path.is_dir():
        raise OutputError(f"output {path} is a folder; give a file name such as {path / 'out.png'}")
    if not parent.exists():
        raise OutputError(f"output folder {parent} does not exist; create it or choose another -o")
    if not os.access(parent, os.W_OK):
        raise OutputError(f"output folder {parent} is not writable; choose another -o")
    return path


def write_image(path, image_bgr: np.ndarray) -> Path:
    """Encode in memory first, so a format problem fails before the file is touched."""
    path = check_writable(path)
    suffix = path.suffix.lower() or ".png"
    if suffix not in IMAGE_SUFFIXES:
        raise OutputError(f"cannot write images with extension '{path.suffix}'; use .png or .jpg")
    ok, encoded = cv2.imencode(suffix, image_bgr)
    if not ok:
        raise OutputError(f"could not encode the result as {suffix}")
    write_atomically(path, lambda tmp: encoded.tofile(str(tmp)))
    return path


def list_images(folder) -> list[Path]:
    folder = Path(folder)
    if not folder.is_dir():
        raise InputError(f"folder not found: {folder}")
    files = sorted(p for p in folder.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())
    return files
