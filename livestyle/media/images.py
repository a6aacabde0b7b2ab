"""Reading and writing still images, normalised to BGR uint8 HxWx3 at the boundary.

What cameras and editors hand over is taken as a viewer would show it: the EXIF orientation is
applied (phones store portrait photos sideways), 16-bit and palette images become 8-bit colour,
CMYK JPEGs become RGB, and transparency is composited over white. A file's header is read before
its pixels, so a picture claiming billions of pixels is refused instead of decoded.
"""

from __future__ import annotations

import os
import struct
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from ..errors import InputError, OutputError
from ..fileio import write_atomically
from ..imageops import to_bgr, to_uint8

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff"}
ALPHA_SUFFIXES = {".png", ".webp", ".tif", ".tiff"}

# The largest camera sensors give about 100 megapixels; a header claiming more is a scan to
# downscale first or a decompression bomb (a few KB of PNG that decode to tens of GB).
MAX_IMAGE_PIXELS = 100_000_000


@dataclass(frozen=True)
class ImageHeader:
    width: int        # as stored, before the orientation is applied
    height: int
    orientation: int  # EXIF orientation 1..8 (1: stored upright)


def read_header(data: bytes) -> ImageHeader | None:
    """Size and orientation from a PNG, JPEG, WebP, BMP or TIFF header; ``None`` when unknown."""
    try:
        if data[:8] == b"\x89PNG\r\n\x1a\n":
            return _png_header(data)
        if data[:2] == b"\xff\xd8":
            return _jpeg_header(data)
        if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
            return _webp_header(data)
        if data[:2] == b"BM":
            old_os2 = struct.unpack("<I", data[14:18])[0] == 12  # BITMAPCOREHEADER: 16-bit sizes
            width, height = struct.unpack("<HH" if old_os2 else "<ii", data[18:22 if old_os2 else 26])
            return ImageHeader(abs(width), abs(height), 1)  # negative height: stored top-down
        if data[:4] in (b"II*\x00", b"MM\x00*"):
            tags = _tiff_tags(data, (256, 257))
            return ImageHeader(tags[256], tags[257], 1) if len(tags) == 2 else None
    except (struct.error, IndexError, KeyError):
        return None  # truncated or odd header: the decoder has the last word
    return None


def _png_header(data: bytes) -> ImageHeader:
    width, height = struct.unpack(">II", data[16:24])
    orientation, pos = 1, 8
    while pos + 8 <= len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        if kind == b"eXIf":
            orientation = _tiff_tags(data[pos + 8:pos + 8 + length], (0x0112,)).get(0x0112, 1)
        if kind in (b"IDAT", b"IEND"):
            break  # eXIf must come before the pixels
        pos += 12 + length
    return ImageHeader(width, height, orientation)


def _jpeg_header(data: bytes) -> ImageHeader | None:
    orientation, pos = 1, 2
    while pos + 4 <= len(data):
        if data[pos] != 0xFF:
            return None
        marker = data[pos + 1]
        if marker == 0xFF:
            pos += 1  # fill byte
            continue
        if marker in (0x01, *range(0xD0, 0xD8)):
            pos += 2  # markers without a length
            continue
        length = struct.unpack(">H", data[pos + 2:pos + 4])[0]
        body = data[pos + 4:pos + 2 + length]
        if marker == 0xE1 and body[:6] == b"Exif\x00\x00":
            orientation = _tiff_tags(body[6:], (0x0112,)).get(0x0112, 1)
        # SOF0..SOF15 carry the size; C4 (Huffman), C8 (reserved) and CC (arithmetic) do not.
        if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):
            height, width = struct.unpack(">HH", body[1:5])
            return ImageHeader(width, height, orientation)
        pos += 2 + length
    return None


def _webp_header(data: bytes) -> ImageHeader | None:
    kind = data[12:16]
    if kind == b"VP8X":
        width = 1 + int.from_bytes(data[24:27], "little")
        height = 1 + int.from_bytes(data[27:30], "little")
    elif kind == b"VP8L":
        bits = int.from_bytes(data[21:25], "little")
        width, height = 1 + (bits & 0x3FFF), 1 + ((bits >> 14) & 0x3FFF)
    elif kind == b"VP8 ":
        width, height = (v & 0x3FFF for v in struct.unpack("<HH", data[26:30]))
    else:
        return None
    return ImageHeader(width, height, 1)


def _tiff_tags(data: bytes, wanted: tuple[int, ...]) -> dict[int, int]:
    """Integer values of ``wanted`` tags in the first IFD of a TIFF-structured block (a TIFF
    file or an EXIF payload, which is a TIFF header and IFDs)."""
    order = {b"II": "<", b"MM": ">"}.get(data[:2])
    if order is None:
        return {}
    ifd = struct.unpack(order + "I", data[4:8])[0]
    count = struct.unpack(order + "H", data[ifd:ifd + 2])[0]
    found = {}
    for i in range(count):
        tag, kind, _, value = struct.unpack(order + "HHI4s", data[ifd + 2 + 12 * i:ifd + 14 + 12 * i])
        if tag in wanted and kind in (3, 4):  # SHORT or LONG, stored in the entry itself
            found[tag] = struct.unpack(order + ("H" if kind == 3 else "I"), value[:2 if kind == 3 else 4])[0]
    return found


