"""Gatys optimisation (``livestyle paint``) on real photos, tiny sizes and few steps (CPU)."""

from __future__ import annotations

import argparse
import dataclasses

import cv2
import numpy as np
import pytest

from livestyle.cli.main import build_parser, main
from livestyle.color import PRESERVE_COLOR_CHOICES
from livestyle.errors import InputError
from livestyle.paths import VGG16_WEIGHTS, shared_dir

torch = pytest.importorskip("torch")

from livestyle.mixing import mix_weights  # noqa: E402
from livestyle.paint import (INITS, OPTIMIZERS, PaintSettings, load_gatys_network, measure_losses,  # noqa: E402
                             paint, scale_plan)

SIZE = 64
VGG_FILE = VGG16_WEIGHTS


def _shared(relative: str):
    path = shared_dir() / relative
    if not path.exists():
        pytest.skip(f"shared data not found ({path}); set LIVESTYLE_SHARED or pass the shared folder")
    return path


@pytest.fixture(scope="module")
def vgg():
    return load_gatys_network(_shared(VGG_FILE))


@pytest.fixture(scope="module")
def photo():
    return _shared("content/eval/golden_gate.jpg")


@pytest.fixture(scope="module")
def starry():
    return _shared("styles/starry_night.jpg")


@pytest.fixture(scope="module")
def scream():
    return _shared("styles/the_scream.jpg")


def settings(**changes) -> PaintSettings:
    return dataclasses.replace(PaintSettings(size=SIZE, steps=15), **changes)


@pytest.fixture(scope="module")
def plain(vgg, photo, starry):
    """One unpreserved result, shared by the colour tests as their baseline."""
    return paint(photo, [starry], vgg, settings())


def small_photo(path) -> np.ndarray:
    bgr = cv2.imread(str(path))
    f = SIZE / max(bgr.shape[:2])
    return cv2.resize(bgr, None, fx=f, fy=f, interpolation=cv2.INTER_AREA)


def lab_ab_difference(a: np.ndarray, b: np.ndarray) -> float:
    lab = lambda img: cv2.cvtColor(img.astype(np.float32) / 255, cv2.COLOR_BGR2Lab)[:, :, 1:]  # noqa: E731
    return float(np.abs(lab(a) - lab(b)).mean())


def test_short_optimisation_lowers_the_loss(vgg, photo, starry):
    seen = []
    result = paint(photo, [starry], vgg, settings(steps=10), progress=seen.append)
    assert result.image.dtype == np.uint8 and max(result.image.shape[:2]) == SIZE
    assert len(seen) == 10 and seen[-1].step == 10 and seen[-1].levels == 1
    assert result.losses["total"] < 0.7 * seen[0].losses["total"]
    before = measure_losses(small_photo(photo), photo, [starry], vgg)
    assert result.losses["style"] < 0.5 * before["style"]


def test_adam_and_noise_init_also_lower_the_loss(vgg, photo, starry):
    seen = []
    result = paint(photo, [starry], vgg, settings(steps=10, optimizer="adam", init="noise"), progress=seen.append)
    assert result.losses["total"] < seen[0].losses["total"]


def test_coarse_to_fine_plan_halves_sizes_and_doubles_steps():
    assert scale_plan(2048, 10) == [(256, 80), (512, 40), (1024, 20), (2048, 10)]
    assert scale_plan(512, 50) == [(256, 100), (512, 50)]
    assert scale_plan(300, 5) == [(300, 5)]


def test_coarse_to_fine_reaches_the_target_size(vgg, photo, starry):
    seen = []
    result = paint(photo, [starry], vgg, settings(size=96, steps=3, coarsest_size=48), progress=seen.append)
    assert [(p.level, p.width) for p in seen if p.step == 1] == [(0, 48), (1, 96)]
    assert max(result.image.shape[:2]) == 96


def test_luminance_mode_keeps_the_photo_colors(vgg, photo, starry, plain):
    result = paint(photo, [starry], vgg, settings(preserve_color="luminance"))
    content = small_photo(photo)
    preserved, unpreserved = lab_ab_difference(result.image, content), lab_ab_difference(plain.image, content)
    assert preserved < 3.0 and preserved < 0.25 * unpreserved


def test_histogram_mode_paints_with_the_photo_palette(vgg, photo, starry, plain):
    result = paint(photo, [starry], vgg, settings(preserve_color="histogram"))
    content_mean = small_photo(photo).reshape(-1, 3).mean(axis=0)
    preserved = np.abs(result.image.reshape(-1, 3).mean(axis=0) - content_mean).max()
    unpreserved = np.abs(plain.image.reshape(-1, 3).mean(axis=0) - content_mean).max()
    assert preserved < 0.5 * unpreserved


