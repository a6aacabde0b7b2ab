"""Training your own style from a plain install: torchvision's VGG-16 file, no shared folder, no
checkout as the working folder, the result exported to the user's models folder and used by name."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import cv2
import numpy as np
import pytest
import torch

from livestyle.cli.main import main
from livestyle.paths import TORCHVISION_VGG16
from conftest import needs_shared

torchvision = pytest.importorskip("torchvision")


def torchvision_features() -> torch.nn.Sequential:
    """A randomly initialised ``torchvision.models.vgg16().features`` (built the way vgg16() builds
    it, without the 120M-weight classifier nobody here needs)."""
    torch.manual_seed(0)
    return torchvision.models.vgg.make_layers(torchvision.models.vgg.cfgs["D"])


def write_torchvision_file(path) -> dict:
    """A file laid out as torchvision's ``vgg16-397923af.pth``: ``features.N.*`` and ``classifier.*``
    keys, fp32 (a tiny stand-in classifier: its keys are what must be skipped)."""
    features = torchvision_features().state_dict()
    state = {f"features.{k}": v for k, v in features.items()}
    state.update({"classifier.0.weight": torch.zeros(8, 16), "classifier.0.bias": torch.zeros(8)})
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(state, path)
    return features


def test_torchvision_vgg_file_gives_the_features_of_the_same_weights_in_the_shared_format(tmp_path):
    from livestyle.checkpoints import load_vgg16
    from livestyle.training.losses import GRAM_STYLE_LAYERS

    features = write_torchvision_file(tmp_path / TORCHVISION_VGG16)
    # the shared folder's layout: the conv layers up to relu4_3 (index 22), keys without a prefix
    torch.save({k: v for k, v in features.items() if int(k.split(".")[0]) <= 22}, tmp_path / "shared_format.pth")
    layers = GRAM_STYLE_LAYERS + ("relu3_3",)
    a = load_vgg16(tmp_path / TORCHVISION_VGG16, layers)
    b = load_vgg16(tmp_path / "shared_format.pth", layers)
    x = torch.rand(2, 3, 40, 48)
    with torch.no_grad():
        fa, fb = a(x), b(x)
        reference = torchvision_features()[:23].eval()((x - a.mean) / a.std)
    assert set(fa) == set(layers)
    for name in layers:
        assert torch.equal(fa[name], fb[name])
    assert torch.allclose(fa["relu4_3"], reference, atol=1e-5)   # torchvision's own net, same weights


def test_the_adain_encoder_refuses_torchvision_vgg(tmp_path):
    from livestyle.checkpoints import load_vgg16
    from livestyle.errors import ModelError

    write_torchvision_file(tmp_path / TORCHVISION_VGG16)
    with pytest.raises(ModelError, match="another scale"):
        load_vgg16(tmp_path / TORCHVISION_VGG16, ("relu4_1",), torchvision_ok=False)


def test_missing_vgg_names_the_torchvision_file_and_how_to_get_it(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("LIVESTYLE_SHARED", str(tmp_path / "nowhere"))
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    style = tmp_path / "mine.png"
    cv2.imwrite(str(style), np.zeros((64, 64, 3), np.uint8))
    code = main(["train", "johnson", "--style-image", str(style), "-o", str(tmp_path / "run")])
    err = capsys.readouterr().err
    assert code == 2 and len(err.strip().splitlines()) == 1
    assert TORCHVISION_VGG16 in err and "torchvision.models.vgg16(weights='IMAGENET1K_V1')" in err
    assert str(tmp_path / "torch" / "hub" / "checkpoints") in err and "--vgg-weights" in err
    assert not (tmp_path / "run").exists()


def test_torchvisions_download_cache_is_where_the_vgg_is_looked_for(tmp_path, monkeypatch):
    from livestyle.paths import loss_vgg_weights, vgg_weights

    monkeypatch.setenv("LIVESTYLE_SHARED", str(tmp_path / "nowhere"))
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    cached = tmp_path / "torch" / "hub" / "checkpoints" / TORCHVISION_VGG16
    cached.parent.mkdir(parents=True)
    cached.write_bytes(b"")
    assert loss_vgg_weights() == cached
    assert loss_vgg_weights(tmp_path / "mine.pth") == tmp_path / "mine.pth"
    assert vgg_weights() != cached   # the AdaIN encoder keeps to the shared folder's file


def test_time_budget_decays_the_rate_and_stops_the_run():
    from livestyle.training.loop import LoopConfig, learning_rate

    config = LoopConfig(steps=10_000, lr=1e-3, schedule="cosine", min_lr=0.0, time_budget_s=100.0)
    assert learning_rate(config, 10, trained_s=0.0) == pytest.approx(1e-3, rel=1e-2)
    assert learning_rate(config, 10, trained_s=50.0) == pytest.approx(5e-4, rel=1e-3)
    assert learning_rate(config, 10, trained_s=100.0) == pytest.approx(0.0, abs=1e-12)


def test_export_refuses_a_shipped_name_for_your_style(tmp_path, capsys):
    code = main(["export", "--checkpoint", str(tmp_path / "mosaic.pt")])
    err = capsys.readouterr().err
    assert code == 2 and "ships with livestyle" in err and "--name" in err


def test_your_style_from_outside_the_repo_trains_exports_and_paints_by_name(tmp_path, monkeypatch):
    """No shared folder, torchvision's VGG-16 file where torchvision puts it, four photos: train for
    a time budget, export, then `styles` lists the style and `image --style NAME` uses it."""
    photos = tmp_path / "photos"
    photos.mkdir()
    yy, xx = np.mgrid[0:72, 0:96]
    for i in range(4):
        img = np.stack([(xx * (i + 2) * 3) % 255, (yy * 5 + 40 * i) % 255, (xx + yy) * 2 % 255], -1).astype(np.uint8)
        cv2.circle(img, (30 + 10 * i, 36), 15, (255, 255, 255), -1)
        cv2.imwrite(str(photos / f"photo{i}.jpg"), img)
    rng = np.random.default_rng(1)
    painting = cv2.resize((rng.random((16, 16, 3)) * 255).astype(np.uint8), (128, 128), interpolation=cv2.INTER_NEAREST)
    cv2.imwrite(str(tmp_path / "mine.png"), painting)
    write_torchvision_file(tmp_path / "torch" / "hub" / "checkpoints" / TORCHVISION_VGG16)
    env = dict(os.environ, LIVESTYLE_SHARED=str(tmp_path / "nowhere"), TORCH_HOME=str(tmp_path / "torch"),
               LIVESTYLE_MODELS=str(tmp_path / "models"), LIVESTYLE_CACHE=str(tmp_path / "cache"))
    env.pop("LIVESTYLE_EXPORTED", None)

    def livestyle(*args: str) -> subprocess.CompletedProcess:
        result = subprocess.run([sys.executable, "-m", "livestyle", *args], cwd=tmp_path, env=env,
                                capture_output=True, text=True, timeout=600)
        assert result.returncode == 0, result.stderr[-2000:]
        return result

    # the defaults but for the sizes and a 3-second budget: a realtime net, warm-started from a shipped one
    trained = livestyle("train", "johnson", "--style-image", "mine.png", "--content-dir", "photos", "-o", "runs/mine",
                        "--time-budget", "0.05", "--image-size", "64", "--batch-size", "2", "--style-size", "96",
                        "--device", "cpu")
    assert "warm start from" in trained.stdout and "time budget of 0.05 min spent" in trained.stdout
    ckpt = torch.load(tmp_path / "runs/mine/mine.pt", weights_only=True)
    assert ckpt["meta"]["variant"] == "fast" and ckpt["meta"]["warm_start"]["checkpoint"].endswith("_fast.pt")
    assert list((tmp_path / "runs/mine").glob("sample_*.jpg"))   # what it paints, to look at
    livestyle("export", "--checkpoint", "runs/mine/mine.pt")
    assert (tmp_path / "models" / "mine.onnx").is_file()
    listed = livestyle("styles").stdout
    assert any(line.startswith("mine ") and "yours" in line for line in listed.splitlines())
    livestyle("image", "photos/photo0.jpg", "-o", "out.png", "--style", "mine")
    assert cv2.imread(str(tmp_path / "out.png")).shape == (72, 96, 3)

    from livestyle.runtime import catalog, registry
    manifest = json.loads((tmp_path / "models" / "manifest.json").read_text())
    assert manifest["models"]["mine"]["architecture"]["widths"] == [16, 32, 64, 128]   # the shipped fast nets' design
    monkeypatch.setenv("LIVESTYLE_MODELS", str(tmp_path / "models"))
    assert "mine" in registry.list_style_names()
    assert "mine" not in [s.name for s in catalog.shipped_nets()]   # docs/nets.md lists shipped nets only


@pytest.mark.parametrize("size, message", [(32, "reflects a 32 px border"), (60, "multiple of it")])
def test_a_crop_size_the_realtime_design_cannot_take_is_refused_before_any_work(tmp_path, capsys, size, message):
    photos = tmp_path / "photos"
    photos.mkdir()
    cv2.imwrite(str(photos / "a.png"), np.zeros((64, 64, 3), np.uint8))
    cv2.imwrite(str(tmp_path / "mine.png"), np.zeros((64, 64, 3), np.uint8))
    code = main(["train", "johnson", "--style-image", str(tmp_path / "mine.png"), "--content-dir", str(photos),
                 "-o", str(tmp_path / "run"), "--image-size", str(size), "--vgg-weights", str(tmp_path / "unread.pth")])
    err = capsys.readouterr().err
    assert code == 2 and message in err and "--image-size" in err
    assert not (tmp_path / "run").exists()


@needs_shared
def test_a_style_retrained_under_its_name_gets_a_new_fp16_graph(tmp_path, monkeypatch):
    """--fp16 builds a style's half-precision graph from its checkpoint on first use; after the
    style is retrained and exported again under the same name, the old graph is not reused."""
    import onnxruntime as ort

    from livestyle.checkpoints import atomic_save, make_checkpoint
    from livestyle.export.johnson import publish_checkpoint
    from livestyle.models.johnson import THIN_CONFIG, TransformerNet
    from livestyle.runtime import registry

    monkeypatch.setenv("LIVESTYLE_MODELS", str(tmp_path / "models"))
    monkeypatch.setenv("LIVESTYLE_CACHE", str(tmp_path / "cache"))
    image = np.random.default_rng(0).uniform(0, 255, (1, 3, 32, 32)).astype(np.float32)
    outputs = []
    for seed in (0, 1):   # the first training, then a retraining under the same name
        torch.manual_seed(seed)
        net = TransformerNet(THIN_CONFIG)
        ckpt = atomic_save(make_checkpoint("johnson", THIN_CONFIG.to_dict(), net.state_dict(), {"steps": seed}),
                           tmp_path / "runs" / "mine.pt")
        publish_checkpoint(ckpt, tmp_path / "models" / "mine.onnx", "mine")
        half = registry.onnx_for(registry.resolve_style("mine"), fp16=True)
        session = ort.InferenceSession(str(half), providers=["CPUExecutionProvider"])
        outputs.append((half, session.run(None, {session.get_inputs()[0].name: image})[0]))
    (first, out_a), (second, out_b) = outputs
    assert first != second and first.is_file() and second.is_file()
    assert np.abs(out_a - out_b).max() > 1.0
