"""Reading and writing still images, normalised to BGR uint8 HxWx3 at the boundary.

Files are read with Pillow. What cameras and editors hand over is taken as a viewer would show
it: the EXIF orientation is applied (phones store portrait photos sideways), 16-bit and palette
images become 8-bit colour, CMYK JPEGs become RGB, and transparency is composited over white.
Pillow opens a file by its header alone, so a picture claiming billions of pixels is refused
before its pixels are decoded. HEIC/HEIF photos (iPhones) need the optional pillow-heif plugin,
registered the first time such a file is met; AVIF is read by Pillow itself (11.3 and newer).
"""

from __future__ import annotations

import functools
import io
import os
import threading
import warnings
from pathlib import Path
from typing import BinaryIO

import cv2
import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError, features

from ..errors import InputError, OutputError
from ..fileio import write_atomically
from ..imageops import to_bgr, to_uint8

# Read and written (OpenCV encodes the results).
IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff"}
ALPHA_SUFFIXES = {".png", ".webp", ".tif", ".tiff"}
# Read only. Listed whether or not this install can decode them: a folder of iPhone photos should
# fail with what to install, not be skipped as if it held no pictures.
HEIF_SUFFIXES = {".heic", ".heif"}
READ_SUFFIXES = IMAGE_SUFFIXES | HEIF_SUFFIXES | {".avif"}

# The largest camera sensors give about 100 megapixels; a header claiming more is a scan to
# downscale first or a decompression bomb (a few KB of PNG that decode to tens of GB).
MAX_IMAGE_PIXELS = 100_000_000

HEIC_HINT = "pip install 'livestyle[heic]'"
AVIF_HINT = "pip install -U 'pillow>=11.3'"

