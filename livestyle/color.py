"""Colour preservation for every stylisation path (Gatys, Bethge, Hertzmann & Shechtman 2016,
"Preserving color in neural artistic style transfer", arXiv:1606.05897).

The paper gives two linear methods, both here and nowhere else:

* **luminance-only transfer**: keep the stylised image's luminance and the
  content's colour channels, after matching the luminance mean/std to the content's;
* **colour histogram matching**: an affine colour map ``x' = A x + b`` that gives
  one image the colour mean and covariance of another.

Frames are BGR uint8 HxWx3 (the OpenCV convention of the whole package). Both stay in 8 bits
with OpenCV ops (cheap next to the net: timings in docs/gatys.md) so the live stylizer can call
them on every frame.
"""

from __future__ import annotations

from enum import Enum

import cv2
import numpy as np

from .errors import InputError

# Lower bound on a luminance/colour variance: keeps flat (e.g. all-black) frames finite.
_EPS = 1e-6


class PreserveColor(str, Enum):
    LUMINANCE = "luminance"
    HISTOGRAM = "histogram"


PRESERVE_COLOR_CHOICES = tuple(mode.value for mode in PreserveColor)


def parse_preserve_color(mode: str | PreserveColor | None) -> PreserveColor | None:
    """``None``/``"none"``/``""`` -> None; a mode name -> the enum; anything else -> InputError."""
    if mode is None or isinstance(mode, PreserveColor):
        return mode
    if mode.strip().lower() in ("", "none", "off"):
        return None
    try:
        return PreserveColor(mode.strip().lower())
    except ValueError:
        raise InputError(f"unknown colour preservation '{mode}'; choose one of "
                         f"{', '.join(PRESERVE_COLOR_CHOICES)} (or none)") from None


def _check_bgr(image: np.ndarray, what: str) -> None:
    if not isinstance(image, np.ndarray) or image.dtype != np.uint8 or image.ndim != 3 \
            or image.shape[2] != 3 or min(image.shape[:2]) < 1:
        shape = getattr(image, "shape", None)
        dtype = getattr(image, "dtype", type(image).__name__)
        raise InputError(f"{what} must be a BGR uint8 HxWx3 image, got shape {shape} dtype {dtype}")


def _resize_to(image: np.ndarray, height: int, width: int) -> np.ndarray:
    if image.shape[:2] == (height, width):
        return image
    shrink = height * width < image.shape[0] * image.shape[1]
    return cv2.resize(image, (width, height), interpolation=cv2.INTER_AREA if shrink else cv2.INTER_LINEAR)


def preserve_luminance(stylized_bgr: np.ndarray, content_bgr: np.ndarray,
                       match_stats: bool = True) -> np.ndarray:
    """The stylised image's luminance on the content's chroma (luminance-only transfer).

    YCrCb rather than the paper's YIQ: both are linear luma/chroma splits of gamma RGB, and
    OpenCV converts 8-bit YCrCb with one linear map, far cheaper than Lab's non-linear one, which
    matters per video frame.
    With ``match_stats`` the stylised luminance is shifted and scaled to the content's mean and
    std (the paper's luminance matching, applied to the output instead of the style image so
    that it also works for feed-forward nets whose style image is baked in), keeping the photo's
    overall brightness.
    The content may have another size: its chroma is resized to the stylised image.
    """
    _check_bgr(stylized_bgr, "stylised image")
    _check_bgr(content_bgr, "content image")
    h, w = stylized_bgr.shape[:2]
    content_y, cr, cb = cv2.split(cv2.cvtColor(_resize_to(content_bgr, h, w), cv2.COLOR_BGR2YCrCb))
    y = cv2.cvtColor(stylized_bgr, cv2.COLOR_BGR2GRAY)
    if match_stats:
        s_mean, s_std = (float(v[0, 0]) for v in cv2.meanStdDev(y))
        c_mean, c_std = (float(v[0, 0]) for v in cv2.meanStdDev(content_y))
        gain = c_std / max(s_std, _EPS)
        # A 256-entry table applies the affine map and the clipping in one pass over the frame.
        table = np.clip((np.arange(256, dtype=np.float32) - s_mean) * gain + c_mean + 0.5, 0, 255)
        y = cv2.LUT(y, table.astype(np.uint8))
    return cv2.cvtColor(cv2.merge([y, cr, cb]), cv2.COLOR_YCrCb2BGR)


