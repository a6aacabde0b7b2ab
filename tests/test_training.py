"""Training loop, losses, loss network and the quality meter, on tiny images (CPU, seconds)."""

from __future__ import annotations

import json
import subprocess
import sys

import cv2
import numpy as np
import pytest
import torch

from livestyle.cli.main import main
from livestyle.models.ops import adain, channel_mean_std
from livestyle.paths import VGG16_WEIGHTS, exported_dir

from conftest import SHARED, needs_shared

VGG = SHARED / VGG16_WEIGHTS


def test_adain_output_takes_the_style_statistics():
    torch.manual_seed(0)
    content, style = torch.randn(2, 8, 16, 16) * 3 + 1, torch.randn(2, 8, 12, 12) * 0.5 - 2
    sm, ss = channel_mean_std(style)
    om, os_ = channel_mean_std(adain(content, sm, ss))
    assert torch.allclose(om, sm, atol=1e-4) and torch.allclose(os_, ss, atol=1e-3)


@pytest.fixture
def tiny_content(tmp_path, shared):
    folder = tmp_path / "content"
    folder.mkdir()
    for p in sorted((shared / "content/train/urban100").glob("*"))[:6]:
        img = cv2.imread(str(p))
        cv2.imwrite(str(folder / p.name), cv2.resize(img, (96, 72), interpolation=cv2.INTER_AREA))
    return folder


def train(out, content, steps, extra=()):
    variant = [] if "--variant" in extra else ["--variant", "full"]   # the loop's mechanics, on the paper's net
    args = ["train", "johnson", "--style-image", str(SHARED / "styles/mosaic.jpg"), "--name", "mosaic",
            "--content-dir", str(content), "-o", str(out), "--steps", str(steps), "--batch-size", "2",
            "--image-size", "48", "--style-size", "96", "--checkpoint-every", "4", "--sample-every", "100",
            "--device", "cpu", "--lr", "1e-3", "--log-every", "1", *variant, *extra]
    assert main(args) == 0
    return json.loads((out / "history.json").read_text())


@needs_shared
def test_few_steps_lower_the_loss_and_resume_is_exact(tmp_path, tiny_content):
    ramp = ["--warmup", "10"]  # the stop falls inside the ramp, which must continue where it was
    hist = train(tmp_path / "a", tiny_content, 12, ramp)
    first, last = hist[0]["total"], np.mean([r["total"] for r in hist[-3:]])
    assert last < first
    # 8 steps, stop, resume to 12: identical loss curve to the uninterrupted run.
    train(tmp_path / "b", tiny_content, 8, ramp)
    resumed = train(tmp_path / "b", tiny_content, 12, ["--resume", *ramp])
    assert [r["step"] for r in resumed] == list(range(1, 13))
    assert resumed[8]["total"] == pytest.approx(hist[8]["total"], rel=1e-4)
    from livestyle.checkpoints import build_model, load_checkpoint
    net = build_model(load_checkpoint(tmp_path / "b/mosaic.pt", "johnson"))
    assert net(torch.rand(1, 3, 32, 32) * 255).shape == (1, 3, 32, 32)


@needs_shared
def test_sigterm_stops_training_with_a_resumable_checkpoint(tmp_path, tiny_content):
    """kill (SIGTERM) ends a run like Ctrl-C, also one a script started in the background with
    SIGINT ignored; the loop's last checkpoint is written either way."""
    import re
    import signal
    import subprocess
    import sys
    import time
    out, log = tmp_path / "run", tmp_path / "stderr.txt"
    args = [sys.executable, "-m", "livestyle", "train", "johnson", "--style-image", str(SHARED / "styles/mosaic.jpg"),
            "--content-dir", str(tiny_content), "-o", str(out), "--steps", "100000", "--batch-size", "1",
            "--image-size", "32", "--style-size", "64", "--checkpoint-every", "100000", "--device", "cpu",
            "--variant", "full"]
    with open(log, "w") as err:
        proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=err,
                                preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN))
        deadline = time.monotonic() + 120
        # tqdm shows a rate ("6.1step/s", not "?step/s") once steps have been taken
        while (not re.search(r"[0-9]step/s", log.read_text()) and time.monotonic() < deadline
               and proc.poll() is None):
            time.sleep(0.2)
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(timeout=120)
    assert code == 130 and "interrupted" in log.read_text()
    from livestyle.checkpoints import load_torch_file
    assert load_torch_file(out / "train_state.pt", what="state")["step"] > 0


def test_learning_rate_ramps_up_then_holds():
    from livestyle.training.loop import LoopConfig, learning_rate
    ramp = LoopConfig(steps=100, lr=1e-3, warmup_steps=4)
    assert [learning_rate(ramp, s) for s in range(6)] == pytest.approx([2.5e-4, 5e-4, 7.5e-4, 1e-3, 1e-3, 1e-3])
    assert learning_rate(LoopConfig(steps=100, lr=1e-3), 0) == 1e-3


def test_cosine_schedule_falls_from_the_ramps_top_to_the_floor():
    from livestyle.training.loop import LoopConfig, learning_rate
    cosine = LoopConfig(steps=103, lr=1e-3, warmup_steps=4, schedule="cosine", min_lr=1e-5)
    rates = [learning_rate(cosine, s) for s in range(104)]
    assert rates[:4] == pytest.approx([2.5e-4, 5e-4, 7.5e-4, 1e-3])
    assert rates[53] == pytest.approx((1e-3 + 1e-5) / 2)   # halfway from the ramp's top to --steps
    assert rates[103] == pytest.approx(1e-5)
    assert all(a >= b for a, b in zip(rates[3:], rates[4:]))


