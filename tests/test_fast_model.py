"""The light CPU nets (``<style>_fast``, distilled from our full nets) and ``--model`` selection.

Parity and "output is really stylised" run for every shipped net in test_foundation.py (the fast
variants are registered Johnson nets like the others); here: that they are much lighter, that they
stay close to the full net they were distilled from, and that ``auto`` picks them only where they
help (streams on a CPU, and on a GPU where the manifest says the fast net measured better on video).
"""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from conftest import SHARED, needs_shared
from livestyle.checkpoints import build_model, load_checkpoint
from livestyle.cli.common import model_note
from livestyle.errors import InputError
from livestyle.media.images import read_image
from livestyle.runtime import registry
from livestyle.runtime.factory import create_stylizer

FAST = registry.fast_style_names()


def test_fast_variants_of_the_default_styles_are_shipped():
    assert {"mosaic_fast", "candy_fast"} <= set(FAST)


def _conv_multiply_adds(net, size=256):
    """Multiply-adds of every convolution for one size x size frame: what a CPU spends its time on."""
    total = 0

    def count(module, inputs, output):
        nonlocal total
        pixels = (inputs[0] if isinstance(module, torch.nn.ConvTranspose2d) else output)[0, 0].numel()
        total += pixels * module.in_channels * module.out_channels // module.groups * module.kernel_size[0] * module.kernel_size[1]

    convs = [m for m in net.modules() if isinstance(m, (torch.nn.Conv2d, torch.nn.ConvTranspose2d))]
    hooks = [m.register_forward_hook(count) for m in convs]
    with torch.no_grad():
        net.eval()(torch.rand(1, 3, size, size) * 255)
    for hook in hooks:
        hook.remove()
    return total


@pytest.mark.parametrize("name", FAST)
def test_fast_net_costs_a_fraction_of_the_full_net_per_frame(name):
    fast = build_model(load_checkpoint(registry.resolve_style(name).source.with_suffix(".pt"), "johnson"))
    full = build_model(load_checkpoint(registry.resolve_style(name.removesuffix("_fast")).source.with_suffix(".pt"),
                                       "johnson"))
    assert _conv_multiply_adds(fast) * 10 < _conv_multiply_adds(full)


@needs_shared
@pytest.mark.parametrize("name", FAST)
def test_fast_net_paints_its_own_style_not_another(name):
    """Same photo through the student and every full net: it is nearest its own (the same picture
    in the same style), by a wide margin. Not a fixed distance: the students are fine-tuned off
    their teachers on purpose (more style weight, the temporal loss; training.md), and a teacher
    retrained after its student moves the pair apart without the student painting anything else."""
    folder = SHARED / "content" / "eval"
    photos = [read_image(folder / p) for p in sorted(p.name for p in folder.iterdir())[:3]]

    def outputs(style):
        stylizer = create_stylizer(style, size=256, device="cpu")
        return np.concatenate([stylizer(photo).astype(float).ravel() for photo in photos])

    fast, own = outputs(name), name.removesuffix("_fast")
    fulls = {full: outputs(full) for full in registry.list_style_names(variants=False)
             if registry.resolve_style(full).kind == "johnson"}
    distance = {full: np.abs(fast - out).mean() for full, out in fulls.items()}
    nearest_other = min(d for full, d in distance.items() if full != own)
    assert distance[own] < 0.75 * nearest_other, distance
    assert np.corrcoef(fast, fulls[own])[0, 1] > 0.75


def test_auto_takes_the_fast_net_for_streams_on_a_cpu():
    stream = create_stylizer("mosaic", device="cpu", streaming=True, stability=0.0)
    assert stream.name == "mosaic" and stream.model_name == "mosaic_fast"
    assert create_stylizer("mosaic", device="cpu").model_name == "mosaic"        # single images: full
    assert create_stylizer("mosaic", device="cpu", streaming=True, model="full").model_name == "mosaic"
    assert create_stylizer("mosaic", device="cpu", model="fast").model_name == "mosaic_fast"


@pytest.mark.parametrize("backend", ["ort-cuda", "torch-cuda"])
def test_on_a_gpu_auto_streams_the_full_net_unless_the_fast_one_measured_better(monkeypatch, backend):
    from livestyle.runtime import factory

    monkeypatch.setattr(factory, "choose_backend", lambda device="auto": backend)
    assert factory._variant("auto", "auto", streaming=True) == "full"
    assert factory._variant("auto", "auto", streaming=True, fast_on_gpu=True) == "fast"
    assert factory._variant("auto", "auto", streaming=False, fast_on_gpu=True) == "full"  # single images
    assert factory._variant("full", "auto", streaming=True, fast_on_gpu=True) == "full"
    monkeypatch.setattr(factory, "choose_backend", lambda device="auto": "ort-cpu")
    assert factory._variant("auto", "auto", streaming=True) == "fast"


class _GpuEngine:
    backend = "ort-cuda"

    def __init__(self, graph, checkpoint, **_):
        self.graph, self.checkpoint = graph, checkpoint