def test_style_weights_are_honoured(vgg, photo, starry, scream):
    mostly_starry = paint(photo, [starry, scream], vgg, settings(), style_weights=[0.9, 0.1]).image
    mostly_scream = paint(photo, [starry, scream], vgg, settings(), style_weights=[0.1, 0.9]).image
    to_starry = [measure_losses(img, photo, [starry], vgg)["style"] for img in (mostly_starry, mostly_scream)]
    to_scream = [measure_losses(img, photo, [scream], vgg)["style"] for img in (mostly_starry, mostly_scream)]
    assert to_starry[0] < to_starry[1]
    assert to_scream[1] < to_scream[0]


def test_style_weights_are_normalised_and_checked():
    assert mix_weights([0.7, 0.3], 2) == pytest.approx([0.7, 0.3])
    assert mix_weights([2, 2], 2) == pytest.approx([0.5, 0.5])
    assert mix_weights(None, 4) == pytest.approx([0.25] * 4)
    for bad, count in (([1.0], 2), ([1, -1], 2), ([0, 0], 2), (None, 0)):
        with pytest.raises(InputError):
            mix_weights(bad, count)


@pytest.mark.parametrize("changes, message", [
    ({"steps": 0}, "steps"), ({"size": 0}, "size"), ({"size": 100_000}, "size"),
    ({"optimizer": "sgd"}, "optimizer"), ({"content_layer": "relu9_9"}, "layer"),
    ({"style_weight": -1.0}, "style weight"),
])
def test_bad_settings_raise_input_error(vgg, photo, starry, changes, message):
    with pytest.raises(InputError, match=message):
        paint(photo, [starry], vgg, settings(**changes))


def test_missing_files_raise_input_error(vgg, photo, starry, tmp_path):
    with pytest.raises(InputError, match="not found"):
        paint(tmp_path / "nope.jpg", [starry], vgg, settings())
    with pytest.raises(InputError, match="not found"):
        paint(photo, [tmp_path / "nope.jpg"], vgg, settings())


# --- command line ---------------------------------------------------------------------------------

def _cli(capsys, *argv):
    code = main(["paint", *map(str, argv), "--device", "cpu", "--quiet", "--shared-dir", str(shared_dir())])
    out, err = capsys.readouterr()
    return code, out, err


def test_cli_paints_and_says_where(capsys, photo, starry, tmp_path):
    _shared(VGG_FILE)
    out_path = tmp_path / "out.png"
    code, out, err = _cli(capsys, photo, "--style-image", starry, "-o", out_path, "--size", SIZE, "--steps", 2)
    assert code == 0, err
    assert str(out_path) in out and " s " in out
    assert cv2.imread(str(out_path)).shape[:2] == (SIZE, SIZE)


@pytest.mark.parametrize("args, message", [
    (["--steps", "0"], "steps"),
    (["--size", "0"], "size"),
    (["--size", "100000"], "size"),
    (["--style-weights", "0.7,0.3"], "(--style-weights) given for 1 style image"),
    (["--style-weights", "a,b"], "style-weights"),
    (["--style-image", "missing.jpg"], "not found"),
])
def test_cli_bad_input_gives_one_line_and_no_file(capsys, photo, starry, tmp_path, args, message):
    _shared(VGG_FILE)
    out_path = tmp_path / "out.png"
    code, out, err = _cli(capsys, photo, "--style-image", starry, "-o", out_path, "--size", SIZE, *args)
    assert code != 0
    assert len(err.strip().splitlines()) == 1 and message in err, err
    assert err.startswith("livestyle paint: error:")
    assert not out_path.exists() and list(tmp_path.iterdir()) == []


def test_cli_missing_content_gives_one_line(capsys, starry, tmp_path):
    code, _, err = _cli(capsys, tmp_path / "none.jpg", "--style-image", starry, "-o", tmp_path / "o.png")
    assert code != 0 and len(err.strip().splitlines()) == 1 and "not found" in err
    assert list(tmp_path.iterdir()) == []


def test_cli_defaults_and_choices_match_the_library():
    """The CLI spells them out so that --help needs no torch; they must not drift."""
    parser = build_parser()
    args = parser.parse_args(["paint", "c.jpg", "--style-image", "s.jpg", "-o", "o.png"])
    defaults = PaintSettings()
    for name in ("size", "steps", "optimizer", "style_weight", "content_weight", "tv_weight",
                 "content_layer", "init", "preserve_color", "seed"):
        assert getattr(args, name) == getattr(defaults, name), name
    paint_parser = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction)).choices["paint"]
    choices = {a.dest: tuple(a.choices) for a in paint_parser._actions if a.choices}
    assert choices["optimizer"] == OPTIMIZERS
    assert choices["init"] == INITS
    assert choices["preserve_color"] == PRESERVE_COLOR_CHOICES