@pytest.mark.parametrize("option, value, message", [
    ("--warmup", "-3", "--warmup: must be at least 0, got -3"),
    ("--ema", "1", "--ema: a decay of 1 would never move the average"),
    ("--temporal-weight", "-1", "--temporal-weight: must be at least 0"),
    ("--temporal-mode", "flow", "--temporal-mode: invalid choice: 'flow'"),
    ("--crop-min", "0", "--crop-min: must be a fraction in (0, 1]"),
    ("--defocus", "1.5", "--defocus: must be in 0..1"),
    ("--flat", "-0.1", "--flat: must be in 0..1"),
    ("--lr-schedule", "linear", "--lr-schedule: invalid choice: 'linear'"),
    ("--min-lr", "-0.0001", "--min-lr: must be at least 0"),
    ("--style-layer-weights", "relu5_1=0.5", "'relu5_1=0.5' is not LAYER=WEIGHT with LAYER one of relu1_2"),
    ("--style-layer-weights", "relu4_3=-1", "layer weights must be >= 0, got -1.0 for relu4_3"),
    ("--style-layer-weights", "relu4_3=much", "'much' in 'relu4_3=much' is not a number"),
])
def test_bad_loop_option_is_refused(option, value, message, capsys):
    with pytest.raises(SystemExit) as exc:
        main(["train", "johnson", "--style-image", "x.jpg", "-o", "out", option, value])
    assert exc.value.code == 2 and message in capsys.readouterr().err


def test_a_cosine_floor_above_the_learning_rate_is_refused(tmp_path, capsys):
    code = main(["train", "johnson", "--style-image", "x.jpg", "-o", str(tmp_path / "out"),
                 "--lr", "1e-4", "--lr-schedule", "cosine", "--min-lr", "0.001"])
    err = capsys.readouterr().err
    assert code != 0 and "--min-lr 0.001 is above the learning rate 0.0001" in err
    assert not (tmp_path / "out").exists()


@needs_shared
def test_warm_start_is_recorded_in_the_checkpoint(tmp_path, tiny_content):
    """Fine-tuning from an earlier net keeps its provenance (the manifest shows it after export)."""
    train(tmp_path / "a", tiny_content, 2)
    train(tmp_path / "b", tiny_content, 2, ["--init-from", str(tmp_path / "a")])
    from livestyle.checkpoints import load_checkpoint
    meta = load_checkpoint(tmp_path / "b/mosaic.pt", "johnson")["meta"]
    assert meta["warm_start"] == {"checkpoint": "mosaic.pt", "steps": 2}
    train(tmp_path / "b", tiny_content, 4, ["--resume"])  # a resumed run keeps where it started from
    meta = load_checkpoint(tmp_path / "b/mosaic.pt", "johnson")["meta"]
    assert meta["steps"] == 4 and meta["warm_start"] == {"checkpoint": "mosaic.pt", "steps": 2}
    assert "warm_start" not in load_checkpoint(tmp_path / "a/mosaic.pt", "johnson")["meta"]


@needs_shared
def test_perceptual_fine_tune_keeps_a_light_students_design(tmp_path, tiny_content):
    """--variant fast --init-from a `distill --student slim` folder fine-tunes that net as it is
    (norms in the encoder only, one border), and --resume rebuilds it too."""
    from livestyle.checkpoints import load_checkpoint
    from livestyle.models.johnson import SLIM_CONFIG, TransformerConfig
    assert main(["train", "distill", "--teacher", "mosaic", "--content-dir", str(tiny_content), "-o",
                 str(tmp_path / "d"), "--steps", "2", "--batch-size", "2", "--image-size", "48", "--bank-size", "16",
                 "--student", "slim", "--checkpoint-every", "2", "--sample-every", "100", "--device", "cpu"]) == 0
    train(tmp_path / "ft", tiny_content, 2, ["--variant", "fast", "--init-from", str(tmp_path / "d")])
    ckpt = load_checkpoint(tmp_path / "ft/mosaic_fast.pt", "johnson")
    assert TransformerConfig.from_dict(ckpt["config"]) == SLIM_CONFIG
    teacher_steps = load_checkpoint(exported_dir() / "mosaic.pt", "johnson")["meta"]["steps"]
    assert ckpt["meta"]["warm_start"]["distilled_from"] == "mosaic"
    assert ckpt["meta"]["warm_start"]["teacher_steps"] == teacher_steps  # which teacher: the manifest says
    train(tmp_path / "ft", tiny_content, 4, ["--variant", "fast", "--resume"])
    ckpt = load_checkpoint(tmp_path / "ft/mosaic_fast.pt", "johnson")
    assert ckpt["meta"]["steps"] == 4 and TransformerConfig.from_dict(ckpt["config"]) == SLIM_CONFIG


def test_weight_average_follows_the_weights_and_swaps_back():
    from livestyle.training.averaging import WeightAverage
    net = torch.nn.Linear(2, 1)
    with torch.no_grad():
        net.weight.fill_(1.0)
    average = WeightAverage({"net": net}, decay=0.75)
    with torch.no_grad():
        net.weight.fill_(5.0)
    average.update()                                   # 0.75 * 1 + 0.25 * 5
    assert torch.allclose(average.averages["net"]["weight"], torch.full((1, 2), 2.0))
    with average.swapped_in():
        assert torch.allclose(net.weight, torch.full((1, 2), 2.0))
    assert torch.allclose(net.weight, torch.full((1, 2), 5.0))
    with pytest.raises(ValueError):
        WeightAverage({"net": net}, decay=1.0)


