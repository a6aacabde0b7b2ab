"""The temporal loss of the Johnson trainer (training/temporal_loss.py) on synthetic motion.

Tiny images (48 px crops, batch 2) as in test_training.py; the nets are warm-started from the
shipped mosaic, which is what a temporal fine-tune does (docs/temporal.md).
"""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest
import torch

from conftest import SHARED, needs_shared
from livestyle.cli.main import main
from livestyle.errors import InputError
from livestyle.paths import exported_dir
from livestyle.training.temporal_loss import (MotionProbe, SyntheticMotion, motion_probe, random_smooth_flow,
                                              second_frame, warp_with_flow)


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    """These tests share two cores with training jobs; two torch threads there stall each other
    (measured: 3-6 s per tiny step instead of 0.2 s)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def photo_tensor(size=(160, 120)) -> torch.Tensor:
    bgr = cv2.resize(cv2.imread(str(SHARED / "content/eval/golden_gate.jpg")), size, interpolation=cv2.INTER_AREA)
    return torch.from_numpy(np.ascontiguousarray(bgr[:, :, ::-1])).permute(2, 0, 1)[None].float()


def shipped(name: str) -> torch.nn.Module:
    from livestyle.checkpoints import build_model, load_checkpoint
    return build_model(load_checkpoint(exported_dir() / f"{name}.pt", "johnson")).float().eval()


# ------------------------------------------------------------------------------ the maths


@needs_shared
@torch.no_grad()
def test_still_pair_costs_nothing_and_a_warp_mismatch_costs_more():
    net, first = shipped("mosaic_fast"), photo_tensor()
    clean = net(first) / 255
    still = torch.zeros(1, 2, *first.shape[2:])
    second, valid = second_frame(first, still, None)
    assert float(MotionProbe(second, ("warp",), still, valid).loss(clean, net(second) / 255)) < 1e-5
    flow = random_smooth_flow(np.random.default_rng(1), 1, *first.shape[2:], SyntheticMotion(max_shift=4))
    second, valid = second_frame(first, flow, None)
    moved = net(second) / 255
    costs = [float(MotionProbe(second, ("warp",), flow + error, valid).loss(clean, moved))
             for error in (0.0, 0.5, 1.0, 2.0, 4.0)]
    assert costs == sorted(costs) and costs[-1] > 2 * costs[0], costs


def test_grid_sample_warp_is_the_runtime_warp():
    """The loss warps as the blender and the metrics do (runtime/flow.py): same flow convention."""
    from livestyle.runtime.flow import warp
    rng = np.random.default_rng(0)
    image = cv2.GaussianBlur(rng.random((40, 56, 3)).astype(np.float32), (0, 0), 2.0)
    flow = random_smooth_flow(rng, 1, 40, 56, SyntheticMotion(grid_spacing=20, max_shift=3))
    ours, valid = warp_with_flow(torch.from_numpy(image.transpose(2, 0, 1))[None], flow)
    theirs = warp(image.transpose(2, 0, 1), flow[0].permute(1, 2, 0).numpy())
    inside = valid[0, 0].numpy()
    assert 0.3 < inside.mean() < 1.0
    # OpenCV 4's remap samples at 1/32 px (fixed point): up to about 1e-3 of the image's range here;
    # a different flow convention would be off by whole pixels.
    np.testing.assert_allclose(ours[0].numpy()[:, inside], theirs[:, inside], atol=2e-3)
    shifted = torch.zeros(1, 2, 40, 56)
    shifted[:, 0] = 3.0
    _, valid = warp_with_flow(torch.zeros(1, 3, 40, 56), shifted)
    assert valid[0, 0, :, :53].all() and not valid[0, 0, :, 53:].any()


def test_synthetic_flow_has_the_intended_statistics():
    rng = np.random.default_rng(0)
    shifts = random_smooth_flow(rng, 64, 64, 64, SyntheticMotion(flow_sigma=0.0))
    assert torch.equal(shifts, shifts[:, :, :1, :1].expand_as(shifts)), "a pure shift is one vector per frame"
    values = shifts[:, :, 0, 0]
    assert values.abs().max() <= 10.0 and values.min() < -8.0 and values.max() > 8.0
    assert 4.5 < float(values.std()) < 7.0          # U(-10, 10): 5.77
    local = random_smooth_flow(rng, 16, 256, 256, SyntheticMotion(max_shift=0.0))
    spread = float(local.std())
    assert 3.0 < spread < 8.0, spread               # N(0, 8) nodes, bilinear in between
    steepest = max(float((local[..., 1:, :] - local[..., :-1, :]).abs().max()),
                   float((local[..., 1:] - local[..., :-1]).abs().max()))
    # Nodes 85 px apart on 256 px: neighbours differ by at most a node difference / 85.
    assert steepest < 0.8, steepest
    assert float((local[..., 1:] - local[..., :-1]).abs().mean()) < 0.05 * spread  # white noise: ~1.1x


def test_pairs_are_a_function_of_seed_and_step():
    first = torch.rand(2, 3, 32, 32) * 255
    a, b = motion_probe(first, 3, 10, "both"), motion_probe(first, 3, 10, "both")
    assert torch.equal(a.inputs, b.inputs) and torch.equal(a.flow, b.flow)
    assert a.inputs.shape == (4, 3, 32, 32) and a.modes == ("warp", "noise")
    assert not torch.equal(a.inputs, motion_probe(first, 3, 11, "both").inputs)
    noise = motion_probe(first, 3, 10, "noise")
    residual = (noise.inputs - first)[(first > 20) & (first < 235)] / 255
    assert 0.008 < float(residual.std()) < 0.022                 # MCCNet: N(0, 0.01..0.02)
    with pytest.raises(InputError):
        motion_probe(first, 3, 10, "flow")


# ------------------------------------------------------------------------------ the trainer


@pytest.fixture(scope="module")
def tiny_content(tmp_path_factory):
    if not SHARED.is_dir():
        pytest.skip("shared data folder not present")
    folder = tmp_path_factory.mktemp("content")
    for p in sorted((SHARED / "content/train/urban100").glob("*"))[:6]:
        img = cv2.imread(str(p))
        cv2.imwrite(str(folder / p.name), cv2.resize(img, (96, 72), interpolation=cv2.INTER_AREA))
    return folder


WARM = ["--init-from", str(exported_dir()), "--style-weight", "1.5", "--lr", "5e-4"]
TEMPORAL = ["--temporal-weight", "200", "--temporal-mode", "both"]


def train(out, content, steps, extra=()):
    args = ["train", "johnson", "--style-image", str(SHARED / "styles/mosaic.jpg"), "--name", "mosaic",
            "--content-dir", str(content), "-o", str(out), "--steps", str(steps), "--batch-size", "2",
            "--image-size", "48", "--style-size", "96", "--checkpoint-every", "4", "--sample-every", "100",
            "--device", "cpu", "--log-every", "1", "--variant", "full", *extra]
    assert main(args) == 0
    return json.loads((out / "history.json").read_text())


@pytest.fixture(scope="module")
def runs(tmp_path_factory, tiny_content):
    """8 warm-started steps with the temporal loss and the same 8 without it."""
    root = tmp_path_factory.mktemp("runs")
    return {"on": train(root / "on", tiny_content, 8, WARM + TEMPORAL),
            "off": train(root / "off", tiny_content, 8, WARM), "root": root}


@torch.no_grad()
def temporal_term(checkpoint, content, mode) -> float:
    """The term on pairs no run trained on (seed 99), with the saved net."""
    from livestyle.checkpoints import build_model, load_checkpoint
    from livestyle.training.data import ImageBank
    net = build_model(load_checkpoint(checkpoint, "johnson")).float().eval()
    bank, terms = ImageBank.from_folders([content], "content"), []
    for step in range(4):
        x = bank.batch(99, step, 2, 48)
        probe = motion_probe(x, 99, step, mode)
        terms.append(float(probe.loss(net(x) / 255, net(probe.inputs) / 255)))
    return float(np.mean(terms))


def test_a_few_steps_with_the_temporal_loss_lower_it(runs, tiny_content):
    on = [row["mosaic/temporal"] for row in runs["on"]]
    assert np.mean(on[-3:]) < 0.8 * np.mean(on[:2]), on
    assert "mosaic/temporal" not in runs["off"][0]
    for mode in ("warp", "noise"):
        with_loss = temporal_term(runs["root"] / "on/mosaic.pt", tiny_content, mode)
        without = temporal_term(runs["root"] / "off/mosaic.pt", tiny_content, mode)
        assert with_loss < 0.8 * without, (mode, with_loss, without)


def test_the_temporal_setting_is_recorded_in_the_checkpoint(runs):
    from livestyle.checkpoints import load_checkpoint
    meta = load_checkpoint(runs["root"] / "on/mosaic.pt", "johnson")["meta"]
    assert meta["settings"]["temporal_weight"] == 200 and meta["settings"]["temporal_mode"] == "both"
    assert meta["temporal_motion"] == SyntheticMotion().to_dict()
    assert meta["final_losses"]["temporal"] == runs["on"][-1]["mosaic/temporal"]
    off = load_checkpoint(runs["root"] / "off/mosaic.pt", "johnson")["meta"]
    assert off["settings"]["temporal_weight"] == 0 and "temporal_motion" not in off


def test_resume_is_exact_with_the_temporal_loss(runs, tiny_content):
    out = runs["root"] / "resumed"
    train(out, tiny_content, 4, WARM + TEMPORAL)
    resumed = train(out, tiny_content, 8, ["--resume", *WARM, *TEMPORAL])
    assert [r["step"] for r in resumed] == list(range(1, 9))
    for row, straight in zip(resumed[4:], runs["on"][4:]):
        assert row["mosaic/temporal"] == pytest.approx(straight["mosaic/temporal"], rel=1e-4)
        assert row["total"] == pytest.approx(straight["total"], rel=1e-4)


def test_the_task_refuses_an_unknown_mode_before_loading_anything():
    """(The CLI's own refusals are rows of test_training.test_bad_loop_option_is_refused.)"""
    from livestyle.training.johnson import JohnsonSettings, JohnsonTask
    with pytest.raises(InputError, match="temporal"):
        JohnsonTask([], None, None, JohnsonSettings(temporal_weight=1.0, temporal_mode="flow"), torch.device("cpu"))
