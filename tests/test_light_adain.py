"""livestyle's light arbitrary-style net: the model, its trainer, its export and shipped graphs."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from livestyle.checkpoints import atomic_save, build_model, load_checkpoint, make_checkpoint
from livestyle.cli.main import main
from livestyle.models.light_adain import LightAdaINConfig, LightAdaINNet
from livestyle.models.ops import channel_mean_std
from livestyle.training.light_adain import augment_paintings, mix_pairs, rotate_hue

from conftest import SHARED, needs_shared


def test_light_net_is_small_and_keeps_the_frame_size():
    net = LightAdaINNet().eval()
    assert sum(p.numel() for p in net.parameters()) < 200_000  # real time on a laptop CPU
    x = torch.rand(1, 3, 72, 128) * 255
    mean, std = net.style_stats(torch.rand(1, 3, 64, 96) * 255)
    assert mean.shape == (1, LightAdaINConfig().widths[-1], 1, 1)
    with torch.no_grad():
        y = net(x, mean, std, torch.ones(1))
    assert y.shape == x.shape


def test_hue_rotation_keeps_luma_and_turns_colour():
    torch.manual_seed(0)
    img = torch.rand(2, 3, 8, 8) * 0.5 + 0.25
    turned = rotate_hue(img, torch.tensor([0.0, 2.0]))
    luma = torch.tensor([0.299, 0.587, 0.114]).view(1, 3, 1, 1)
    assert torch.allclose((turned * luma).sum(1), (img * luma).sum(1), atol=1e-4)
    assert torch.allclose(turned[0], img[0], atol=1e-5)
    assert (turned[1] - img[1]).abs().mean() > 0.02


def test_painting_augmentation_is_deterministic_per_step():
    img = torch.rand(4, 3, 16, 16)
    a = augment_paintings(img, np.random.default_rng([1, 5]), 0.5)
    b = augment_paintings(img, np.random.default_rng([1, 5]), 0.5)
    assert torch.equal(a, b) and a.shape == img.shape


def test_mixed_statistics_lie_between_the_pair():
    stats = torch.tensor([0.0, 10.0]).view(2, 1, 1, 1)
    mixed = mix_pairs(stats, torch.tensor([1, 0]), torch.tensor([0.25, 1.0]))
    assert mixed.flatten().tolist() == [7.5, 10.0]


@pytest.fixture
def tiny_sets(tmp_path, shared):
    content, styles = tmp_path / "content", tmp_path / "styles"
    content.mkdir()
    styles.mkdir()
    for p in sorted((shared / "content/train/urban100").glob("*"))[:4]:
        cv2.imwrite(str(content / p.name), cv2.resize(cv2.imread(str(p)), (96, 72), interpolation=cv2.INTER_AREA))
    for name in ("mosaic.jpg", "candy.jpg", "udnie.jpg"):
        img = cv2.imread(str(shared / "styles" / name))
        cv2.imwrite(str(styles / name), cv2.resize(img, (96, 96), interpolation=cv2.INTER_AREA))
    return content, styles


def _train(out, sets, steps, extra=()):
    content, styles = sets
    args = ["train", "adain-light", "--content-dir", str(content), "--style-dir", str(styles), "-o", str(out),
            "--steps", str(steps), "--batch-size", "2", "--image-size", "48", "--checkpoint-every", "4",
            "--sample-every", "100", "--log-every", "1", "--device", "cpu", "--lr", "2e-3", *extra]
    assert main(args) == 0
    return json.loads((out / "history.json").read_text())


@needs_shared
def test_few_steps_lower_the_loss_and_resume_is_exact(tmp_path, tiny_sets):
    hist = _train(tmp_path / "a", tiny_sets, 12)
    assert np.mean([r["distill"] for r in hist[-3:]]) < hist[0]["distill"]
    assert np.mean([r["total"] for r in hist[-3:]]) < hist[0]["total"]
    _train(tmp_path / "b", tiny_sets, 8)
    resumed = _train(tmp_path / "b", tiny_sets, 12, ["--resume"])
    assert [r["step"] for r in resumed] == list(range(1, 13))
    assert resumed[10]["total"] == pytest.approx(hist[10]["total"], rel=1e-4)
    ckpt = load_checkpoint(tmp_path / "b/adain_light.pt", "light_adain")
    assert ckpt["meta"]["steps"] == 12 and "VGG-16" in ckpt["meta"]["teacher"]
    assert isinstance(build_model(ckpt), LightAdaINNet)


@needs_shared
def test_decoder_stage_leaves_the_encoder_alone(tmp_path, tiny_sets):
    _train(tmp_path / "a", tiny_sets, 2)
    before = load_checkpoint(tmp_path / "a/adain_light.pt")["state_dict"]
    hist = _train(tmp_path / "b", tiny_sets, 3, ["--stage", "decoder", "--init-from", str(tmp_path / "a")])
    after = load_checkpoint(tmp_path / "b/adain_light.pt")["state_dict"]
    assert "distill" not in hist[0]
    assert all(torch.equal(before[k], after[k]) for k in before if k.startswith("encoder."))
    assert any(not torch.equal(before[k], after[k]) for k in before if k.startswith("decoder."))


def _random_checkpoint(path: Path) -> Path:
    torch.manual_seed(0)
    net = LightAdaINNet()
    return atomic_save(make_checkpoint("light_adain", net.config.to_dict(), net.state_dict(), {"steps": 0}), path)


def test_export_matches_pytorch(tmp_path):
    from livestyle.export.light_adain import GRAPH_FILES, export_light_adain
    from livestyle.export.onnx import parity_images

    ckpt = _random_checkpoint(tmp_path / "net.pt")
    facts = export_light_adain(ckpt, tmp_path / "graphs", parity_images(SHARED if SHARED.is_dir() else None, 2, 128))
    assert all((tmp_path / "graphs" / f).is_file() for f in GRAPH_FILES.values())
    assert facts["chained_parity_max_abs_diff"] < 1.0 and facts["style_parity_rel"] < 1e-3