def _random_checkpoint(path, config, seed, steps):
    from livestyle.checkpoints import atomic_save, make_checkpoint
    from livestyle.models.johnson import TransformerNet
    torch.manual_seed(seed)
    net = TransformerNet(config)
    state = {k: v.half() for k, v in net.state_dict().items()}  # as training saves them
    return atomic_save(make_checkpoint("johnson", config.to_dict(), state, {"steps": steps}), path)


def test_averaged_checkpoint_is_the_mean_of_its_sources_and_builds(tmp_path, capsys):
    from livestyle.checkpoints import build_model, load_checkpoint
    from livestyle.models.johnson import SLIM_CONFIG, SLIM8_CONFIG
    paths = [_random_checkpoint(tmp_path / f"s{i}.pt", SLIM_CONFIG, i, 100 * (i + 1)) for i in range(3)]
    assert main(["train", "average", *map(str, paths), "-o", str(tmp_path / "avg.pt")]) == 0
    averaged = load_checkpoint(tmp_path / "avg.pt", "johnson")
    sources = [load_checkpoint(p, "johnson")["state_dict"] for p in paths]
    for key, value in averaged["state_dict"].items():
        expected = torch.stack([s[key].float() for s in sources]).mean(0)
        assert value.dtype == sources[0][key].dtype
        assert torch.allclose(value.float(), expected, atol=2e-3), key
        if not torch.equal(sources[0][key], sources[-1][key]):
            assert not torch.equal(value, sources[-1][key]), key  # not just the last one
    assert [a["steps"] for a in averaged["meta"]["averaged_from"]] == [100, 200, 300]
    assert averaged["meta"]["steps"] == 300
    assert build_model(averaged)(torch.rand(1, 3, 64, 64)).shape == (1, 3, 64, 64)  # a usable net, as export will build it

    # --weights: a point on the line between two checkpoints, recorded with its shares.
    assert main(["train", "average", str(paths[0]), str(paths[2]), "--weights", "3,7", "-o",
                 str(tmp_path / "w.pt")]) == 0
    weighted = load_checkpoint(tmp_path / "w.pt", "johnson")
    a, b = (load_checkpoint(p, "johnson")["state_dict"] for p in (paths[0], paths[2]))
    for key, value in weighted["state_dict"].items():
        assert torch.allclose(value.float(), 0.3 * a[key].float() + 0.7 * b[key].float(), atol=2e-3), key
    assert [(s["steps"], s["weight"]) for s in weighted["meta"]["averaged_from"]] == [(100, 0.3), (300, 0.7)]
    from livestyle.runtime.catalog import _training   # docs/nets.md says what a shipped net is a mix of
    assert "then the mean of 0.3 x step 100 (s0.pt) + 0.7 x step 300 (s2.pt)" in _training(weighted["meta"])

    other = _random_checkpoint(tmp_path / "other.pt", SLIM8_CONFIG, 0, 100)
    for args, message in (([paths[0]], "at least two"), ([paths[0], other], "different net"),
                          ([paths[0], paths[1]], "also an input"),
                          ([paths[0], paths[1], "--weights", "1"], "1 weight(s) (--weights) given for 2"),
                          ([paths[0], paths[1], "--weights", "1,-1"], "--weights must be non-negative"),
                          ([paths[0], paths[1], "--weights", "a,b"], "--weights must be comma-separated")):
        out = paths[1] if message == "also an input" else tmp_path / "bad.pt"
        before = out.read_bytes() if out.exists() else None
        assert main(["train", "average", *map(str, args), "-o", str(out)]) == 2
        assert message in capsys.readouterr().err
        assert (out.read_bytes() if out.exists() else None) == before  # nothing written or overwritten


@needs_shared
def test_ema_checkpoint_is_the_average_and_resumes_exactly(tmp_path, tiny_content):
    from livestyle.checkpoints import load_checkpoint, load_torch_file

    def saved_and_raw(folder):
        saved = load_checkpoint(folder / "mosaic.pt", "johnson")
        return saved, load_torch_file(folder / "train_state.pt", what="state")["modules"]["mosaic"]

    ema = ["--ema", "0.5", "--lr", "0.02"]  # a large rate: one step moves the weights far past fp16 rounding
    train(tmp_path / "a", tiny_content, 8, ema)
    saved, raw = saved_and_raw(tmp_path / "a")
    assert saved["meta"]["settings"]["ema_decay"] == 0.5
    moved = [k for k, v in saved["state_dict"].items() if not torch.equal(v, raw[k].half())]
    assert len(moved) > len(raw) // 2, "the saved net should be the average, not the last step's weights"
    # 7 steps, stop, resume to 8: the same average as the uninterrupted run, one update on.
    train(tmp_path / "b", tiny_content, 7, ema)
    before = load_checkpoint(tmp_path / "b/mosaic.pt", "johnson")["state_dict"]
    train(tmp_path / "b", tiny_content, 8, ["--resume", *ema])
    after, last = saved_and_raw(tmp_path / "b")
    steps_apart = 0.0
    for k, v in saved["state_dict"].items():
        assert torch.equal(after["state_dict"][k], v), k
        expected = 0.5 * before[k].float() + 0.5 * last[k].float()
        assert torch.allclose(after["state_dict"][k].float(), expected, atol=2e-3), k
        steps_apart = max(steps_apart, float((after["state_dict"][k].float() - before[k].float()).abs().max()))
    assert steps_apart > 1e-2  # the recurrence check above is not met by standing still