def color_stats(image_bgr: np.ndarray, max_samples: int = 1 << 16) -> tuple[np.ndarray, np.ndarray]:
    """Mean (3,) and covariance (3, 3) of the pixel colours, BGR order, 0..1 scale, float64.

    Taken on a regular sub-grid of at most ``max_samples`` pixels: colour moments of a 64k-pixel
    grid are within sampling noise of the full frame's, at a tenth of the cost for 720p.
    """
    _check_bgr(image_bgr, "image")
    h, w = image_bgr.shape[:2]
    step = max(1, int(np.ceil(np.sqrt(h * w / max_samples))))
    pixels = image_bgr[::step, ::step].reshape(-1, 3).astype(np.float64) * (1.0 / 255.0)
    mean = pixels.mean(axis=0)
    centred = pixels - mean
    return mean, centred.T @ centred / len(pixels)


def _sqrt_psd(cov: np.ndarray, inverse: bool = False) -> np.ndarray:
    values, vectors = np.linalg.eigh(cov)
    values = np.maximum(values, _EPS) ** (-0.5 if inverse else 0.5)
    return (vectors * values) @ vectors.T


def color_transfer_matrix(source_cov: np.ndarray, target_cov: np.ndarray,
                          method: str = "eigen") -> np.ndarray:
    """``A`` with ``A source_cov A^T = target_cov`` (both variants the paper describes).

    ``"eigen"`` is the Image Analogies 3D colour matching, ``A = target^1/2 source^-1/2`` with
    symmetric square roots; unlike ``"cholesky"`` (``A = L_target L_source^-1``) it does not depend
    on the order of the colour channels, so it is the default.
    """
    eye = _EPS * np.eye(3)
    if method == "eigen":
        return _sqrt_psd(target_cov) @ _sqrt_psd(source_cov, inverse=True)
    if method == "cholesky":
        l_target = np.linalg.cholesky(target_cov + eye)
        l_source = np.linalg.cholesky(source_cov + eye)
        return l_target @ np.linalg.inv(l_source)
    raise InputError(f"unknown colour transfer method '{method}'; use 'eigen' or 'cholesky'")


def match_color_histogram(source_bgr: np.ndarray, reference_bgr: np.ndarray,
                          method: str = "eigen") -> np.ndarray:
    """``source`` recoloured to the colour mean and covariance of ``reference``.

    Gatys et al. recolour the *style* image to the content's colours before the optimisation
    (``match_color_histogram(style, content)``); for a feed-forward net the style is fixed, so
    :func:`apply_preserve_color` recolours its *output* to the content frame's colours instead.
    """
    mu_s, cov_s = color_stats(source_bgr)
    mu_r, cov_r = color_stats(reference_bgr)
    a = color_transfer_matrix(cov_s, cov_r, method)
    b = (mu_r - a @ mu_s) * 255.0
    # cv2.transform applies the 3x4 affine map to uint8 pixels with rounding and saturation.
    return cv2.transform(source_bgr, np.hstack([a, b[:, None]]).astype(np.float32))


def apply_preserve_color(mode: str | PreserveColor | None, stylized_bgr: np.ndarray,
                         content_bgr: np.ndarray) -> np.ndarray:
    """Post-process a stylised frame so it keeps the content's colours; ``mode=None`` is a no-op."""
    mode = parse_preserve_color(mode)
    if mode is None:
        return stylized_bgr
    if mode is PreserveColor.LUMINANCE:
        return preserve_luminance(stylized_bgr, content_bgr)
    return match_color_histogram(stylized_bgr, content_bgr)