# ISO media "ftyp" brands: HEIF stills (HEVC-coded, as phones write them, or generic) and AVIF.
_HEIF_BRANDS = {b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx", b"hevm", b"hevs", b"mif1", b"msf1"}
_AVIF_BRANDS = {b"avif", b"avis"}

_open_lock = threading.Lock()


@functools.cache
def _heif_plugin() -> bool:
    """Register pillow-heif with Pillow, once; ``False`` where it is not installed."""
    try:
        import pillow_heif
    except ImportError:
        return False
    pillow_heif.register_heif_opener()
    return True


def _iso_media_kind(prefix: bytes) -> str | None:
    """The kind of picture ("AVIF", "HEIF" or ``None``) that the ISO media file-type box, which
    starts HEIC and AVIF files, declares."""
    if prefix[4:8] != b"ftyp":
        return None
    end = min(int.from_bytes(prefix[:4], "big"), len(prefix))
    brands = {prefix[8:12]} | {prefix[i:i + 4] for i in range(16, end - 3, 4)}
    return "AVIF" if brands & _AVIF_BRANDS else "HEIF" if brands & _HEIF_BRANDS else None


def _open_header(stream: BinaryIO) -> Image.Image:
    """Pillow's lazy open (the header only), without Pillow's own size limit: it refuses large
    pictures without saying their size, and livestyle's limit, checked next, names it. The lock
    keeps concurrent readers (the web preview's upload threads) from restoring each other's value."""
    with _open_lock:
        limit, Image.MAX_IMAGE_PIXELS = Image.MAX_IMAGE_PIXELS, None
        try:
            return Image.open(stream)
        finally:
            Image.MAX_IMAGE_PIXELS = limit


def _unreadable(what: str) -> InputError:
    return InputError(f"{what} is not a readable image (corrupt or unsupported format); use JPEG or PNG")


def _open(stream: BinaryIO, what: str) -> Image.Image:
    prefix = stream.read(64)
    stream.seek(0)
    kind = _iso_media_kind(prefix)
    has_heif = kind == "HEIF" and _heif_plugin()
    try:
        return _open_header(stream)
    except UnidentifiedImageError:
        pass
    except Exception as exc:  # a plugin that recognised the file and then choked on its header
        raise _unreadable(what) from exc
    if kind == "HEIF" and not has_heif:
        raise InputError(f"{what} is a HEIC/HEIF photo, which needs the pillow-heif plugin: {HEIC_HINT}")
    if kind == "AVIF" and not ("avif" in features.modules and features.check_module("avif")):
        raise InputError(f"{what} is an AVIF picture, which this Pillow cannot read: {AVIF_HINT}")
    raise _unreadable(what)


def _as_array(image: Image.Image) -> np.ndarray:
    """A loaded Pillow image -> grey (HxW), grey+alpha (HxWx2), BGR or BGRA, writable; 16-bit
    grey stays uint16 and float stays float (``to_uint8`` scales them), other modes become uint8."""
    mode = image.mode
    if mode.startswith("I;16"):
        return np.asarray(image).astype(np.uint16)  # native byte order whatever the file's
    if mode == "I":  # 32-bit integers, holding 8- or 16-bit samples (some TIFFs)
        values = np.asarray(image)
        deep = values.max() > 255
        return np.clip(values, 0, 65535 if deep else 255).astype(np.uint16 if deep else np.uint8)
    if mode == "F":
        return np.array(image, dtype=np.float32)
    # A transparent colour (PNG tRNS) or palette entry becomes an alpha channel, as a viewer shows it.
    see_through = "transparency" in image.info
    if mode in ("1", "L", "LA", "La"):
        return np.array(_in_mode(image, "LA" if see_through or mode in ("LA", "La") else "L"))
    if mode in ("RGBA", "RGBa", "PA") or (mode in ("RGB", "P") and see_through):
        return cv2.cvtColor(np.asarray(_in_mode(image, "RGBA")), cv2.COLOR_RGBA2BGRA)
    return cv2.cvtColor(np.asarray(_in_mode(image, "RGB")), cv2.COLOR_RGB2BGR)  # RGB, P, CMYK, YCbCr...


def _in_mode(image: Image.Image, mode: str) -> Image.Image:
    """``image`` converted to ``mode``; not copied when it is in that mode already (100 megapixels
    of RGB take 400 MB in Pillow)."""
    return image if image.mode == mode else image.convert(mode)


def _decode(stream: BinaryIO, what: str) -> np.ndarray:
    with warnings.catch_warnings():
        # Pillow warns about what it reads past (a corrupt EXIF block, a size past its own limit,
        # which is below livestyle's): the picture comes out all the same, with nothing to act on.
        warnings.simplefilter("ignore")
        with _open(stream, what) as image:
            width, height = image.size
            if width * height > MAX_IMAGE_PIXELS:
                raise InputError(f"{what} is {width}x{height} pixels, more than livestyle reads "
                                 f"({MAX_IMAGE_PIXELS // 1_000_000} megapixels); downscale it first (8000 px "
                                 f"on the long side is plenty)")
            if min(width, height) < 1:
                raise InputError(f"{what} has no pixels")
            try:
                image.load()
            except Exception as exc:  # Pillow's decoders report a bad file with many exception types
                raise _unreadable(what) from exc
            try:
                ImageOps.exif_transpose(image, in_place=True)
            except Exception:  # an odd EXIF block: the pixels as stored, as if no camera had written one
                pass
            try:
                return _as_array(image)
            except ValueError as exc:  # a colour mode Pillow cannot turn into RGB
                raise _unreadable(what) from exc


def decode_image(path, what: str = "image") -> np.ndarray:
    """The picture in ``path`` upright, with its own depth and channels (grey, colour, alpha)."""
    path = Path(path)
    if not path.exists():
        raise InputError(f"{what} not found: {path}")
    if path.is_dir():
        raise InputError(f"{what} {path} is a folder; give an image file")
    if path.stat().st_size == 0:
        raise InputError(f"{what} {path} is empty (0 bytes)")
    try:
        stream = open(path, "rb")
    except OSError as exc:
        raise InputError(f"cannot read {what} {path}: {exc.strerror}") from exc
    with stream:
        return _decode(stream, f"{what} {path}")


def decode_image_bytes(data, what: str = "image") -> np.ndarray:
    """:func:`decode_image` for an encoded file already in memory (bytes or a uint8 array), e.g.
    an upload."""
    return _decode(io.BytesIO(data), what)


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
    files = sorted(p for p in folder.rglob("*") if p.suffix.lower() in READ_SUFFIXES and p.is_file())
    return files
