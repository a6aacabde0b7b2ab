"""Large inputs at the defaults: stylised at the working size, brought back to full size with the
photo's detail (runtime/upsample.py), in bounded memory; ``--size`` still overrides (docs/sizes.md).
"""

from __future__ import annotations

import json
import subprocess
import sys
from fractions import Fraction
from pathlib import Path

import cv2
import numpy as np
import pytest

from livestyle.runtime.stylizer import GraphStylizer, Stylizer
from livestyle.runtime.upsample import WORK_SIZE, detail_gains, detail_upsample

REPO = Path(__file__).resolve().parents[1]


class Identity:
    """An engine that returns its input (a "style" that keeps the photo) and records each batch's shape."""

    backend = "ort-cpu"

    def __init__(self):
        self.shapes: list[tuple] = []

    def run(self, feeds):
        self.shapes.append(feeds["image"].shape)
        return [feeds["image"].copy()]


def identity_stylizer(size: int | None = None) -> tuple[GraphStylizer, Identity]:
    engine = Identity()
    return GraphStylizer(engine, "identity", size=size), engine


def textured_photo(h: int, w: int, seed: int = 0) -> np.ndarray:
    """Smooth colour fields with sharp-edged shapes and fine lines: detail at every scale."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    img = np.stack([80 + 60 * np.sin(xx / w * 5 + c) * np.cos(yy / h * 3 - c) for c in range(3)], -1)
    for _ in range(12):
        x, y = int(rng.integers(0, w)), int(rng.integers(0, h))
        r = int(rng.integers(min(h, w) // 30, min(h, w) // 8))
        cv2.circle(img, (x, y), r, [float(v) for v in rng.integers(0, 256, 3)], -1)
    for i in range(0, w, max(8, w // 40)):
        cv2.line(img, (i, 0), (i + h // 3, h - 1), (250, 250, 250), 1)
    return np.clip(img, 0, 255).astype(np.uint8)


def smooth_photo(h: int, w: int) -> np.ndarray:
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    img = np.stack([40 + 150 * xx / w, 60 + 120 * yy / h, 200 - 100 * (xx + yy) / (w + h)], -1)
    return np.rint(img).astype(np.uint8)


# -- the upsampling step ------------------------------------------------------------------------


def test_a_frame_the_net_kept_comes_back_exactly():
    """S == the photo at working size and a == 1: the working-scale picture plus the detail it
    could not hold is the photo itself (to rounding)."""
    photo = cv2.cvtColor(cv2.cvtColor(textured_photo(600, 900), cv2.COLOR_BGR2GRAY), cv2.COLOR_GRAY2BGR)
    small = cv2.resize(photo, (300, 200), interpolation=cv2.INTER_AREA)
    out = detail_upsample(small, small, photo, eps=1e-6)
    assert out.shape == photo.shape and out.dtype == np.uint8
    assert np.abs(out.astype(int) - photo).max() <= 1
    plain = cv2.resize(small, (900, 600), interpolation=cv2.INTER_CUBIC)
    assert np.abs(plain.astype(int) - photo).mean() > 5 * np.abs(out.astype(int) - photo).mean()


def test_a_smooth_photo_adds_no_detail():
    """A photo without detail beyond the working scale adds nothing: the result is the enlarged
    painting (away from the frame's border, where the resampling extrapolates)."""
    photo = smooth_photo(480, 720)
    small_photo = cv2.resize(photo, (240, 160), interpolation=cv2.INTER_AREA)
    painted = textured_photo(160, 240, seed=3)
    out = detail_upsample(painted, small_photo, photo)
    enlarged = detail_upsample(painted, small_photo, photo, max_gain=0.0)   # no detail at all
    assert np.abs(out.astype(int) - enlarged)[8:-8, 8:-8].max() <= 1


def test_strips_join_without_a_seam():
    photo = textured_photo(500, 700, seed=1)
    small = cv2.resize(photo, (280, 200), interpolation=cv2.INTER_AREA)
    painted = cv2.applyColorMap(cv2.cvtColor(small, cv2.COLOR_BGR2GRAY), cv2.COLORMAP_JET)
    whole = detail_upsample(painted, small, photo, strip_rows=10_000).astype(int)
    strips = detail_upsample(painted, small, photo, strip_rows=7).astype(int)
    assert np.abs(whole - strips).max() <= 1 and (whole != strips).mean() < 1e-3
    # No step at the strip joins: rows across a join differ like any neighbouring rows.
    steps = np.abs(np.diff(strips, axis=0)).mean(axis=(1, 2))
    joins = steps[6::7]
    assert joins.mean() <= 1.1 * steps.mean() + 0.5


def test_gains_follow_the_painting_not_the_photo_texture():
    """Where the painting follows the photo (a tone map of it) the gain is that map's slope; where
    it paints something of its own (noise unrelated to the photo) the gain is near 0."""
    photo = textured_photo(200, 300, seed=2)
    grey = cv2.cvtColor(photo, cv2.COLOR_BGR2GRAY).astype(np.float32)
    following = cv2.merge([np.clip(0.5 * grey + 40, 0, 255).astype(np.uint8)] * 3)
    own = np.random.default_rng(0).integers(0, 256, photo.shape, dtype=np.uint8)
    edges = cv2.dilate((cv2.Canny(photo, 50, 150) > 0).astype(np.uint8), np.ones((5, 5), np.uint8)) > 0
    assert np.median(detail_gains(following, photo)[edges]) == pytest.approx(0.5, abs=0.08)
    assert abs(np.median(detail_gains(own, photo)[edges])) < 0.1


# -- the stylizer at the defaults and with --size -----------------------------------------------


def test_the_help_names_the_runtime_working_size():
    from livestyle.cli.common import WORK_SIZE as HELP_WORK_SIZE

    assert HELP_WORK_SIZE == WORK_SIZE == Stylizer.max_size


@pytest.mark.parametrize("hw,size,seen", [
    ((1500, 2000), None, (960, 1280)),      # at the defaults: long side brought to the working size
    ((600, 800), None, (600, 800)),         # smaller frames: their own size, never enlarged
    ((1500, 2000), 1600, (1200, 1600)),     # --size overrides, shrinking ...
    ((600, 800), 1000, (752, 1000)),        # ... and enlarging (750 padded to the multiple of 4)
    ((1500, 2000), 2000, (1500, 2000)),     # the input's own long side: pixel for pixel
])
def test_size_overrides_the_working_size(hw, size, seen):
    stylizer, engine = identity_stylizer(size)
    frame = textured_photo(*hw)
    out = stylizer(frame)
    assert engine.shapes == [(1, 3, *seen)]
    assert out.shape == frame.shape and out.dtype == np.uint8


@pytest.mark.parametrize("shape", [(1333, 1999, 3), (2001, 1601, 3), (3, 2600, 3), (1400, 1500), (1300, 1700, 4)])
def test_output_has_the_input_size(shape):
    rng = np.random.default_rng(0)
    stylizer, _ = identity_stylizer()
    out = stylizer(rng.integers(0, 255, shape, dtype=np.uint8))
    assert out.shape == shape[:2] + (3,) and out.dtype == np.uint8


def test_working_size_matches_the_full_size_result_with_the_detail_back():
    """With a net that keeps the photo, stylising at the working size gives the full-size result
    (the photo) back: the detail step restores what the plain enlargement blurs."""
    frame = textured_photo(1500, 2400, seed=4)
    stylizer, _ = identity_stylizer()
    out = stylizer(frame).astype(int)
    full = GraphStylizer(Identity(), "identity")
    full.max_size = None
    assert np.array_equal(full(frame), frame)
    small = cv2.resize(frame, (1280, 800), interpolation=cv2.INTER_AREA)
    plain = cv2.resize(small, (2400, 1500), interpolation=cv2.INTER_CUBIC).astype(int)
    err, plain_err = np.abs(out - frame).mean(), np.abs(plain - frame).mean()
    assert err < 0.6 * plain_err, (err, plain_err)
    # Smooth regions (no edge within a few pixels) agree to a grey level or two.
    grey = cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY)
    near_edge = cv2.dilate((cv2.Canny(grey, 20, 60) > 0).astype(np.uint8), np.ones((9, 9), np.uint8)) > 0
    assert np.abs(out - frame)[~near_edge].mean() < 1.5