@needs_shared
def test_content_layer_choice_changes_the_loss_and_is_recorded(tmp_path, tiny_content):
    shallow = train(tmp_path / "a", tiny_content, 1)
    deep = train(tmp_path / "b", tiny_content, 1, ["--content-layer", "relu3_3"])
    # Same batch, same initial net: only the content term can differ.
    assert deep[0]["mosaic/style"] == pytest.approx(shallow[0]["mosaic/style"], rel=1e-5)
    assert deep[0]["mosaic/content"] != pytest.approx(shallow[0]["mosaic/content"], rel=1e-2)
    from livestyle.checkpoints import load_checkpoint
    assert load_checkpoint(tmp_path / "b/mosaic.pt", "johnson")["meta"]["settings"]["content_layer"] == "relu3_3"


@needs_shared
@pytest.mark.parametrize("setting", ["defocus", "flat"])
def test_crop_changes_reach_the_training_batches(tmp_path, tiny_content, setting):
    """Same seed: all crops blurred (``--defocus``) or flat-shaded (``--flat``) changes what the net
    is trained on, and the run records it."""
    plain = train(tmp_path / "a", tiny_content, 1, [])[0]
    changed = train(tmp_path / "b", tiny_content, 1, [f"--{setting}", "1"])[0]
    assert changed["mosaic/style"] != pytest.approx(plain["mosaic/style"], rel=1e-3)
    from livestyle.checkpoints import load_checkpoint
    assert load_checkpoint(tmp_path / "b/mosaic.pt", "johnson")["meta"]["settings"][setting] == 1.0


def test_training_precision_follows_the_hardware_and_refuses_unknown_names(monkeypatch):
    from livestyle import devices
    from livestyle.errors import InputError

    assert devices.training_precision("cuda") == "bf16"
    for native in (True, False):
        monkeypatch.setattr(devices, "native_bf16_cpu", lambda: native)
        assert devices.training_precision("cpu") == ("bf16" if native else "fp32")
    assert devices.training_precision("cpu", "bf16") == "bf16"
    assert devices.training_precision("cuda", "fp32") == "fp32"
    with pytest.raises(InputError, match="precision"):
        devices.training_precision("cpu", "fp16")


@needs_shared
def test_bf16_training_step_agrees_with_fp32(tmp_path, tiny_content):
    """Same batch, same initial net: the bf16 autocast losses are the fp32 ones to a fraction of a
    percent (Grams stay fp32), so the speed-up on CPUs with native bf16 does not change training."""
    exact = train(tmp_path / "a", tiny_content, 1, ["--precision", "fp32", "--temporal-weight", "10"])[0]
    fast = train(tmp_path / "b", tiny_content, 1, ["--precision", "bf16", "--temporal-weight", "10"])[0]
    for term in ("mosaic/content", "mosaic/style", "mosaic/tv", "mosaic/temporal", "total"):
        assert fast[term] == pytest.approx(exact[term], rel=0.02), term
    assert fast["total"] != exact["total"]   # bf16 did run


def ramp_bank(folder):
    """Content: one horizontal ramp, 255 levels over 400 px (a 200 px crop spans ~127 levels, a 60 px crop ~38)."""
    from livestyle.training.data import ImageBank

    ramp = np.tile(np.linspace(0, 255, 400, dtype=np.float32), (200, 1))
    cv2.imwrite(str(folder / "ramp.png"), np.repeat(ramp[..., None], 3, axis=2).astype(np.uint8))
    return ImageBank.from_folders([folder], "content")


def spans(batch: torch.Tensor) -> np.ndarray:
    red = batch[:, 0]
    return (red.amax(dim=(1, 2)) - red.amin(dim=(1, 2))).numpy()


def test_smaller_crops_show_the_net_larger_objects(tmp_path):
    """--crop-min: a crop of a smaller part of the photo, scaled to the same size, spans less of
    a horizontal ramp (objects look larger, as in a 512-1080 px frame)."""
    bank = ramp_bank(tmp_path)
    assert spans(bank.batch(0, 0, 16, 64, scale=(1.0, 1.0))) == pytest.approx(127, abs=3)
    assert spans(bank.batch(0, 0, 16, 64, scale=(0.3, 0.3))) == pytest.approx(38, abs=3)


def test_defocus_blurs_that_fraction_of_the_same_crops(tmp_path):
    """``train johnson --defocus``: the batch keeps its crops; about that fraction of them lose their
    fine detail (a Gaussian blur), the rest are untouched."""
    from livestyle.training.data import ImageBank

    rng = np.random.default_rng(0)
    cv2.imwrite(str(tmp_path / "noise.png"), rng.integers(0, 256, (200, 300, 3), dtype=np.uint8))
    bank = ImageBank.from_folders([tmp_path], "content")
    sharp, soft = bank.batch(3, 5, 64, 48), bank.batch(3, 5, 64, 48, defocus=0.5)
    assert torch.equal(bank.batch(3, 5, 64, 48, defocus=0.0), sharp)

    def detail(b):   # mean absolute difference between horizontal neighbours, per crop
        return (b[..., 1:] - b[..., :-1]).abs().mean(dim=(1, 2, 3))

    same = (soft == sharp).flatten(1).all(dim=1)
    blurred = ~same
    assert 20 <= int(blurred.sum()) <= 44
    assert (detail(soft)[blurred] < 0.6 * detail(sharp)[blurred]).all()
    assert torch.allclose(soft.mean(dim=(1, 2, 3)), sharp.mean(dim=(1, 2, 3)), atol=3.0)   # no tint or fade


