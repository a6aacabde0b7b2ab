"""Temporal blending (runtime/temporal.py, runtime/flow.py) and its measures (eval/temporal_metrics.py).

Real properties on real frames where it matters (warping error on a shared clip, still-camera
flicker through our mosaic net, scene cuts between two unrelated photos); synthetic frames where
the right answer is known exactly (shifts, a moving square). Frames are small (<= 320 px) so the
file runs in well under a minute on a busy CPU.
"""

from __future__ import annotations

import cv2  # noqa: F401  isort: skip - before av, see livestyle/media/video.py
import numpy as np
import pytest
import torch

from conftest import SHARED, needs_shared
from livestyle.errors import InputError
from livestyle.paths import exported_dir
from livestyle.eval.temporal_metrics import (flicker, measurement_flow, noisy_still, read_flo, visible_mask,
                                             warping_error)
from livestyle.runtime.flow import consistency_mask, dis_flow, motion_boundary_mask, resize_flow, warp
from livestyle.runtime.temporal import DEFAULT_STABILITY, TemporalBlender, blend_weight, restore_detail


@pytest.fixture(scope="module")
def mosaic():
    from livestyle.checkpoints import build_model, load_checkpoint

    net = build_model(load_checkpoint(exported_dir() / "mosaic.pt", "johnson")).float().eval()
    torch.set_num_threads(2)
    return net


def stylize(net, frame01: np.ndarray) -> np.ndarray:
    """[H, W, 3] RGB 0..1 -> the net's output [3, H, W] RGB 0..255 (clamped)."""
    x = torch.from_numpy(np.ascontiguousarray(frame01.transpose(2, 0, 1) * 255.0))[None].float()
    with torch.inference_mode():
        return net(x)[0].clamp(0, 255).numpy()


