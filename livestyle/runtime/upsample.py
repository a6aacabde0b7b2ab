"""Large frames: stylised at a bounded working size, brought back to full size with the photo's detail.

A feed-forward style net paints strokes of a fixed size in pixels (the size of its training crops),
so a 4K frame stylised pixel for pixel gets strokes a few hundredths of the frame wide that read as
noise, and the net's memory grows with every pixel (a 50-megapixel photo would need tens of GB).
At the defaults a frame whose long side is above :data:`WORK_SIZE` is therefore stylised at that
long side and brought back up with :func:`detail_upsample`: the painting at working scale, and the
photo's own edges at full scale where the painting follows them.

The upsampling is a guided-filter step (He et al., "Guided Image Filtering", 2013; "Fast Guided
Filter", 2015) with the photo's luminance as the guide. At working scale each output channel is
fitted locally as ``S ~ a * Y + b`` (``Y`` the photo's luminance at working scale): ``a`` says how
strongly the painting follows the photo's tones there. At full scale the result is

    out = up(S) + up(a) * (Y_full - up(Y))

``up`` is one and the same bicubic resampling for ``S`` and ``Y``, so ``Y_full - up(Y)`` is exactly
the luminance detail the working scale cannot hold, and ``out`` keeps every stroke of ``S``
(unlike the plain guided filter, which would replace ``S`` by its smooth local fit). Where the net
follows a photo edge the edge is as sharp as in the photo; where it paints over the photo
(``a`` near 0: flat strokes, texture of its own) none of the photo shows through. A smooth photo
adds nothing, and a frame the net reproduced exactly (``S == Y``, ``a == 1``) comes back exactly.

The full-size work runs in strips of rows, each resampled directly from the working-size arrays
with one affine map (the same formula for every row), so no float copy of a 50-megapixel image is
ever held and strips join without a seam.
"""

from __future__ import annotations

import cv2
import numpy as np

# Long side frames are stylised at when no --size is given. The nets were trained on 256-480 px
# crops and paint strokes of their training size in pixels; at 1280 px a stroke is about 1/100 of
# the frame, which reads as a painting's brushwork. Memory bounds it from above: the heaviest net
# (the VGG-16 AdaIN decoder) plus a 50-megapixel photo and its result must stay within a few GB
# (docs/sizes.md has the measurements).
WORK_SIZE = 1280

# Local fit window (radius in working-scale pixels) and regularisation (grey levels squared):
# below a local contrast of about sqrt(DETAIL_EPS) grey levels the fit is not trusted and the
# painting is left as it is, so photo texture the net painted over does not show through.
DETAIL_RADIUS = 3
DETAIL_EPS = 64.0
# Bound on |a|: a style that steepens an edge gets the photo's detail steepened with it, up to this.
MAX_GAIN = 2.0
# The nets' finest texture sits on their own pixel grid (a period-2 pattern their upsampling
# layers leave); enlarged a few times over it reads as a regular grid of dots at 1:1. A 3x3
# binomial filter (zero response at that period, 0.85 at 8 px) takes that octave out before
# enlarging; edges that follow the photo come back sharp with its detail.
SMOOTH_GRID = True
# Full-size rows per strip: with three channels of float32 that is a few MB per array for 8K.
STRIP_ROWS = 128


def _luminance(bgr: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY).astype(np.float32)


def detail_gains(stylised_bgr: np.ndarray, photo_bgr: np.ndarray, radius: int = DETAIL_RADIUS,
                 eps: float = DETAIL_EPS, max_gain: float = MAX_GAIN) -> np.ndarray:
    """Per-channel gain ``a`` [h, w, 3] of the local fit ``stylised ~ a * luminance(photo) + b``,
    both at working scale (the guided filter's ``a``, luminance as the guide)."""
    y = _luminance(photo_bgr)
    s = stylised_bgr.astype(np.float32)
    y3 = cv2.merge([y, y, y])
    k = (2 * radius + 1, 2 * radius + 1)

    def box(x: np.ndarray) -> np.ndarray:
        return cv2.boxFilter(x, -1, k, borderType=cv2.BORDER_REFLECT)

    # OpenCV's arithmetic rather than numpy's: a 720p frame's gains in a fraction of the time.
    mean_y = box(y3)
    var_y = cv2.subtract(box(cv2.multiply(y3, y3)), cv2.multiply(mean_y, mean_y))
    cov = cv2.subtract(box(cv2.multiply(s, y3)), cv2.multiply(box(s), mean_y))
    gains = cv2.divide(cov, cv2.add(cv2.max(var_y, 0.0), eps))
    return np.clip(gains, -max_gain, max_gain, out=gains)


def detail_upsample(stylised_bgr: np.ndarray, photo_small_bgr: np.ndarray, photo_bgr: np.ndarray,
                    strip_rows: int = STRIP_ROWS, smooth_grid: bool = SMOOTH_GRID,
                    **gain_options) -> np.ndarray:
    """``stylised_bgr`` (the net's result at working size, uint8) at the size of ``photo_bgr``
    (uint8 BGR), with the photo's detail the working size could not hold added where the painting
    follows the photo. ``photo_small_bgr`` is the photo as the net saw it (same size as
    ``stylised_bgr``). Returns a new uint8 BGR array of ``photo_bgr``'s size."""
    h, w = stylised_bgr.shape[:2]
    if photo_small_bgr.shape[:2] != (h, w):
        raise ValueError(f"photo at working size {photo_small_bgr.shape[:2]} != stylised {(h, w)}")
    big_h, big_w = photo_bgr.shape[:2]
    gains = detail_gains(stylised_bgr, photo_small_bgr, **gain_options)
    y_small = cv2.cvtColor(photo_small_bgr, cv2.COLOR_BGR2GRAY)
    if smooth_grid:
        # The guide gets the same filter, so what it takes from edges that follow the photo is
        # part of the detail added back; only the net's own pixel-grid texture stays smoothed.
        stylised_bgr = cv2.GaussianBlur(stylised_bgr, (3, 3), 0)   # [1 2 1] / 4 each way
        y_small = cv2.GaussianBlur(y_small, (3, 3), 0)
    # The painting and the photo's working-scale luminance go up through one and the same uint8
    # bicubic resize (fast, and what the detail is measured against must match what it is added to).
    out = cv2.resize(stylised_bgr, (big_w, big_h), interpolation=cv2.INTER_CUBIC)
    y_up = cv2.resize(y_small, (big_w, big_h), interpolation=cv2.INTER_CUBIC)
    # The gains are smooth: bilinear, strip by strip, each strip mapped from the working-size array
    # (destination pixel centre -> source pixel centre, as cv2.resize maps them).
    sx, sy = w / big_w, h / big_h
    for y0 in range(0, big_h, strip_rows):
        rows = slice(y0, min(y0 + strip_rows, big_h))
        n = rows.stop - y0
        to_source = np.float32([[sx, 0, 0.5 * sx - 0.5], [0, sy, (y0 + 0.5) * sy - 0.5]])
        gain = cv2.warpAffine(gains, to_source, (big_w, n), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                              borderMode=cv2.BORDER_REPLICATE)
        detail = cv2.subtract(cv2.cvtColor(photo_bgr[rows], cv2.COLOR_BGR2GRAY), y_up[rows], dtype=cv2.CV_32F)
        detail = cv2.multiply(gain, cv2.merge([detail, detail, detail]))
        # Rounds and saturates to uint8 in the same pass.
        out[rows] = cv2.add(out[rows], detail, dtype=cv2.CV_8U)
    return out