def test_flat_shading_smooths_planes_and_keeps_edges_of_that_fraction(tmp_path):
    """``train johnson --flat``: about that fraction of the same crops lose the texture inside their
    planes but keep the edges between them (rendered animation), with no tint or fade."""
    from livestyle.training.data import ImageBank

    rng = np.random.default_rng(0)
    halves = np.where(np.arange(200) < 100, 60, 190)[None, :, None] + rng.normal(0, 12, (200, 200, 3))
    cv2.imwrite(str(tmp_path / "halves.png"), halves.clip(0, 255).astype(np.uint8))
    bank = ImageBank.from_folders([tmp_path], "content")
    plain, flat = bank.batch(3, 5, 64, 48, scale=(1.0, 1.0)), bank.batch(3, 5, 64, 48, scale=(1.0, 1.0), flat=0.5)
    assert torch.equal(bank.batch(3, 5, 64, 48, scale=(1.0, 1.0), flat=0.0), plain)

    def texture(b):   # inside the planes: away from the edge in the middle
        return sum((part[..., 1:] - part[..., :-1]).abs().mean(dim=(1, 2, 3)) for part in (b[..., 4:20], b[..., 28:44]))

    def edge(b):      # the step between the two halves' means
        return (b[..., 30:].mean(dim=(1, 2, 3)) - b[..., :18].mean(dim=(1, 2, 3))).abs()

    changed = ~(flat == plain).flatten(1).all(dim=1)
    assert 20 <= int(changed.sum()) <= 44
    assert (texture(flat)[changed] < 0.5 * texture(plain)[changed]).all()
    assert (edge(flat)[changed] > 0.9 * edge(plain)[changed]).all()
    assert torch.allclose(flat.mean(dim=(1, 2, 3)), plain.mean(dim=(1, 2, 3)), atol=3.0)


def test_distillation_bank_takes_its_crops_at_crop_min(tmp_path):
    """``train distill --crop-min``: the teacher's outputs are banked for crops of the given scale."""
    from livestyle.training.distill import DistillSettings, DistillTask

    bank = ramp_bank(tmp_path)
    teacher = {"mosaic": exported_dir() / "mosaic.pt"}

    def bank_spans(crop_min):
        settings = DistillSettings(image_size=32, bank_size=16, crop_min=crop_min)
        return spans(DistillTask(teacher, bank, settings, torch.device("cpu")).inputs.float())

    whole, small = bank_spans(1.0), bank_spans(0.3)
    assert whole == pytest.approx(127, abs=3)
    assert 36 <= small.min() and small.max() <= 130 and small.mean() < 0.8 * whole.mean()


def test_style_layer_weights_scale_their_own_gram_terms_only():
    from livestyle.training.losses import gram_style_loss, gram_style_terms, gram_targets
    torch.manual_seed(0)
    shapes = {"relu1_2": 8, "relu2_2": 4, "relu3_3": 2, "relu4_3": 1}
    feats = {k: torch.rand(2, 6, s * 4, s * 4) for k, s in shapes.items()}
    targets = gram_targets({k: torch.rand(1, 6, s * 4, s * 4) for k, s in shapes.items()})
    terms = gram_style_terms(feats, targets)
    assert all(float(t) > 0 for t in terms.values())
    plain = gram_style_loss(feats, targets)
    assert float(plain) == pytest.approx(float(sum(terms.values())), rel=1e-6)
    weighted = gram_style_loss(feats, targets, {"relu4_3": 0.25, "relu1_2": 2.0})
    expected = terms["relu2_2"] + terms["relu3_3"] + 0.25 * terms["relu4_3"] + 2.0 * terms["relu1_2"]
    assert float(weighted) == pytest.approx(float(expected), rel=1e-6)


@needs_shared
def test_style_layer_weights_are_used_and_recorded(tmp_path, tiny_content):
    plain = train(tmp_path / "a", tiny_content, 1)
    less_deep = train(tmp_path / "b", tiny_content, 1, ["--style-layer-weights", "relu4_3=0"])
    # Same batch, same initial net: dropping a non-negative term can only lower the style loss.
    assert less_deep[0]["mosaic/style"] < plain[0]["mosaic/style"] * 0.999
    assert less_deep[0]["mosaic/content"] == pytest.approx(plain[0]["mosaic/content"], rel=1e-5)
    from livestyle.checkpoints import load_checkpoint
    settings = load_checkpoint(tmp_path / "b/mosaic.pt", "johnson")["meta"]["settings"]
    assert settings["style_layer_weights"] == {"relu4_3": 0.0}