def chw255(frame01: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(frame01.transpose(2, 0, 1) * 255.0, dtype=np.float32)


def hwc01(chw: np.ndarray) -> np.ndarray:
    return np.clip(chw, 0, 255).transpose(1, 2, 0) / 255.0


def read_clip(name: str, count: int, size: tuple[int, int]) -> list[np.ndarray]:
    cap = cv2.VideoCapture(str(SHARED / "videos" / "clips" / f"{name}.mp4"))
    frames = []
    while len(frames) < count:
        ok, bgr = cap.read()
        assert ok, f"{name} ended early"
        frames.append(cv2.resize(bgr, size, interpolation=cv2.INTER_AREA)[:, :, ::-1].astype(np.float32) / 255)
    cap.release()
    return frames


def photo(name: str, size=(256, 192)) -> np.ndarray:
    bgr = cv2.imread(str(SHARED / "content" / "eval" / name))
    return cv2.resize(bgr, size, interpolation=cv2.INTER_AREA)[:, :, ::-1].astype(np.float32) / 255


def texture(h: int, w: int, seed: int) -> np.ndarray:
    """Smooth random texture, uint8: DIS needs structure to lock on to."""
    rng = np.random.default_rng(seed)
    noise = cv2.GaussianBlur(rng.random((h, w)).astype(np.float32), (0, 0), 1.5)
    return cv2.normalize(noise, None, 0, 255, cv2.NORM_MINMAX).astype(np.uint8)


# ------------------------------------------------------------------------------ pure functions


def test_warp_moves_values_by_a_known_shift():
    rng = np.random.default_rng(0)
    values = rng.random((130, 24, 32)).astype(np.float32)   # more channels than cv2.remap takes at once
    flow = np.zeros((24, 32, 2), np.float32)
    flow[..., 0], flow[..., 1] = 3.0, -2.0                     # out(y, x) = in(y - 2, x + 3)
    out = warp(values, flow)
    np.testing.assert_allclose(out[:, 2:, :-3], values[:, :-2, 3:], atol=1e-5)
    # Half a pixel on a linear ramp lands exactly between two samples.
    ramp = np.tile(np.arange(32, dtype=np.float32), (512, 24, 1))
    half = np.zeros((24, 32, 2), np.float32)
    half[..., 0] = 0.5
    np.testing.assert_allclose(warp(ramp, half)[:, :, :-1], ramp[:, :, :-1] + 0.5, atol=1e-3)


def test_occlusion_mask_marks_the_region_a_moving_square_uncovers():
    background, square = texture(96, 128, 1), texture(32, 32, 2)
    prev, cur = background.copy(), background.copy()
    prev[32:64, 40:72] = square
    cur[32:64, 52:84] = square                                 # moved 12 px right
    flow = dis_flow(cur, prev)                                 # at the current frame's pixels
    ok = consistency_mask(flow, dis_flow(prev, cur)) & motion_boundary_mask(flow)
    uncovered = ok[34:62, 42:50]                               # background now, square before
    far = ok[72:, :]                                           # rows the square never touched
    assert uncovered.mean() < 0.5, f"only {1 - uncovered.mean():.0%} of the uncovered strip flagged"
    assert far.mean() > 0.9, f"{1 - far.mean():.0%} of the untouched background flagged"


def test_detail_restoration_scales_every_channel_alike():
    """One gain per pixel for all channels: restored detail keeps the colour it had."""
    current = np.stack([texture(96, 96, 3 + k).astype(np.float32) for k in range(3)])
    blended = np.stack([cv2.GaussianBlur(c, (0, 0), 0.8) for c in current])
    added = restore_detail(blended, current) - blended
    # Detail as restore_detail takes it: a Gaussian of sigma 1 over 5 taps.
    detail = blended - np.stack([cv2.GaussianBlur(c, (5, 5), 1.0) for c in blended])
    strong = (np.abs(detail) > 2.0).all(axis=0)
    gains = added[:, strong] / detail[:, strong]
    assert strong.sum() > 100 and gains.max() > 0.05           # detail was restored...
    np.testing.assert_allclose(gains[0], gains[1], atol=1e-3)   # ...by the same factor in each channel
    np.testing.assert_allclose(gains[0], gains[2], atol=1e-3)


@needs_shared
def test_ground_truth_flow_aligns_sintel_frames():
    """read_flo + warp + the Sintel convention (flow at frame 2's pixels, pointing into frame 3)."""
    root = SHARED / "videos" / "sintel_gt" / "alley_1"
    f2 = cv2.imread(str(root / "final" / "frame_0002.png"))[:, :, ::-1].astype(np.float32) / 255
    f3 = cv2.imread(str(root / "final" / "frame_0003.png"))[:, :, ::-1].astype(np.float32) / 255
    flow = read_flo(root / "flow" / "frame_0002.flo")
    valid = cv2.imread(str(root / "occlusions" / "frame_0002.png"), 0) < 128
    assert warping_error(f2, f3, flow, valid) < 0.25 * warping_error(f2, f3, flow * 0, valid)
    half = resize_flow(flow, (218, 512))
    assert np.abs(half).max() == pytest.approx(np.abs(flow).max() / 2, rel=0.05)


@pytest.mark.parametrize("size", [64, 256])  # 256: energies measured on the coarser grid
def test_detail_restoration_only_gives_back_lost_contrast(size):
    current = texture(size, size, 3).astype(np.float32)[None]
    assert np.allclose(restore_detail(current, current), current, atol=1e-3)   # nothing lost: unchanged
    flat = cv2.GaussianBlur(current[0], (0, 0), 0.7)[None]                    # detail averaged away
    detail = lambda x: np.abs(x - cv2.GaussianBlur(x[0], (0, 0), 1.0)[None]).mean()  # noqa: E731
    assert detail(flat) < detail(restore_detail(flat, current)) <= 1.5 * detail(flat) + 1e-3


# ------------------------------------------------------------------------------ blender


def test_stability_zero_returns_features_unchanged():
    blender = TemporalBlender(stability=0.0)
    rng = np.random.default_rng(0)
    for _ in range(3):
        feats = rng.random((128, 12, 16)).astype(np.float32)
        assert blender(feats, rng.random((3, 48, 64)).astype(np.float32) * 255) is feats


def test_blended_values_keep_their_dtype():
    blender = TemporalBlender()
    image = np.full((3, 32, 32), 128.0, np.float32)
    for _ in range(2):
        out = blender(np.ones((8, 8, 8), np.float16), image)
    assert out.dtype == np.float16 and blender.stats.first is False


@pytest.mark.parametrize("kwargs", [{"stability": 1.5}, {"stability": -0.1}, {"flow": "raft"},
                                    {"flow_preset": "slow"}, {"check_preset": "exact"}, {"still_stability": 0.5}])
def test_bad_settings_are_input_errors(kwargs):
    with pytest.raises(InputError):
        TemporalBlender(**kwargs)


@pytest.mark.parametrize("features, image", [
    (np.zeros((8, 8), np.float32), np.zeros((3, 32, 32), np.float32)),        # no channel axis
    (np.zeros((8, 8, 8), np.float32), np.zeros((32, 32, 3), np.float32)),     # HWC frame
    (np.zeros((8, 64, 64), np.float32), np.zeros((3, 32, 32), np.float32)),   # frame smaller
])
def test_bad_shapes_are_input_errors(features, image):
    with pytest.raises(InputError):
        TemporalBlender()(features, image)


@needs_shared
def test_scene_cut_drops_history_instead_of_mixing():
    a, b = photo("golden_gate.jpg"), photo("sailboat.jpg")
    blender = TemporalBlender()
    blender(chw255(a), chw255(a))
    out = blender(chw255(b), chw255(b))
    assert blender.stats.cut
    np.testing.assert_array_equal(out, chw255(b))
    # ...while the same photo again is blended (and, being identical, unchanged).
    again = blender(chw255(b), chw255(b))
    assert not blender.stats.cut and blender.stats.reliable > 0.9
    np.testing.assert_allclose(again, chw255(b), atol=0.5)


@needs_shared
def test_reset_forgets_history():
    a = photo("golden_gate.jpg")
    blender = TemporalBlender()
    blender(chw255(a), chw255(a))
    blender.reset()
    out = blender(chw255(a) * 0.5, chw255(a))
    assert blender.stats.first
    np.testing.assert_array_equal(out, chw255(a) * 0.5)


@needs_shared
@pytest.mark.parametrize("presets", [{}, {"flow_preset": "medium", "check_preset": "medium"},
                                     {"check_preset": "none"}], ids=["default", "medium", "no-check"])
def test_blending_lowers_warping_error_on_a_real_clip(mosaic, presets):
    """fox.mp4 (hand-held), 6 frames at 192x192 through our mosaic net: Lai et al.'s warping error drops."""
    frames = read_clip("fox", 6, (192, 192))
    per, blended = [], []
    blender = TemporalBlender(DEFAULT_STABILITY, **presets)
    for f in frames:
        y = stylize(mosaic, f)
        per.append(hwc01(y))
        blended.append(hwc01(blender(y, chw255(f))))
    errors = {"per": [], "blended": []}
    for t in range(1, len(frames)):
        flow = measurement_flow(frames[t], frames[t - 1])
        mask = visible_mask(flow, measurement_flow(frames[t - 1], frames[t]))
        errors["per"].append(warping_error(per[t], per[t - 1], flow, mask))
        errors["blended"].append(warping_error(blended[t], blended[t - 1], flow, mask))
    ratio = np.mean(errors["blended"]) / np.mean(errors["per"])
    assert ratio < 0.6, f"blending only brought the warping error to {ratio:.2f}x of per-frame"


@pytest.fixture(scope="module")
def still_camera(mosaic):
    """One photo plus fresh sensor noise (sigma 2 grey levels) per frame: only flicker can change."""
    if not SHARED.is_dir():
        pytest.skip("shared data folder not present")
    frames = noisy_still(photo("golden_gate.jpg", (160, 120)), 10)
    return frames, [stylize(mosaic, f) for f in frames]


@pytest.mark.parametrize("flow", ["dis", "none"])
def test_still_camera_flicker_is_lower_with_blending(still_camera, flow):
    frames, outputs = still_camera
    blender = TemporalBlender(DEFAULT_STABILITY, flow=flow)
    blended = [hwc01(blender(y, chw255(f))) for y, f in zip(outputs, frames)]
    reduction = flicker([hwc01(y) for y in outputs], skip=3) / flicker(blended, skip=3)
    assert reduction > 3.0, f"flicker only reduced {reduction:.1f}x"


def test_still_pixels_average_longer_than_moving_ones(still_camera):
    """Where nothing moved, the history gets stability ** 0.5 (0.8 -> 0.89): steadier in the long
    run than the plain stability, which moving pixels keep."""
    frames, outputs = still_camera
    runs = {}
    for still_stability in (None, DEFAULT_STABILITY):
        blender = TemporalBlender(DEFAULT_STABILITY, still_stability=still_stability)
        runs[still_stability] = [hwc01(blender(y, chw255(f))) for y, f in zip(outputs, frames)]
    assert TemporalBlender(DEFAULT_STABILITY).still_stability == pytest.approx(DEFAULT_STABILITY ** 0.5)
    assert TemporalBlender(0.0).still_stability == 0.0 and TemporalBlender(1.0).still_stability == 1.0
    longer, plain = flicker(runs[None], skip=5), flicker(runs[DEFAULT_STABILITY], skip=5)
    assert longer < 0.85 * plain, f"still pixels: flicker {longer:.3f} vs {plain:.3f} at the plain stability"


def test_blend_weight_raises_only_still_pixels():
    mask = np.array([[1.0, 1.0], [0.5, 0.0]], np.float32)
    still = np.array([[True, False], [True, True]])
    weight = blend_weight(mask, still, 0.8, 0.9)
    np.testing.assert_allclose(weight, [[0.9, 0.8], [0.45, 0.0]], rtol=1e-6)
    np.testing.assert_allclose(blend_weight(mask, None, 0.8, 0.9), 0.8 * mask, rtol=1e-6)


@needs_shared
def test_still_camera_is_recognised_as_still():
    """Sensor noise makes DIS jitter by up to a pixel on flat walls; none of it may move the history."""
    frames = noisy_still(photo("golden_gate.jpg", (320, 240)), 4, seed=3)
    blender = TemporalBlender(DEFAULT_STABILITY)
    motions = [blender.motion(chw255(f)) for f in frames]
    for m in motions[1:]:
        moving = np.abs(m.flow).max(-1) > 0
        assert moving.mean() < 0.05, f"{moving.mean():.0%} of a still frame follows noise"
        assert m.mask.mean() > 0.95, f"only {m.mask.mean():.0%} of a still frame keeps its history"


def shaky_sequence(seed: int, count: int = 10):
    """A textured picture seen by a shaking camera (eval/shaky.py: random-walk wander, tremor,
    roll), and a stand-in net that paints it with fine grain it re-rolls every frame."""
    from livestyle.eval.shaky import Shake, shaky_frames

    source = cv2.merge([texture(240, 320, seed + k) for k in range(3)])
    frames = list(shaky_frames((source for _ in range(count)), count, Shake(jitter=3.0, roll=1.5), seed))
    rng = np.random.default_rng(seed)
    images = [np.ascontiguousarray(f[:, :, ::-1].transpose(2, 0, 1), dtype=np.float32) for f in frames]
    painted = [np.clip(x + np.stack([cv2.GaussianBlur(rng.normal(0, 24, x.shape[1:]).astype(np.float32), (0, 0), 0.7)
                                     for _ in range(3)]), 0, 255) for x in images]
    return images, painted


@pytest.mark.parametrize("seed", [0, 2])
def test_blending_steadies_a_shaky_sequence(seed):
    """Warping error along the input's flow on a hand-held sequence (every pixel moves every
    frame): the blended output's is far below the per-frame output's."""
    images, painted = shaky_sequence(seed)
    blender = TemporalBlender(DEFAULT_STABILITY)
    outputs = {"per-frame": painted, "blended": [blender(y, x) for y, x in zip(painted, images)]}
    frames = [hwc01(x) for x in images]
    errors = dict.fromkeys(outputs, 0.0)
    for t in range(1, len(frames)):
        flow = measurement_flow(frames[t], frames[t - 1])
        mask = visible_mask(flow, measurement_flow(frames[t - 1], frames[t]))
        for name, ys in outputs.items():
            errors[name] += warping_error(hwc01(ys[t]), hwc01(ys[t - 1]), flow, mask)
    assert errors["blended"] < 0.5 * errors["per-frame"], errors


def test_a_pan_does_not_drag_the_frame_edge_into_the_picture():
    """The camera pans right, so new picture enters at the right edge, where the warped history
    can only repeat the edge column. The net paints its outermost columns dark (as the students
    do at a frame edge): the blended band next to the edge must stay the frame's own, not fill
    with copies of that dark column."""
    scene = np.stack([texture(96, 400, 3 + c) for c in range(3)])
    blender = TemporalBlender(DEFAULT_STABILITY)
    for t in range(12):
        image = np.ascontiguousarray(scene[:, :, 4 * t:4 * t + 160], dtype=np.float32)
        painted = image.copy()
        painted[:, :, -2:] = 0.0
        out = blender(painted, image)
    band = (slice(None), slice(8, -8), slice(-14, -2))   # beside the dark columns, away from the corners
    assert np.abs(out[band] - painted[band]).mean() < 6.0, np.abs(out[band] - painted[band]).mean()


@needs_shared
def test_streaming_stylizer_blends_its_output_by_default():
    """What `video`/`cam` build: the single mosaic graph with output-space blending, steadier than
    the same graph per frame, and back to per-frame after reset() (a new clip has no history).

    320 px, not less: the stride-8 student paints cells of 8 px, and on a 160 px frame its output
    re-rolls more of the picture than the flow can carry (0.66x there, 0.45x at 320 px, 0.29x of
    per-frame on fox at `video`'s 480 px; docs/temporal.md)."""
    from livestyle.runtime.factory import create_stylizer

    frames = read_clip("fox", 5, (320, 320))
    bgr = [np.ascontiguousarray((f[:, :, ::-1] * 255).round().astype(np.uint8)) for f in frames]
    streaming = create_stylizer("mosaic", device="cpu", streaming=True)
    per_frame = create_stylizer("mosaic", device="cpu", streaming=True, stability=0.0)
    assert streaming.blender is not None and streaming.blend_space == "output"
    assert per_frame.blender is None
    outs = {"blended": [streaming(f) for f in bgr], "per": [per_frame(f) for f in bgr]}
    errors = {k: [] for k in outs}
    for t in range(1, len(frames)):
        flow = measurement_flow(frames[t], frames[t - 1])
        mask = visible_mask(flow, measurement_flow(frames[t - 1], frames[t]))
        for k, ys in outs.items():
            errors[k].append(warping_error(ys[t][:, :, ::-1] / 255.0, ys[t - 1][:, :, ::-1] / 255.0, flow, mask))
    ratio = np.mean(errors["blended"]) / np.mean(errors["per"])
    assert ratio < 0.6, f"the streaming stylizer only reached {ratio:.2f}x of per-frame warping error"
    streaming.reset()
    np.testing.assert_array_equal(streaming(bgr[-1]), outs["per"][-1])


@needs_shared
@pytest.mark.parametrize("kwargs", [{"style": "mosaic"}, {"style": "mosaic", "stability": 0.0},
                                    {"style": "mosaic", "preserve_color": "luminance"},
                                    {"style_images": ["brushstrokes.jpg"]},
                                    {"style": "mosaic", "frames_in_flight": 2},
                                    {"style_images": ["brushstrokes.jpg"], "frames_in_flight": 2}])
def test_pipelined_stream_gives_the_frames_one_call_per_frame_gives(kwargs):
    """stylize_stream (what `video` runs) overlaps the blend of one frame with the net of the
    next, and with frames in flight runs the net on several frames at once; the frames, their
    order and the blended history must be exactly those of calling the stylizer frame by frame."""
    from livestyle.runtime.factory import create_stylizer

    if "style_images" in kwargs:
        kwargs = {**kwargs, "style_images": [str(SHARED / "styles" / name) for name in kwargs["style_images"]]}
    frames = read_clip("fox", 6, (96, 128))
    bgr = [np.ascontiguousarray((f[:, :, ::-1] * 255).round().astype(np.uint8)) for f in frames]
    stylizer = create_stylizer(device="cpu", streaming=True, **kwargs)
    if kwargs.get("frames_in_flight", 1) > 1:
        # Forced past this machine's core count, so the lanes run even on a one-core runner.
        stylizer.frames_in_flight = kwargs["frames_in_flight"]
    one_by_one = [stylizer(f) for f in bgr]
    stylizer.reset()
    streamed = list(stylizer.stylize_stream(iter(bgr)))
    assert len(streamed) == len(bgr)
    for a, b in zip(streamed, one_by_one):
        np.testing.assert_array_equal(a, b)


@needs_shared
def test_video_files_run_frames_side_by_side_on_a_cpu_and_cams_do_not(monkeypatch):
    """`video` asks for two frames in flight: on a CPU each net session then gets half the
    cores; a camera (latency) keeps one frame at a time on all of them."""
    from livestyle.cli.video import FRAMES_IN_FLIGHT
    from livestyle.runtime import factory
    from livestyle.runtime.engine import Engine

    threads = []
    real_init = Engine.__init__

    def spy(self, *args, **kwargs):
        threads.append(kwargs.get("threads"))
        real_init(self, *args, **kwargs)

    monkeypatch.setattr(Engine, "__init__", spy)
    monkeypatch.setattr(factory, "available_cpus", lambda: 4)
    video = factory.create_stylizer("mosaic", device="cpu", streaming=True, frames_in_flight=FRAMES_IN_FLIGHT)
    assert video.frames_in_flight == 2 and threads == [2]
    cam = factory.create_stylizer("mosaic", device="cpu", streaming=True)
    assert cam.frames_in_flight == 1 and threads[-1] is None
    with pytest.raises(InputError, match="frames_in_flight"):
        factory.create_stylizer("mosaic", device="cpu", frames_in_flight=0)


def test_two_graph_split_matches_the_one_graph_net():
    """encoder -> features -> decoder (what feature-space blending runs) is the same net."""
    from livestyle.runtime import registry
    from livestyle.runtime.engine import Engine
    from livestyle.runtime.split import SplitStylizer
    from livestyle.runtime.factory import create_stylizer

    info = registry.resolve_style("mosaic")
    encoder, decoder = registry.split_onnx_for(info)
    split = SplitStylizer(Engine(encoder, device="cpu"), Engine(decoder, device="cpu"), "mosaic")
    one = create_stylizer("mosaic", device="cpu", model="full")
    frame = (np.random.default_rng(3).random((90, 130, 3)) * 255).astype(np.uint8)
    diff = np.abs(split(frame).astype(int) - one(frame).astype(int))
    assert diff.max() <= 1, f"split graphs differ from the one-graph net by up to {diff.max()} grey levels"


# ------------------------------------------------------------------------------ what users see


@pytest.mark.parametrize("ruler", ["dis", "farneback"])
def test_each_flow_ruler_measures_a_known_shift(ruler):
    from livestyle.eval.temporal_metrics import ruler_pair
    prev = np.repeat(texture(120, 160, 5)[..., None], 3, axis=2).astype(np.float32) / 255
    cur = np.roll(prev, (2, 3), axis=(0, 1))                   # cur(y, x) = prev(y - 2, x - 3)
    flow, mask = ruler_pair(cur, prev, ruler)
    inner = mask[8:-8, 8:-8]
    assert inner.mean() > 0.9
    np.testing.assert_allclose(np.median(flow[8:-8, 8:-8][inner], axis=0), [-3.0, -2.0], atol=0.1)


def write_pngs(folder, frames01) -> None:
    folder.mkdir()
    for i, frame in enumerate(frames01):
        cv2.imwrite(str(folder / f"frame_{i:03d}.png"), (frame[:, :, ::-1] * 255).round().astype(np.uint8))


@needs_shared
def test_file_scoring_agrees_with_in_memory_scoring_on_lossless_frames(tmp_path, mosaic):
    """The encoded-output mode (decode, score pair by pair) gives the old in-memory numbers when
    nothing is lost in between: a PNG frame sequence."""
    from livestyle.eval.temporal_metrics import ruler_pair
    from livestyle.eval.video_eval import read_frames, score_outputs
    frames = read_clip("fox", 6, (160, 160))
    blender = TemporalBlender(DEFAULT_STABILITY)
    per = [stylize(mosaic, f) for f in frames]
    outs = {"per-frame": [hwc01(y) for y in per],
            "blended": [hwc01(blender(y, chw255(f))) for y, f in zip(per, frames)]}
    in_memory = {name: [] for name in outs}
    for t in range(1, len(frames)):
        flow, mask = ruler_pair(frames[t], frames[t - 1], "dis")
        for name, ys in outs.items():
            in_memory[name].append(warping_error(ys[t], ys[t - 1], flow, mask))
    write_pngs(tmp_path / "input", frames)
    for name, ys in outs.items():
        write_pngs(tmp_path / name, ys)
    scores = score_outputs(read_frames(tmp_path / "input"), {n: read_frames(tmp_path / n) for n in outs}, ["dis"])
    for name in outs:
        assert scores[name].frames == 6
        assert scores[name].e_warp["dis"] == pytest.approx(np.mean(in_memory[name]), rel=0.02)
    assert scores["blended"].e_warp["dis"] < 0.8 * scores["per-frame"].e_warp["dis"]


def test_file_scoring_splits_the_style_loss_by_layer_over_the_scored_frames_only():
    from livestyle.eval.video_eval import score_outputs

    class BrightnessMeter:  # Gram terms stand-in: the output's mean level, and twice it
        def score_pair_by_layer(self, photo, out):
            level = float(out.mean())
            return {"relu1_2": level, "relu2_2": 2 * level}, 0.0, 0.0

    frames = [np.full((24, 32, 3), v, np.uint8) for v in (10, 20, 30, 40)]
    scores = score_outputs(iter(frames), {"a": iter(frames)}, ["dis"], BrightnessMeter(), style_at=[1, 3])
    assert scores["a"].style_by_layer == pytest.approx({"relu1_2": 30.0, "relu2_2": 60.0})
    assert scores["a"].style == pytest.approx(90.0)
    assert score_outputs(iter(frames), {"a": iter(frames)}, ["dis"])["a"].style_by_layer == {}


def test_file_scoring_refuses_streams_of_different_length():
    from livestyle.eval.video_eval import score_outputs
    frames = [np.full((24, 32, 3), v, np.uint8) for v in (10, 20, 30)]
    with pytest.raises(InputError, match="input 3, 'a' 3, 'b' 2"):
        score_outputs(iter(frames), {"a": iter(frames), "b": iter(frames[:2])}, ["dis"])


@needs_shared
def test_per_frame_and_blended_video_keep_the_frame_count(tmp_path):
    """`livestyle video` as a user runs it (--size below the clip's 640x640), then scored from the file."""
    from livestyle.eval.video_eval import Render, evaluate_clip, frame_count
    clip = SHARED / "videos" / "clips" / "fox.mp4"
    runs = [Render("default", "mosaic"), Render("per-frame", "mosaic", stability=0.0)]
    scores = evaluate_clip(clip, runs, tmp_path, size=128, duration=0.4, rulers=["dis"], device="cpu")
    assert scores["default"].frames == scores["per-frame"].frames == frame_count(clip, 0.0, 0.4) == 12
    assert scores["default"].e_warp["dis"] < scores["per-frame"].e_warp["dis"]


def global_shifts(frames) -> list[float]:
    grey = [cv2.cvtColor(f, cv2.COLOR_BGR2GRAY).astype(np.float32) for f in frames]
    return [float(np.hypot(*cv2.phaseCorrelate(a, b)[0])) for a, b in zip(grey, grey[1:])]


@needs_shared
@pytest.mark.parametrize("source, count, size", [("photo", 12, (256, 192)), ("office_meeting_720p", 6, (1024, 576))])
def test_shaky_clip_has_the_frames_asked_for_and_really_moves(tmp_path, source, count, size):
    from livestyle.eval.shaky import write_shaky_clip
    from livestyle.eval.video_eval import read_frames
    if source == "photo":
        path = tmp_path / "photo.png"
        cv2.imwrite(str(path), cv2.resize(cv2.imread(str(SHARED / "content/eval/golden_gate.jpg")), (320, 240)))
    else:
        path = SHARED / "videos" / "clips" / f"{source}.mp4"
    frames = list(read_frames(write_shaky_clip(path, tmp_path / "shaky.mp4", count, seed=2)))
    assert len(frames) == count and frames[0].shape == (size[1], size[0], 3)
    assert np.mean(global_shifts(frames)) > 1.0, global_shifts(frames)


def test_shaky_path_is_smooth_with_a_tremor_and_repeatable():
    from livestyle.eval.shaky import Shake, shake_path
    calm = shake_path(400, (100.0, 60.0), Shake(jitter=0.0), seed=4)
    assert np.array_equal(calm, shake_path(400, (100.0, 60.0), Shake(jitter=0.0), seed=4))
    assert np.abs(calm[:, 0]).max() <= 100.0 and np.abs(calm[:, 1]).max() <= 60.0
    assert calm[:, 0].std() > 20.0                                          # it wanders...
    assert np.abs(np.diff(calm[:, 0])).mean() < 0.2 * calm[:, 0].std()      # ...smoothly
    def tremor(jitter: float) -> float:
        shaky = shake_path(400, (100.0, 60.0), Shake(jitter=jitter), seed=4)
        return float(np.diff(shaky[:, :2] - calm[:, :2], axis=0).std())
    # N(0, jitter) per frame on top of the same smooth path: frame-to-frame std sqrt(2) * jitter,
    # and twice the jitter gives twice the tremor
    assert tremor(1.5) == pytest.approx(2 ** 0.5 * 1.5, rel=0.3)
    assert tremor(3.0) / tremor(1.5) == pytest.approx(2.0, rel=0.1)


def test_shaky_clip_smears_bends_and_adds_grain_only_when_asked():
    from livestyle.eval.shaky import Shake, shaky_frames

    source = cv2.merge([texture(120, 160, k) for k in range(3)])
    def frames(**kw):   # tremor alone: a path this short would sit at the margin
        return list(shaky_frames((source for _ in range(4)), 4, Shake(jitter=4.0, drift=0.0, roll=0.0, **kw), seed=1))
    plain, smeared, grainy = frames(), frames(exposure=0.8), frames(noise=3.0)
    fine = lambda f: np.abs(cv2.Laplacian(f.astype(np.float32), cv2.CV_32F)).mean()  # noqa: E731
    assert np.abs(plain[0].astype(np.float32) - smeared[0]).mean() < 0.1   # no motion before frame 0
    assert all(fine(s) < 0.9 * fine(p) for p, s in zip(plain[1:], smeared[1:]))   # smeared along the shake
    assert np.std(grainy[2].astype(np.float32) - plain[2]) == pytest.approx(3.0, rel=0.15)
    bent = frames(readout=0.5)[2].astype(np.float32)
    assert np.abs(bent - plain[2]).mean() > 5.0                  # rows read later see a moved window
    for bad in ({"exposure": 1.5}, {"exposure": 0.6, "readout": 0.6}, {"noise": -1.0}):
        with pytest.raises(InputError):
            Shake(**bad)


@needs_shared
def test_split_net_keeps_the_frame_size_of_a_stride_8_net():
    """The measurement's encoder/decoder pair pads to the graph's multiple as the stylizers do:
    udnie_fast (stride 8) on 348 rows paints 348 rows, the same picture the stylizer paints."""
    from livestyle.eval.split_net import load_split_net
    from livestyle.runtime.factory import create_stylizer

    net = load_split_net("udnie_fast", SHARED)
    assert net.size_multiple == 8
    frame = photo("tubingen.jpg", size=(220, 172))            # neither side a multiple of 8
    out = net.decode(net.encode(chw255(frame)), frame.shape[:2])
    assert out.shape == (3, 172, 220)
    stylizer = create_stylizer(style="udnie", model="fast", stability=0, device="cpu")
    bgr = np.clip(frame[:, :, ::-1] * 255 + 0.5, 0, 255).astype(np.uint8)
    whole = stylizer(bgr)[:, :, ::-1].astype(np.float32)
    split = np.clip(out, 0, 255).transpose(1, 2, 0)
    assert np.abs(whole - split).mean() < 1.5


def test_smooth_matches_a_wide_gaussian_at_a_fraction_of_the_grid():
    """The wide windows are blurred on a smaller grid: within a small error of the full blur."""
    from livestyle.runtime.temporal import smooth
    rng = np.random.default_rng(3)
    plane = cv2.GaussianBlur(rng.normal(0, 20, (270, 480)).astype(np.float32), (0, 0), 2.0)
    plane[100:170, 200:300] += 15.0                                       # and a step edge
    full = cv2.GaussianBlur(plane, (0, 0), 6.0)
    fast = smooth(plane, 6.0)
    assert fast.shape == plane.shape and fast.dtype == np.float32
    inner = (slice(12, -12), slice(12, -12))
    assert np.abs(fast - full)[inner].max() < 0.06 * np.abs(full).max()
    assert np.abs(fast - full)[inner].mean() < 0.01 * np.abs(full).max()
    assert np.array_equal(smooth(plane, 1.0), cv2.GaussianBlur(plane, (0, 0), 1.0))   # narrow: the plain blur
