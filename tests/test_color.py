"""Colour preservation (Gatys et al. 2016) on real photos and paintings from the shared data."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from livestyle.color import (PreserveColor, apply_preserve_color, color_stats, match_color_histogram,
                             parse_preserve_color, preserve_luminance)
from livestyle.errors import InputError
from livestyle.paths import shared_dir


def _shared_image(relative: str, long_side: int) -> np.ndarray:
    path = shared_dir() / relative
    if not path.is_file():
        pytest.skip(f"shared data not found ({path}); set LIVESTYLE_SHARED or pass the shared folder")
    bgr = cv2.imread(str(path))
    f = long_side / max(bgr.shape[:2])
    return cv2.resize(bgr, None, fx=f, fy=f, interpolation=cv2.INTER_AREA)


@pytest.fixture(scope="module")
def photo() -> np.ndarray:
    return _shared_image("content/eval/golden_gate.jpg", 160)


@pytest.fixture(scope="module")
def painting() -> np.ndarray:
    """Stands in for a stylised frame: same layout, the painting's (very different) colours."""
    return _shared_image("styles/starry_night.jpg", 160)


def lab_ab(bgr: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(bgr.astype(np.float32) / 255.0, cv2.COLOR_BGR2Lab)[:, :, 1:]


def ab_difference(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.abs(lab_ab(a) - lab_ab(b)).mean())


def test_luminance_keeps_content_chroma(photo, painting):
    stylized = cv2.resize(painting, photo.shape[1::-1])
    out = preserve_luminance(stylized, photo)
    assert out.shape == photo.shape and out.dtype == np.uint8
    before = ab_difference(stylized, photo)
    after = ab_difference(out, photo)
    assert after < 3.0, f"Lab a/b differ by {after:.2f} from the content"
    assert after < 0.2 * before, f"a/b difference {after:.2f} not far below unpreserved {before:.2f}"


def test_luminance_takes_stylized_structure_and_content_brightness(photo, painting):
    stylized = cv2.resize(painting, photo.shape[1::-1])
    out_y = cv2.cvtColor(preserve_luminance(stylized, photo), cv2.COLOR_BGR2GRAY).astype(np.float32)
    stylized_y = cv2.cvtColor(stylized, cv2.COLOR_BGR2GRAY).astype(np.float32)
    photo_y = cv2.cvtColor(photo, cv2.COLOR_BGR2GRAY).astype(np.float32)
    assert np.corrcoef(out_y.ravel(), stylized_y.ravel())[0, 1] > 0.9
    assert abs(out_y.mean() - photo_y.mean()) < 4.0
    assert abs(out_y.std() - photo_y.std()) < 0.1 * photo_y.std()


def test_luminance_resizes_content_to_the_stylized_size(photo, painting):
    stylized = cv2.resize(painting, (96, 72))
    out = preserve_luminance(stylized, photo)
    assert out.shape == stylized.shape
    small_photo = cv2.resize(photo, (96, 72), interpolation=cv2.INTER_AREA)
    assert ab_difference(out, small_photo) < 0.2 * ab_difference(stylized, small_photo)


@pytest.mark.parametrize("method", ["eigen", "cholesky"])
def test_histogram_matching_moves_mean_and_covariance_to_the_content(photo, painting, method):
    out = match_color_histogram(painting, photo, method=method)
    assert out.shape == painting.shape and out.dtype == np.uint8
    mean_c, cov_c = color_stats(photo)
    mean_s, cov_s = color_stats(painting)
    mean_o, cov_o = color_stats(out)
    assert np.abs(mean_o - mean_c).max() < 0.02
    cov_err_before = np.linalg.norm(cov_s - cov_c) / np.linalg.norm(cov_c)
    cov_err_after = np.linalg.norm(cov_o - cov_c) / np.linalg.norm(cov_c)
    # Not exact: pixels pushed beyond 0..255 are clipped.
    assert cov_err_after < 0.35 and cov_err_after < 0.5 * cov_err_before
    # The painting's structure survives the recolouring.
    grey = lambda img: cv2.cvtColor(img, cv2.COLOR_BGR2GRAY).ravel().astype(np.float32)  # noqa: E731
    assert np.corrcoef(grey(out), grey(painting))[0, 1] > 0.8


def test_histogram_matching_an_image_to_itself_changes_nothing(photo):
    out = match_color_histogram(photo, photo)
    assert np.abs(out.astype(int) - photo.astype(int)).max() <= 1


def test_apply_preserve_color_dispatches_every_mode(photo, painting):
    stylized = cv2.resize(painting, photo.shape[1::-1])
    assert apply_preserve_color(None, stylized, photo) is stylized
    assert np.array_equal(apply_preserve_color("luminance", stylized, photo), preserve_luminance(stylized, photo))
    assert np.array_equal(apply_preserve_color(PreserveColor.HISTOGRAM, stylized, photo),
                          match_color_histogram(stylized, photo))


def test_parse_preserve_color():
    assert parse_preserve_color(None) is None
    assert parse_preserve_color("none") is None
    assert parse_preserve_color("Luminance") is PreserveColor.LUMINANCE
    with pytest.raises(InputError, match="histogram"):
        parse_preserve_color("sepia")


def test_bad_frames_raise_input_error(photo):
    with pytest.raises(InputError, match="BGR uint8"):
        preserve_luminance(photo[:, :, 0], photo)
    with pytest.raises(InputError, match="BGR uint8"):
        match_color_histogram(photo.astype(np.float32), photo)