@needs_shared
def test_coarse_structure_charges_a_stamped_disc_not_fine_texture_or_palette():
    from livestyle.training.losses import coarse_luminance, content_loss, load_loss_network
    vgg = load_loss_network(VGG)
    img = cv2.resize(cv2.imread(str(SHARED / "content/eval/chicago.jpg")), (128, 128))
    photo = torch.from_numpy(img[:, :, ::-1].copy()).permute(2, 0, 1)[None].float() / 255

    def loss(y):
        with torch.no_grad():
            return float(content_loss(vgg(coarse_luminance(y, 4)), vgg(coarse_luminance(photo, 4))))

    checker = torch.tensor([[1.0, -1.0], [-1.0, 1.0]]).repeat(64, 64)  # 1 px strokes, cancel in a 4 px cell
    textured = photo + 0.2 * checker
    # Same luma (BT.601 weights), other colours: the palette is the style's to choose.
    recoloured = photo + torch.tensor([0.15, -0.0583, -0.0934]).view(1, 3, 1, 1)
    yy, xx = torch.meshgrid(torch.arange(128.0), torch.arange(128.0), indexing="ij")
    r = ((yy - 80) ** 2 + (xx - 60) ** 2).sqrt()
    stamped = photo.clone()
    stamped[:, :, r < 22] = torch.tensor([0.85, 0.1, 0.1]).view(1, 3, 1)   # candy's red disc...
    stamped[:, :, (r >= 16) & (r < 22)] = torch.tensor([0.95, 0.8, 0.2]).view(1, 3, 1)  # ...in a yellow ring
    assert loss(textured) < 1e-4 and loss(recoloured) < 1e-3
    assert loss(stamped) > 0.02 and loss(stamped) > 20 * max(loss(textured), loss(recoloured))


@needs_shared
def test_structure_weight_is_used_and_recorded(tmp_path, tiny_content, capsys):
    plain = train(tmp_path / "a", tiny_content, 1)
    held = train(tmp_path / "b", tiny_content, 1, ["--structure-weight", "2", "--structure-cell", "2"])
    assert "mosaic/structure" not in plain[0] and held[0]["mosaic/structure"] > 0
    # Same batch, same initial net: the total grows by exactly the weighted new term.
    assert held[0]["total"] == pytest.approx(plain[0]["total"] + 2 * held[0]["mosaic/structure"], rel=1e-5)
    from livestyle.checkpoints import load_checkpoint
    settings = load_checkpoint(tmp_path / "b/mosaic.pt", "johnson")["meta"]["settings"]
    assert (settings["structure_weight"], settings["structure_cell"]) == (2.0, 2)
    capsys.readouterr()
    args = ["train", "johnson", "--style-image", str(SHARED / "styles/mosaic.jpg"), "--content-dir", str(tiny_content),
            "-o", str(tmp_path / "c"), "--steps", "1", "--image-size", "48", "--structure-weight", "1",
            "--structure-cell", "8", "--device", "cpu"]
    assert main(args) != 0
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "cell of 1 to 3 px" in err


@needs_shared
def test_crop_min_is_used_and_recorded(tmp_path, tiny_content):
    whole = train(tmp_path / "a", tiny_content, 1)
    small = train(tmp_path / "b", tiny_content, 1, ["--crop-min", "0.3"])
    assert small[0]["mosaic/content"] != pytest.approx(whole[0]["mosaic/content"], rel=1e-3)
    from livestyle.checkpoints import load_checkpoint
    assert load_checkpoint(tmp_path / "b/mosaic.pt", "johnson")["meta"]["settings"]["crop_min"] == 0.3


@needs_shared
def test_loss_network_reproduces_known_feature_statistics():
    from livestyle.training.losses import load_loss_network
    vgg = load_loss_network(VGG)
    img = cv2.resize(cv2.imread(str(SHARED / "content/eval/golden_gate.jpg")), (384, 384))
    x = torch.from_numpy(img[:, :, ::-1].copy()).permute(2, 0, 1)[None].float() / 255
    with torch.no_grad():
        f = vgg(x)
    # Measured once with this repo (Caffe-scale activations, see ../shared/SOURCES.md).
    assert f["relu4_3"].mean().item() == pytest.approx(15.69, rel=0.02)
    assert f["relu1_2"].mean().item() == pytest.approx(113.3, rel=0.02)


@needs_shared
def test_quality_meter_ranks_stylized_above_photo():
    from livestyle.eval.quality import QualityMeter, eval_photos
    from livestyle.runtime.factory import create_stylizer
    meter = QualityMeter(VGG, SHARED / "styles/starry_night.jpg")
    photos = eval_photos(SHARED)[:2]
    plain = meter.score(lambda x: x, photos, size=128)
    styled = meter.score(create_stylizer("starry_night"), photos, size=128)
    assert styled.style < 0.7 * plain.style and styled.content > plain.content
    assert list(styled.style_by_layer) == ["relu1_2", "relu2_2", "relu3_3", "relu4_3"]
    assert sum(styled.style_by_layer.values()) == pytest.approx(styled.style, rel=1e-5)
    assert plain.coarse_ssim == pytest.approx(1.0) and styled.coarse_ssim < 0.99