@pytest.mark.parametrize("style, streamed", [("udnie", "udnie_fast"), ("mosaic", "mosaic")])
def test_on_a_gpu_video_runs_the_net_the_manifest_chose(monkeypatch, style, streamed):
    """udnie's light net beat its full net on every video goal (docs/temporal.md), so its manifest
    entry streams it on GPUs too; mosaic's does not say so and keeps the full net there."""
    from livestyle.runtime import factory

    monkeypatch.setattr(factory, "choose_backend", lambda device="auto": "ort-cuda")
    monkeypatch.setattr(factory, "make_engine", _GpuEngine)
    stream = create_stylizer(style, streaming=True, stability=0.0)
    assert (stream.name, stream.model_name, stream.backend) == (style, streamed, "ort-cuda")
    assert create_stylizer(style).model_name == style                              # images: full net
    assert create_stylizer(style, streaming=True, model="full").model_name == style
    assert registry.fast_net_streams_on_gpu(style) == (streamed != style)
    note = model_note(stream)   # what video and cam tell the user
    assert (note is not None and "steadier on video" in note and "CPU" not in note) == (streamed != style), note


def test_a_new_export_keeps_the_manifest_choice_of_where_a_net_streams(tmp_path):
    from livestyle.export.onnx import write_manifest_entry

    manifest = tmp_path / "manifest.json"
    write_manifest_entry(manifest, "udnie_fast", {"variant": "fast", "sha256": "a", "streams_on_gpu": True})
    write_manifest_entry(manifest, "udnie_fast", {"variant": "fast", "sha256": "b"})
    assert json.loads(manifest.read_text())["models"]["udnie_fast"] == {"variant": "fast", "sha256": "b",
                                                                        "streams_on_gpu": True}
    write_manifest_entry(manifest, "udnie_fast", {"variant": "fast", "sha256": "c", "streams_on_gpu": False})
    assert json.loads(manifest.read_text())["models"]["udnie_fast"]["streams_on_gpu"] is False


@needs_shared
def test_fast_asked_for_a_style_without_one_is_a_clear_error():
    with pytest.raises(InputError, match="no fast variant"):
        create_stylizer("udnie_engstrom", device="cpu", model="fast")


def test_style_pickers_list_each_style_once():
    names = registry.list_style_names(variants=False)
    assert "mosaic" in names and not any(n.endswith("_fast") for n in names if n.removesuffix("_fast") in names)
    assert "mosaic_fast" in registry.list_style_names()


@pytest.mark.parametrize("norm, count", [("instance", 13), ("instance-encoder", 3), ("instance-deep", 10),
                                         ("none", 0)])
def test_light_designs_put_instance_norms_where_they_say_and_keep_the_frame_size(norm, count, tmp_path):
    """Edge conv, two downsampling convs, 4 blocks x 2 convs, two upsampling convs; the one
    reflection border is cropped off again, so any frame size comes back as it went in, and the
    exported graph matches PyTorch."""
    from dataclasses import replace

    import torch

    from livestyle.export.onnx import export_image_net
    from livestyle.models.johnson import SLIM_CONFIG, TransformerNet

    net = TransformerNet(replace(SLIM_CONFIG, norm=norm)).eval()
    assert sum(isinstance(m, torch.nn.InstanceNorm2d) for m in net.modules()) == count
    x = torch.rand(1, 3, 68, 92) * 255
    with torch.no_grad():
        y = net(x)
    assert y.shape == x.shape and torch.isfinite(y).all()
    facts = export_image_net(net, tmp_path / "light.onnx", fp16=False, shared=None)
    assert facts["parity_max_abs_diff"] <= 1.0, facts   # the export also refuses above its tolerance


def test_a_stride_8_student_pads_frames_to_8_and_gives_them_back_whole(tmp_path):
    """SLIM8_CONFIG downsamples three times: its graph records size_multiple 8 in the manifest
    entry, and the stylizer pads any frame to it (a 4-multiple like 68 would lose a row at 1/8)."""
    import torch

    from livestyle.export.onnx import export_image_net
    from livestyle.models.johnson import SLIM8_CONFIG, TransformerConfig, TransformerNet
    from livestyle.runtime.engine import Engine
    from livestyle.runtime.stylizer import GraphStylizer

    net = TransformerNet(SLIM8_CONFIG).eval()
    assert net.config.stride == 8 and TransformerNet().config.stride == 4
    with pytest.raises(ValueError, match="multiple of 8"):
        TransformerNet(TransformerConfig(widths=(8, 8, 8, 8), border=4))
    facts = export_image_net(net, tmp_path / "slim8.onnx", fp16=False, shared=None)
    assert facts["inputs"]["image"]["size_multiple"] == 8 and facts["parity_max_abs_diff"] <= 1.0
    stylizer = GraphStylizer(Engine(tmp_path / "slim8.onnx", device="cpu"), "slim8",
                             size_multiple=facts["inputs"]["image"]["size_multiple"])
    frame = (np.random.default_rng(0).random((68, 101, 3)) * 255).astype(np.uint8)
    out = stylizer.stylize_batch([frame])[0]
    assert out.shape == frame.shape and out.dtype == np.uint8
    import cv2
    padded = cv2.copyMakeBorder(frame, 0, 4, 0, 3, cv2.BORDER_REFLECT_101)   # 72 x 104: multiples of 8
    x = torch.from_numpy(np.ascontiguousarray(padded[..., ::-1].transpose(2, 0, 1)[None]).astype(np.float32))
    with torch.no_grad():
        expected = net(x).clamp(0, 255)[0].numpy().transpose(1, 2, 0)[:68, :101, ::-1]
    assert np.abs(out.astype(np.float32) - expected).max() <= 1.0