def upright(image: np.ndarray, orientation: int) -> np.ndarray:
    """Stored pixels -> as displayed, for EXIF orientation 1..8 (the same turns OpenCV's imread
    makes; done here because it skips them when asked for the alpha channel)."""
    if orientation in (5, 6, 7, 8):
        image = image.swapaxes(0, 1)  # transpose: 5 as is; 6, 7, 8 flip it further below
    flip = {2: (1,), 3: (0, 1), 4: (0,), 6: (1,), 7: (0, 1), 8: (0,)}.get(orientation, ())
    return np.ascontiguousarray(np.flip(image, flip) if flip else image)


def decode_image(path, what: str = "image") -> np.ndarray:
    """The picture in ``path`` upright, with its own depth and channels (grey, colour, alpha)."""
    path = Path(path)
    if not path.exists():
        raise InputError(f"{what} not found: {path}")
    if path.is_dir():
        raise InputError(f"{what} {path} is a folder; give an image file")
    if path.stat().st_size == 0:
        raise InputError(f"{what} {path} is empty (0 bytes)")
    return decode_image_bytes(np.fromfile(str(path), dtype=np.uint8), f"{what} {path}")


def decode_image_bytes(data: np.ndarray, what: str = "image") -> np.ndarray:
    """:func:`decode_image` for an encoded file already in memory (uint8 array), e.g. an upload."""
    header = read_header(data[:1 << 20].tobytes())  # metadata before the pixels fits in 1 MB
    if header is not None and header.width * header.height > MAX_IMAGE_PIXELS:
        raise InputError(f"{what} is {header.width}x{header.height} pixels, more than livestyle reads "
                         f"({MAX_IMAGE_PIXELS // 1_000_000} megapixels); downscale it first (8000 px on "
                         f"the long side is plenty)")
    try:
        image = cv2.imdecode(data, cv2.IMREAD_UNCHANGED)
    except cv2.error:
        image = None  # OpenCV's own limits and decoder failures: same answer as a corrupt file
    if image is None:
        raise InputError(f"{what} is not a readable image (corrupt or unsupported format); use JPEG or PNG")
    if min(image.shape[:2]) < 1:
        raise InputError(f"{what} has no pixels")
    return upright(image, header.orientation) if header is not None else image


def read_image(path, what: str = "image") -> np.ndarray:
    """The picture in ``path`` as BGR uint8, as a viewer shows it (transparency over white)."""
    return to_bgr(decode_image(path, what))


def read_image_with_alpha(path, what: str = "image") -> tuple[np.ndarray, np.ndarray | None]:
    """:func:`read_image` plus the picture's transparency (uint8 HxW), if it has any, so that a
    result can keep it."""
    image = decode_image(path, what)
    alpha = None
    if image.ndim == 3 and image.shape[2] in (2, 4):
        alpha = to_uint8(image[:, :, -1])
        if alpha.min() == 255:
            alpha = None  # an alpha channel that is opaque everywhere says nothing
    return to_bgr(image), alpha


def check_writable(path, make_folders: bool = False) -> Path:
    """Fail before the work starts, not after, when an output cannot be written.

    ``make_folders``: missing folders on the way will be created (results of a folder run), so
    the nearest one that exists must take them."""
    path = Path(path)
    parent = path.parent if str(path.parent) else Path(".")
    if path.is_dir():
        raise OutputError(f"output {path} is a folder; give a file name such as {path / 'out.png'}")
    if make_folders:
        parent = next(p for p in (parent, *parent.parents) if p.exists() or p == Path("."))
    elif not parent.exists():
        raise OutputError(f"output folder {parent} does not exist; create it or choose another -o")
    if not parent.is_dir():
        raise OutputError(f"output folder {parent} is a file, not a folder; choose another -o")
    if not os.access(parent, os.W_OK):
        raise OutputError(f"output folder {parent} is not writable; choose another -o")
    return path


def write_image(path, image_bgr: np.ndarray, alpha: np.ndarray | None = None) -> Path:
    """Encode in memory first, so a format problem fails before the file is touched. ``alpha``
    is kept where the format holds it (PNG, WebP, TIFF); elsewhere the picture stays opaque.
    Missing folders on the way are made."""
    path = check_writable(path, make_folders=True)
    suffix = path.suffix.lower() or ".png"
    if suffix not in IMAGE_SUFFIXES:
        raise OutputError(f"cannot write images with extension '{path.suffix}'; use .png or .jpg")
    if alpha is not None and suffix in ALPHA_SUFFIXES:
        image_bgr = np.dstack([image_bgr, alpha])
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