@needs_shared
def test_coarse_ssim_falls_for_a_stamped_disc_not_for_fine_texture_or_palette():
    from livestyle.eval.quality import coarse_ssim
    photo = cv2.resize(cv2.imread(str(SHARED / "content/eval/chicago.jpg")), (512, 336))
    checker = np.indices(photo.shape[:2]).sum(0) % 2 * 40 - 20  # 1 px strokes, averaged away by 8 px cells
    textured = np.clip(photo.astype(int) + checker[..., None], 0, 255).astype(np.uint8)
    recoloured = cv2.cvtColor(photo, cv2.COLOR_BGR2YCrCb)
    recoloured[..., 1:] = 255 - recoloured[..., 1:]  # other hues, same luma
    recoloured = cv2.cvtColor(recoloured, cv2.COLOR_YCrCb2BGR)
    stamped = photo.copy()
    for centre in ((150, 220), (300, 250), (420, 200)):  # discs in yellow rings over the towers
        cv2.circle(stamped, centre, 40, (40, 200, 240), -1)
        cv2.circle(stamped, centre, 30, (30, 30, 220), -1)
    assert coarse_ssim(photo, photo) == pytest.approx(1.0)
    assert coarse_ssim(photo, textured) > 0.97 and coarse_ssim(photo, recoloured) > 0.9
    assert coarse_ssim(photo, stamped) < min(coarse_ssim(photo, textured), coarse_ssim(photo, recoloured)) - 0.05


@needs_shared
def test_structure_ssim_ranks_smeared_and_blurred_stylisations_below_a_sharp_one():
    from livestyle.eval.quality import structure_ssim
    photo = cv2.resize(cv2.imread(str(SHARED / "content/eval/chicago.jpg")), (384, 252))
    # A sharp stylisation: the photo's edges kept under another palette and a fine stroke texture.
    sharp = cv2.cvtColor(photo, cv2.COLOR_BGR2YCrCb)
    sharp[..., 1:] = 255 - sharp[..., 1:]
    rng = np.random.default_rng(0)
    strokes = cv2.GaussianBlur(rng.normal(0, 12, photo.shape[:2]), (0, 0), 1.0)[..., None]
    sharp = np.clip(cv2.cvtColor(sharp, cv2.COLOR_YCrCb2BGR) + strokes, 0, 255).astype(np.uint8)
    blurred = cv2.GaussianBlur(sharp, (0, 0), 3.0)
    # Smeared: the same strokes dragged along one direction, as edges melting into brush marks.
    smeared = cv2.filter2D(sharp, -1, np.eye(9, dtype=np.float32) / 9)
    assert structure_ssim(photo, photo) == pytest.approx(1.0)
    assert structure_ssim(photo, sharp) > structure_ssim(photo, smeared) + 0.05
    assert structure_ssim(photo, sharp) > structure_ssim(photo, blurred) + 0.05


def test_structure_loss_charges_lost_edges_not_the_palette():
    from livestyle.training.losses import structure_loss
    torch.manual_seed(0)
    photo = torch.nn.functional.interpolate(torch.rand(1, 3, 16, 16), size=64, mode="bilinear")
    brighter = (photo * 0.8 + 0.15).clamp(0, 1)          # a palette shift: edges where they were
    flat = torch.nn.functional.avg_pool2d(photo, 9, 1, 4)  # the same picture with its edges smeared
    assert structure_loss(photo, photo).item() == pytest.approx(0.0, abs=1e-9)
    assert structure_loss(brighter, photo).item() < 0.1
    assert structure_loss(flat, photo).item() > 5 * structure_loss(brighter, photo).item()


@pytest.mark.parametrize("case", ["empty_content", "bad_style", "unwritable"])
def test_training_bad_input(tmp_path, capsys, case, shared):
    content = tmp_path / "c"
    content.mkdir()
    style = shared / "styles/mosaic.jpg"
    out = tmp_path / "out"
    if case == "bad_style":
        cv2.imwrite(str(content / "a.png"), np.zeros((64, 64, 3), np.uint8))
        style = tmp_path / "broken.jpg"
        style.write_bytes(b"nope")
    if case == "unwritable":
        cv2.imwrite(str(content / "a.png"), np.zeros((64, 64, 3), np.uint8))
        out = tmp_path / "file"
        out.write_text("x")
    code = main(["train", "johnson", "--style-image", str(style), "--content-dir", str(content), "-o", str(out),
                 "--steps", "1", "--device", "cpu", "--image-size", "32"])
    err = capsys.readouterr().err.strip()
    assert code != 0 and len(err.splitlines()) == 1


@needs_shared
@pytest.mark.parametrize("student", ["thin", "slim", "slim8", "deep8", "deep8s"])
def test_distilled_student_learns_its_teacher_and_exports(tmp_path, tiny_content, student):
    out = tmp_path / "fast"
    assert main(["train", "distill", "--teacher", "mosaic", "--content-dir", str(tiny_content), "-o", str(out),
                 "--steps", "30", "--batch-size", "4", "--image-size", "48", "--bank-size", "32", "--student", student,
                 "--checkpoint-every", "30", "--sample-every", "100", "--log-every", "1", "--device", "cpu"]) == 0
    hist = json.loads((out / "history.json").read_text())
    assert np.mean([r["mosaic/pixel"] for r in hist[-5:]]) < 0.7 * hist[0]["mosaic/pixel"]
    from livestyle.checkpoints import load_checkpoint
    ckpt = load_checkpoint(out / "mosaic_fast.pt", "johnson")
    assert ckpt["meta"]["variant"] == "fast" and ckpt["meta"]["distilled_from"] == "mosaic"
    assert ckpt["config"]["separable"] is True
    from livestyle.training.distill import STUDENTS
    assert ckpt["config"]["norm"] == STUDENTS[student].norm
    from livestyle.export.johnson import export_checkpoint
    entry = export_checkpoint(out / "mosaic_fast.pt", tmp_path / "mosaic_fast.onnx", shared=SHARED)
    assert entry["variant"] == "fast" and entry["parity_max_abs_diff"] <= 1.0
    if student != "thin":   # what makes it fast in ONNX Runtime: one pad for the whole frame, no norm at
        # full resolution but the edge conv's (slim, slim8) or none there (deep8: in the blocks at 1/8)
        import onnx
        ops = [n.op_type for n in onnx.load(str(tmp_path / "mosaic_fast.onnx")).graph.node]
        downsamplings = len(ckpt["config"]["widths"]) - 1
        norms = {"instance-encoder": 1 + downsamplings, "instance-deep": downsamplings + 2 * ckpt["config"]["num_residual"]}
        assert ops.count("InstanceNormalization") == norms[ckpt["config"]["norm"]] and ops.count("Pad") == 1