@pytest.mark.parametrize("config_name", ["SLIM_CONFIG", "SLIM8_CONFIG", "DEEP8_CONFIG", "DEEP8S_CONFIG"])
def test_the_decoder_skips_the_border_and_gives_the_frame_a_padded_decoder_gives(config_name):
    """A bordered net's decoder runs unpadded on the frame plus the margin its convs eat: the same
    frame, to float rounding, as zero-padded convs over the whole border cropped at the end."""
    import torch
    from torch import nn

    from livestyle.models import johnson
    from livestyle.models.johnson import ConvLayer, TransformerNet, UpsampleConvLayer

    config = getattr(johnson, config_name)
    torch.manual_seed(0)
    net = TransformerNet(config).eval()
    for conv in (m for m in net.modules() if isinstance(m, nn.Conv2d)):
        nn.init.normal_(conv.weight, 0.0, 0.15)      # not the near-identity start: every pixel counts
    w = config.widths
    padded = nn.Sequential(*[UpsampleConvLayer(a, b, 3, config, pad="zero") for a, b in zip(w[::-1], w[-2::-1])],
                           ConvLayer(w[0], 3, config.edge_kernel, separable=config.separable_out, pad="zero"))
    padded.load_state_dict(net.decoder.state_dict())
    x = torch.rand(2, 3, 72, 104) * 255
    with torch.no_grad():
        features = net.encode(x)
        y = padded.eval()(features) * 255.0
        b = config.border
        expected = y[..., b:-b, b:-b]
        out = net.decode(features)
    assert out.shape == x.shape and expected.std() > 1.0
    assert torch.allclose(out, expected, atol=1e-3), (out - expected).abs().max()
    cells, extra = net.decoder_margin()
    assert cells >= 1 and extra == 0     # it really skips border cells, and leaves nothing to crop


def test_a_separable_rgb_out_starts_from_the_dense_one_and_runs_no_dense_conv_to_rgb(tmp_path):
    """deep8s: the dense net's RGB-out kernel is carried over as its rank-one part per input channel
    (exact where the kernel is rank one), and the exported graph ends in a depthwise conv and a 1x1:
    no 3x3 conv to 3 channels, which ONNX Runtime computes as one to 16."""
    import onnx
    import torch

    from livestyle.export.johnson import export_checkpoint
    from livestyle.checkpoints import atomic_save, make_checkpoint
    from livestyle.models.johnson import DEEP8_CONFIG, DEEP8S_CONFIG, TransformerNet, with_separable_out

    torch.manual_seed(0)
    dense, light = TransformerNet(DEEP8_CONFIG).eval(), TransformerNet(DEEP8S_CONFIG).eval()
    state = dense.state_dict()
    head = f"decoder.{len(DEEP8_CONFIG.widths) - 1}.conv.weight"
    rank_one = torch.einsum("oc,ct->oct", torch.randn(3, 16), torch.randn(16, 9)).reshape(3, 16, 3, 3) * 0.05
    x = torch.rand(1, 3, 64, 96) * 255
    for kernel, exact in ((rank_one, True), (torch.randn(3, 16, 3, 3) * 0.05, False)):
        state[head] = kernel
        dense.load_state_dict(state)
        light.load_state_dict(with_separable_out(state, DEEP8_CONFIG))
        with torch.no_grad():
            gap = (dense(x) - light(x)).abs().mean().item()
        assert (gap < 1e-3) if exact else (1e-3 < gap < dense(x).std().item())
    path = atomic_save(make_checkpoint("johnson", DEEP8S_CONFIG.to_dict(), light.state_dict(), {"style_name": "s_fast"}),
                       tmp_path / "s_fast.pt")
    export_checkpoint(path, tmp_path / "s_fast.onnx", shared=SHARED)
    graph = onnx.load(str(tmp_path / "s_fast.onnx")).graph
    weights = {t.name: list(t.dims) for t in graph.initializer}
    convs = [weights[n.input[1]] for n in graph.node if n.op_type == "Conv"]
    assert convs[-2] == [16, 1, 3, 3] and convs[-1] == [3, 16, 1, 1]