def test_a_real_net_at_the_working_size_paints_the_same_picture_as_at_full_size():
    """The fast mosaic net at the default working size and pixel for pixel: strokes differ in
    scale, but the picture (colours over regions a few strokes wide) is the same one."""
    from livestyle.runtime.factory import create_stylizer

    frame = cv2.resize(textured_photo(450, 720, seed=5), (1920, 1200), interpolation=cv2.INTER_CUBIC)
    default = create_stylizer("mosaic", model="fast", device="cpu")
    full = create_stylizer("mosaic", model="fast", device="cpu", size=1920)
    a, b = default(frame), full(frame)
    assert a.shape == b.shape == frame.shape
    blur = lambda x: cv2.GaussianBlur(x.astype(np.float32), (0, 0), 24)
    assert np.abs(blur(a) - blur(b)).mean() < 12
    # Against an unrelated picture of the same style the difference is far larger.
    other = full(np.ascontiguousarray(frame[::-1, ::-1]))
    assert np.abs(blur(other) - blur(b)).mean() > 2 * np.abs(blur(a) - blur(b)).mean()


def test_preserve_color_at_the_working_size_keeps_the_photo_chroma():
    from livestyle.runtime.factory import create_stylizer

    frame = cv2.resize(textured_photo(400, 600, seed=6), (2100, 1400), interpolation=cv2.INTER_CUBIC)
    plain = create_stylizer("candy", model="fast", device="cpu")(frame)
    kept = create_stylizer("candy", model="fast", device="cpu", preserve_color="luminance")(frame)
    assert kept.shape == frame.shape
    lab = lambda x: cv2.cvtColor(x, cv2.COLOR_BGR2LAB)[..., 1:].astype(float)
    assert np.abs(lab(kept) - lab(frame)).mean() < 0.5 * np.abs(lab(plain) - lab(frame)).mean()