@needs_shared
def test_a_fast_net_taught_to_the_separable_design_keeps_its_name_and_starts_from_itself(tmp_path, tiny_content):
    """``distill --teacher mosaic_fast.pt --student deep8s --init-from <its folder>``: the student
    is mosaic_fast again (not mosaic_fast_fast), warm-started from the dense net's own weights, so
    its first steps are already close to the teacher, far closer than a student from scratch."""
    common = ["--content-dir", str(tiny_content), "--batch-size", "4", "--image-size", "48", "--bank-size", "32",
              "--checkpoint-every", "4", "--sample-every", "100", "--log-every", "1", "--device", "cpu", "--seed", "3"]
    dense = tmp_path / "dense"
    assert main(["train", "distill", "--teacher", "mosaic", "--student", "deep8", "-o", str(dense),
                 "--steps", "40", *common]) == 0
    first = {}
    for name, warm in (("warm", ["--init-from", str(dense)]), ("cold", [])):
        out = tmp_path / name
        assert main(["train", "distill", "--teacher", str(dense / "mosaic_fast.pt"), "--student", "deep8s",
                     "-o", str(out), "--steps", "4", "--lr", "1e-4", *warm, *common]) == 0
        assert sorted(p.name for p in out.glob("*.pt")) == ["mosaic_fast.pt", "train_state.pt"]
        first[name] = json.loads((out / "history.json").read_text())[0]["mosaic_fast/pixel"]
    from livestyle.checkpoints import load_checkpoint
    ckpt = load_checkpoint(tmp_path / "warm" / "mosaic_fast.pt", "johnson")
    assert ckpt["meta"]["style_name"] == "mosaic_fast" and ckpt["meta"]["distilled_from"] == "mosaic_fast"
    assert ckpt["config"]["separable_out"] is True
    assert first["warm"] < 0.5 * first["cold"], first


_FAULTS_SCRIPT = """
import resource, sys, torch
from livestyle.devices import keep_freed_cpu_memory
applied = keep_freed_cpu_memory() if sys.argv[1] == "keep" else False
torch.set_num_threads(1)
net = torch.nn.Conv2d(16, 16, 3, padding=1)
x = torch.randn(16, 16, 192, 192)   # 38 MB activations, as in a distillation step
def step():
    net(x).square().mean().backward()
for _ in range(3):
    step()
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(5):
    step()
print(applied, resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
"""


@pytest.mark.skipif(sys.platform != "linux", reason="glibc's allocator is the one this tunes")
def test_training_reuses_freed_memory_instead_of_faulting_it_back():
    """Training steps free and re-allocate the same large buffers: glibc by default unmaps them
    and faults every page back in on the next step; after keep_freed_cpu_memory() they are reused."""
    def run(mode):
        out = subprocess.run([sys.executable, "-c", _FAULTS_SCRIPT, mode], capture_output=True, text=True,
                             check=True).stdout.split()
        return out[0] == "True", int(out[1])

    default_applied, default_faults = run("default")
    applied, faults = run("keep")
    assert applied and not default_applied
    assert default_faults > 5 * 40_000      # several 38 MB buffers (9,400 pages each) per step
    assert faults < default_faults / 10


class _BlowUp:
    """A task whose loss is steady, then explodes (or turns NaN) from ``at`` on."""

    family = "blowup"

    def __init__(self, at: int, value: float):
        self.net, self.at, self.value = torch.nn.Linear(2, 1), at, value

    def trainable(self):
        return {"net": self.net}

    def losses(self, step):
        base = self.net.weight.sum() * 0.0 + 1.0
        return {"total": base * (self.value if step >= self.at else 1.0)}

    def save_models(self, out_dir, step, history):
        return []

    def write_samples(self, out_dir, step):
        pass


@pytest.mark.parametrize("value", [1000.0, float("nan")])
def test_a_blown_up_loss_stops_training_and_keeps_the_last_good_checkpoint(tmp_path, value):
    from livestyle.errors import TrainingDiverged
    from livestyle.training.loop import LoopConfig, run_training

    config = LoopConfig(steps=40, log_every=2, checkpoint_every=4, sample_every=100)
    with pytest.raises(TrainingDiverged, match="diverged at step (9|10).*checkpoint of step 8 is kept.*--lr"):
        run_training(_BlowUp(9, value), tmp_path, config, torch.device("cpu"), progress=False)
    state = torch.load(tmp_path / "train_state.pt", weights_only=False)
    assert state["step"] == 8 and all(r["total"] == 1.0 for r in state["history"])
    # A steady run with the same settings goes to the end.
    assert len(run_training(_BlowUp(99, 1.0), tmp_path / "ok", config, torch.device("cpu"), progress=False)) == 20
