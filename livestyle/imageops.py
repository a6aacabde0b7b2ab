"""Small pixel operations shared across the package: frame format and sizes.

Images are BGR uint8 HxWx3 (OpenCV's convention) unless a function says otherwise.
"""

from __future__ import annotations

import cv2
import numpy as np

from .errors import InputError


def to_uint8(image: np.ndarray) -> np.ndarray:
    """Any integer or float depth -> uint8: 16-bit by 257 (65535 -> 255 exactly), floats in 0..1
    or 0..255 by their range."""
    if image.dtype == np.uint8:
        return image
    if image.dtype == np.uint16:
        return (image / 257.0).round().astype(np.uint8)
    return np.clip(image * (255.0 if image.max() <= 1.0 else 1.0), 0, 255).round().astype(np.uint8)


def to_bgr(image: np.ndarray) -> np.ndarray:
    """Grey, grey+alpha, BGR or BGRA (any integer/float depth) -> BGR uint8.

    Transparency is composited over white, as a viewer shows it on a page: the colours stored
    under fully transparent pixels are often black or leftovers, and would be stylised otherwise.
    """
    image = to_uint8(image)
    if image.ndim == 3 and image.shape[2] == 1:
        image = image[:, :, 0]
    if image.ndim == 2:
        return cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
    channels = image.shape[2]
    if channels in (2, 4):
        colour = image[:, :, :1] if channels == 2 else image[:, :, :3]
        alpha = image[:, :, -1:].astype(np.float32) / 255.0
        over_white = colour * alpha + 255.0 * (1.0 - alpha)
        return to_bgr(np.ascontiguousarray(over_white.round().astype(np.uint8)))
    if channels == 3:
        return np.ascontiguousarray(image)
    raise InputError(f"image has {channels} channels; expected 1 (grey), 3 (colour) or 4 (with alpha)")


def resize_long_side(image: np.ndarray, long_side: int, enlarge: int = cv2.INTER_CUBIC) -> np.ndarray:
    """``image`` scaled so that its longer side is ``long_side`` pixels (aspect kept).

    Shrinking averages (INTER_AREA: no aliasing); ``enlarge`` is the interpolation for growing.
    The target size is given to OpenCV in pixels, not as a factor, so both sides are sampled at
    their own exact scale: with a factor the rounded short side is stretched by up to half a pixel.
    """
    h, w = image.shape[:2]
    f = long_side / max(h, w)
    size = (max(1, round(w * f)), max(1, round(h * f)))
    if size == (w, h):
        return image
    return cv2.resize(image, size, interpolation=cv2.INTER_AREA if f < 1 else enlarge)


def fit_in_square(image: np.ndarray, side: int, fill: int = 255) -> np.ndarray:
    """``image`` scaled into a ``side`` x ``side`` canvas of ``fill``, centred: one cell of a sheet."""
    image = resize_long_side(image, side)
    canvas = np.full((side, side, 3), fill, np.uint8)
    y, x = (side - image.shape[0]) // 2, (side - image.shape[1]) // 2
    canvas[y:y + image.shape[0], x:x + image.shape[1]] = image
    return canvas