# -- memory -------------------------------------------------------------------------------------

PEAK = """
import json, resource, sys
import numpy as np
from livestyle.runtime.factory import create_stylizer
stylizer = create_stylizer("mosaic", device="cpu")          # what `livestyle image` runs at the defaults
small = np.full((240, 320, 3), 128, np.uint8)
stylizer(small)                                              # the net loaded and run once
frame = np.random.default_rng(0).integers(0, 256, (3000, 4000, 3), dtype=np.uint8)
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
out = stylizer(frame)
after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({"before": before * 1024, "after": after * 1024, "shape": list(out.shape),
                  "net_pixels": stylizer.bytes_per_pixel}))
"""


def test_peak_memory_of_a_12_megapixel_frame_stays_bounded():
    """A 4000x3000 frame at the defaults (the full mosaic net, as `livestyle image` runs it): its
    peak stays near what the net needs at the working size, not at the frame's 12 megapixels.

    Bound: the net at 1280x960 (1.2 MP x its 900 B per pixel, runtime/memory.py: 1.1 GB) plus
    the frame, its result and the upsampling's full-size uint8 buffers (about 6 x 36 MB), with
    room to spare; pixel for pixel the same frame needs about 10.8 GB more than the loaded net
    (docs/performance.md). Measured in a fresh process, as max RSS."""
    proc = subprocess.run([sys.executable, "-c", PEAK], capture_output=True, text=True, timeout=600, cwd=REPO)
    assert proc.returncode == 0, proc.stderr[-2000:]
    facts = json.loads(proc.stdout.strip().splitlines()[-1])
    assert facts["shape"] == [3000, 4000, 3]
    grown = facts["after"] - facts["before"]
    work_pixels = 1280 * 960
    bound = work_pixels * facts["net_pixels"] + 6 * 3000 * 4000 * 3 + 300 * 2**20
    # What the process held before the frame (libraries, onnxruntime's arena) varies by machine and
    # load, so the bound is on the growth; the absolute peaks of the 4K and 24 MP runs are
    # benchmarks (docs/sizes.md).
    assert grown < bound, f"peak grew by {grown / 2**30:.2f} GB, bound {bound / 2**30:.2f} GB"


# -- the commands ---------------------------------------------------------------------------------


def test_video_above_the_working_size_keeps_size_frames_and_sound(tmp_path, monkeypatch):
    """`livestyle video` on a clip larger than the working size (made small here: the working size
    lowered to 160 px) blends at the working size and writes every frame at the clip's size, with
    its sound."""
    from test_video import make_clip, probe

    from livestyle.cli.main import main

    monkeypatch.setattr(Stylizer, "max_size", 160)
    src = make_clip(tmp_path / "in.mp4", frames=8, size=(320, 176), fps=Fraction(24))
    out = tmp_path / "out.mp4"
    assert main(["video", str(src), str(out), "--style", "mosaic", "--device", "cpu", "--no-progress"]) == 0
    facts, source = probe(out), probe(src)
    assert (facts["width"], facts["height"], facts["frames"]) == (320, 176, 8)
    assert facts["audio"] == source["audio"] and facts["audio_duration"] == pytest.approx(
        source["audio_duration"], abs=0.05)


def test_image_command_writes_the_input_size_at_the_defaults_and_with_size(tmp_path, monkeypatch):
    from livestyle.cli.main import main

    monkeypatch.setattr(Stylizer, "max_size", 200)
    src = tmp_path / "photo.png"
    cv2.imwrite(str(src), textured_photo(300, 500))
    for extra in ([], ["--size", "96"]):
        out = tmp_path / f"out{len(extra)}.png"
        assert main(["image", str(src), "-o", str(out), "--style", "mosaic", "--device", "cpu", *extra]) == 0
        assert cv2.imread(str(out)).shape == (300, 500, 3)


def test_video_queues_hold_a_bounded_number_of_bytes():
    from livestyle.pipeline.file import QUEUE_BYTES, queue_frames

    assert queue_frames(1920, 1080, 8) == 8
    assert queue_frames(3840, 2160, 8) * 3840 * 2160 * 3 <= QUEUE_BYTES
    assert queue_frames(7680, 4320, 8) == 2
    assert queue_frames(64, 48, 3) == 3
