"""Model families live in one module each (livestyle/families/): a new one is picked up by the
checkpoints, ``livestyle train``, the PyTorch engine and the table of nets without touching them."""

from __future__ import annotations

import json
import textwrap

import numpy as np
import pytest
import torch

import livestyle.families as families
from livestyle.checkpoints import atomic_save, build_model, load_checkpoint, make_checkpoint
from livestyle.cli.main import main
from livestyle.errors import ModelError

# A whole family: its net, its trainer and its task, in one module.
TOY_FAMILY = '''
"""A one-conv fixed-style net, to show what a family module holds."""
from __future__ import annotations

from livestyle.families import Trainer

ARCH = "toy"
KIND = "fixed"


def _net_class():
    import torch

    class Toy(torch.nn.Module):
        def __init__(self, width):
            super().__init__()
            self.conv = torch.nn.Conv2d(3, 3, width, padding=width // 2)

        def forward(self, x):
            return self.conv(x)
    return Toy


def build(config):
    return _net_class()(config.get("width", 3))


def describe(config):
    return f"one {config.get('width', 3)}x{config.get('width', 3)} conv"


def add_options(p):
    p.add_argument("--width", type=int, default=3)


class ToyTask:
    family = ARCH

    def __init__(self, args, content):
        self.width, self.content = args.width, content
        self.net = build({"width": args.width})

    def trainable(self):
        return {"net": self.net}

    def losses(self, step):
        import torch

        x = self.content.batch(0, step, 2, 16) / 255.0
        loss = (self.net(x) - x.flip(1)).abs().mean()
        return {"total": loss}

    def save_models(self, out_dir, step, history):
        from livestyle.checkpoints import atomic_save, make_checkpoint

        ckpt = make_checkpoint(ARCH, {"width": self.width}, self.net.state_dict(), {"steps": step})
        return [atomic_save(ckpt, out_dir / "toy.pt")]

    def write_samples(self, out_dir, step):
        pass


TRAINERS = (Trainer("toy", "a one-conv net", add_options, lambda args, content, vgg, device, shared:
                    ToyTask(args, content), lr=1e-2, needs_vgg=False),)
'''


@pytest.fixture
def toy_family(tmp_path, monkeypatch):
    folder = tmp_path / "more_families"
    folder.mkdir()
    (folder / "toy.py").write_text(textwrap.dedent(TOY_FAMILY))
    monkeypatch.setattr(families, "__path__", [*families.__path__, str(folder)])
    families._modules.cache_clear()
    yield
    families._modules.cache_clear()


def test_every_family_module_says_what_the_rest_reads():
    for arch in ("johnson", "adain_decoder", "adain_light"):
        fam = families.family(arch)
        assert fam.ARCH == arch and fam.KIND in families.KINDS
        assert callable(fam.build) and callable(fam.describe) and fam.TRAINERS
    assert set(families.trainers()) == {"johnson", "distill", "adain", "adain-light"}


def test_older_checkpoint_names_read_as_todays():
    assert families.canonical_arch("light_adain") == "adain_light"
    with pytest.raises(ModelError, match="unknown architecture 'nope'"):
        families.family("nope")


def test_the_shipped_light_net_recorded_under_its_older_name_still_loads(tmp_path):
    from livestyle.paths import exported_dir

    ckpt = load_checkpoint(exported_dir() / "adain_light.pt", "adain_light")
    older = dict(ckpt, arch="light_adain")
    path = atomic_save(older, tmp_path / "older.pt")
    assert load_checkpoint(path, "adain_light")["arch"] == "adain_light"
    assert load_checkpoint(path, "light_adain")["arch"] == "adain_light"
    with pytest.raises(ModelError, match="expected 'johnson'"):
        load_checkpoint(path, "johnson")


def test_a_new_family_is_one_module(toy_family, tmp_path, capsys):
    # checkpoints.build_model and load_checkpoint
    torch.manual_seed(0)
    net = families.family("toy").build({"width": 5})
    path = atomic_save(make_checkpoint("toy", {"width": 5}, net.state_dict(), {"steps": 0}), tmp_path / "toy.pt")
    rebuilt = build_model(load_checkpoint(path, "toy"))
    x = torch.rand(1, 3, 8, 8)
    assert torch.equal(rebuilt(x), net.eval()(x))
    # the PyTorch engine runs it as a fixed style
    from livestyle.runtime.torch_engine import TorchEngine

    engine = TorchEngine.from_checkpoint(path, device="cpu")
    (out,) = engine.run({"image": np.zeros((1, 3, 8, 8), np.float32)})
    assert out.shape == (1, 3, 8, 8)
    # livestyle train lists it and trains it, with checkpoints and resume from the shared loop
    with pytest.raises(SystemExit):
        main(["train", "--help"])
    assert "a one-conv net" in capsys.readouterr().out
    content = tmp_path / "photos"
    content.mkdir()
    import cv2

    for i in range(2):
        cv2.imwrite(str(content / f"p{i}.png"), np.full((24, 24, 3), 40 * i, np.uint8))
    args = ["train", "toy", "--content-dir", str(content), "-o", str(tmp_path / "run"), "--checkpoint-every", "2",
            "--log-every", "1", "--device", "cpu", "--width", "3"]
    assert main([*args, "--steps", "4"]) == 0
    assert main([*args, "--steps", "6", "--resume"]) == 0
    history = json.loads((tmp_path / "run/history.json").read_text())
    assert [r["step"] for r in history] == list(range(1, 7))
    assert load_checkpoint(tmp_path / "run/toy.pt", "toy")["meta"]["steps"] == 6
    # the table of nets describes it from its module
    from livestyle.runtime.catalog import _architecture

    assert _architecture({"arch": "toy", "architecture": {"width": 3}}) == "one 3x3 conv"


def test_train_help_lists_every_trainer(capsys):
    with pytest.raises(SystemExit):
        main(["train", "--help"])
    out = capsys.readouterr().out
    assert all(command in out for command in families.trainers())
