"""Registry, export parity, engine and stylizer on real photos; bad input through the CLI."""

from __future__ import annotations

import json
import re

import cv2
import numpy as np
import pytest
import torch

from livestyle.checkpoints import build_model, load_checkpoint
from livestyle.cli.main import main
from livestyle.errors import InputError, ModelError, StyleNotFoundError
from livestyle.export.johnson import load_engstrom
from livestyle.export.onnx import StylizeGraph, check_parity, export_image_net, parity_images
from livestyle.media.images import read_image
from livestyle.runtime import registry
from livestyle.runtime.engine import Engine
from livestyle.runtime.factory import create_stylizer

from conftest import HAVE_SHARED, SHARED, needs_shared

OWN = [s.name for s in registry.list_styles() if s.kind == "johnson"]
ENGSTROM = [s.name for s in registry.list_styles() if s.kind == "engstrom"]


def photo(name="golden_gate.jpg", long_side=192):
    if HAVE_SHARED:
        img = read_image(SHARED / "content/eval" / name)
    else:
        from livestyle.cli.demo import generated_scene
        img = generated_scene()
    f = long_side / max(img.shape[:2])
    return cv2.resize(img, None, fx=f, fy=f, interpolation=cv2.INTER_AREA)


def test_registry_lists_own_styles_without_shared(tmp_path):
    names = registry.list_style_names(tmp_path / "no-shared-here")
    assert {"mosaic", "candy", "starry_night", "the_scream", "udnie"} <= set(names)
    assert registry.default_style(tmp_path / "nothing") == "mosaic"


@needs_shared
def test_registry_knows_the_eight_engstrom_nets_with_licence():
    assert len(ENGSTROM) == 8
    assert all("research" in registry.resolve_style(n).licence for n in ENGSTROM)


def test_unknown_style_suggests_close_matches():
    with pytest.raises(StyleNotFoundError, match="did you mean mosaic"):
        registry.resolve_style("mosiac")


@pytest.mark.parametrize("name", OWN)
def test_shipped_onnx_matches_its_checkpoint(name):
    info = registry.resolve_style(name)
    net = build_model(load_checkpoint(info.source.with_suffix(".pt"), "johnson"))
    worst = check_parity(StylizeGraph(net).eval(), info.source, parity_images(SHARED if HAVE_SHARED else None,
                                                                                 count=2, long_side=128), 1.0)
    assert worst <= 1.0


@needs_shared
@pytest.mark.parametrize("fp16", [False, True])
@pytest.mark.parametrize("name", ["udnie_engstrom", "wave_engstrom"])
def test_engstrom_export_parity(tmp_path, name, fp16):
    info = registry.resolve_style(name)
    entry = export_image_net(load_engstrom(info.source), tmp_path / "m.onnx", fp16, SHARED)
    assert entry["parity_max_abs_diff"] <= (4.0 if fp16 else 1.0)
    assert entry["precision"] == ("fp16" if fp16 else "fp32")


@pytest.mark.parametrize("name", OWN + ENGSTROM[:2])
def test_stylization_is_real(name):
    img = photo()
    out = create_stylizer(name, size=192)(img)
    assert out.shape == img.shape and out.dtype == np.uint8
    assert np.abs(out.astype(float) - img).mean() > 20, "output barely differs from the photo"
    assert out.std() > 25, "output is flat / grey"
    assert 30 < out.mean() < 230, "output is washed out or black"


@needs_shared
@pytest.mark.parametrize("name,style_image", [("starry_night", "starry_night"), ("candy", "candy")])
def test_color_statistics_move_toward_the_style(name, style_image):
    img = photo("chicago.jpg")
    style = read_image(SHARED / "styles" / f"{style_image}.jpg")
    out = create_stylizer(name, size=192)(img)
    target = style.reshape(-1, 3).mean(0)
    assert np.linalg.norm(out.reshape(-1, 3).mean(0) - target) < np.linalg.norm(img.reshape(-1, 3).mean(0) - target)


@pytest.mark.parametrize("shape", [(333, 517, 3), (97, 61, 3), (64, 64), (120, 160, 4)])
def test_odd_sizes_grey_and_rgba_keep_shape(shape):
    rng = np.random.default_rng(0)
    frame = rng.integers(0, 255, shape, dtype=np.uint8)
    out = create_stylizer("mosaic")(frame)
    assert out.shape == shape[:2] + (3,) and out.dtype == np.uint8


def test_no_border_artefacts_from_padding():
    img = cv2.resize(photo(long_side=256), (192, 192), interpolation=cv2.INTER_AREA)
    s = create_stylizer("candy")
    whole = s(img[:192, :192]).astype(float)     # a multiple of 4: no padding
    cut = s(img[:190, :190]).astype(float)       # padded by reflection, then cropped back
    # The last rows/columns must look like the unpadded result there, not like a dark frame.
    assert np.abs(cut[-2:, :] - whole[188:190, :190]).mean() < 30
    assert np.abs(cut[:, -2:] - whole[:190, 188:190]).mean() < 30


def test_preserve_color_keeps_the_photo_chroma():
    img = photo("chicago.jpg")
    plain = create_stylizer("candy", size=192)(img)
    kept = create_stylizer("candy", size=192, preserve_color="luminance")(img)
    lab = lambda x: cv2.cvtColor(x, cv2.COLOR_BGR2LAB)[..., 1:].astype(float)
    assert np.abs(lab(kept) - lab(img)).mean() < 0.5 * np.abs(lab(plain) - lab(img)).mean()


def test_batch_equals_single_frames():
    s = create_stylizer("mosaic", size=128)
    a, b = photo("golden_gate.jpg"), photo("chicago.jpg", 192)
    batch = s.stylize_batch([a, b, a])
    assert np.abs(batch[0].astype(int) - s(a)).max() <= 1
    assert batch[1].shape == b.shape


def test_corrupt_onnx_is_a_model_error(tmp_path):
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"not a graph")
    with pytest.raises(ModelError, match="re-export"):
        Engine(bad)


def test_corrupt_pth_is_a_model_error(tmp_path):
    bad = tmp_path / "bad.pth"
    bad.write_bytes(b"\x00garbage")
    with pytest.raises(ModelError, match="corrupt"):
        load_engstrom(bad)


def test_cuda_request_without_gpu_says_what_to_install():
    from livestyle.errors import DeviceError
    from livestyle.runtime.engine import choose_providers
    if torch.cuda.is_available():
        pytest.skip("a GPU is present")
    with pytest.raises(DeviceError, match="livestyle\\[gpu\\]"):
        choose_providers("cuda")


# ------------------------------------------------------------------------------------------ CLI

def run_cli(args, capsys):
    code = main(args)
    err = capsys.readouterr().err.strip()
    return code, err


def write_photo(path):
    cv2.imwrite(str(path), photo(long_side=96))
    return path


@pytest.mark.parametrize("case", ["missing", "empty", "corrupt", "folder_without_images"])
def test_bad_images_one_line_no_output(tmp_path, capsys, case):
    src = tmp_path / "in.jpg"
    if case == "empty":
        src.write_bytes(b"")
    elif case == "corrupt":
        src.write_bytes(b"\xff\xd8\xff garbage")
    elif case == "folder_without_images":
        src = tmp_path / "folder"
        src.mkdir()
    out = tmp_path / "out.png"
    code, err = run_cli(["image", str(src), "-o", str(out), "--style", "mosaic"], capsys)
    assert code != 0 and len(err.splitlines()) == 1 and "error" in err
    assert not out.exists()


def test_unknown_style_via_cli(tmp_path, capsys):
    code, err = run_cli(["image", str(write_photo(tmp_path / "a.jpg")), "-o", str(tmp_path / "o.png"),
                         "--style", "mosiac"], capsys)
    assert code != 0 and "did you mean mosaic" in err and not (tmp_path / "o.png").exists()


def test_unwritable_output(tmp_path, capsys):
    code, err = run_cli(["image", str(write_photo(tmp_path / "a.jpg")), "-o", str(tmp_path / "nope/o.png"),
                         "--style", "mosaic"], capsys)
    assert code != 0 and "does not exist" in err


@pytest.mark.parametrize("size", ["0", "-5", "100000", "abc"])
def test_absurd_size_rejected(tmp_path, capsys, size):
    with pytest.raises(SystemExit) as exc:
        main(["image", str(write_photo(tmp_path / "a.jpg")), "-o", str(tmp_path / "o.png"), "--size", size])
    assert exc.value.code != 0
    assert not (tmp_path / "o.png").exists()


def test_missing_shared_dir_for_third_party_style(tmp_path, capsys):
    code, err = run_cli(["image", str(write_photo(tmp_path / "a.jpg")), "-o", str(tmp_path / "o.png"),
                         "--style", "udnie_engstrom", "--shared-dir", str(tmp_path / "absent")], capsys)
    assert code != 0 and "udnie" in err and not (tmp_path / "o.png").exists()


def test_image_cli_folder_and_odd_input(tmp_path, capsys):
    folder = tmp_path / "in"
    folder.mkdir()
    cv2.imwrite(str(folder / "odd.png"), np.random.default_rng(1).integers(0, 255, (51, 77), np.uint8))
    write_photo(folder / "b.jpg")
    code, _ = run_cli(["image", str(folder), "-o", str(tmp_path / "out"), "--style", "udnie"], capsys)
    assert code == 0
    assert cv2.imread(str(tmp_path / "out/odd.png")).shape == (51, 77, 3)


def test_demo_writes_a_picture(tmp_path, capsys):
    out = tmp_path / "demo.png"
    assert main(["demo", "-o", str(out)]) == 0
    assert "wrote" in capsys.readouterr().out and cv2.imread(str(out)) is not None


def test_version_and_help_do_not_import_torch():
    import subprocess
    import sys
    code = ("import sys; from livestyle.cli.main import main\n"
            "try: main(['--version'])\nexcept SystemExit: pass\n"
            "assert 'torch' not in sys.modules and 'onnxruntime' not in sys.modules, 'heavy import'")
    subprocess.run([sys.executable, "-c", code], check=True, capture_output=True)


def _commands(parser=None, path=()):
    """Every command and subcommand the parser knows, as argv prefixes."""
    import argparse

    from livestyle.cli.main import build_parser

    parser = parser or build_parser()
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield [*path, name]
                yield from _commands(sub, (*path, name))


@pytest.mark.parametrize("command", list(_commands()), ids=" ".join)
def test_every_help_explains_its_options(command, capsys):
    with pytest.raises(SystemExit) as done:
        main(command + ["--help"])
    assert done.value.code == 0
    text = " ".join(capsys.readouterr().out.split())  # argparse wraps lines anywhere
    assert "None" not in text and "(default: False)" not in text
    # a default that names where it lives instead of what it is ("livestyle.runtime.temporal.X")
    assert not re.search(r"\blivestyle\.[a-z_]", text), text
    # an option whose help already names its default is not given a second one
    assert "(default: file stem) (default" not in text


def test_help_shows_the_stability_the_runtime_uses():
    from livestyle.cli.common import DEFAULT_STABILITY as shown
    from livestyle.runtime.temporal import DEFAULT_STABILITY

    assert shown == DEFAULT_STABILITY


def test_bench_prints_a_table(capsys, tmp_path):
    nets = "mosaic,magenta26" if HAVE_SHARED else "mosaic"
    assert main(["bench", "--nets", nets, "--resolutions", "64x48", "--backends", "torch,ort-cpu,ort-cuda",
                 "--repeats", "1", "--warmup", "0", "--json", str(tmp_path / "b.json")]) == 0
    out = capsys.readouterr().out
    assert "ms p50" in out and "64x48" in out and "ort-cpu" in out and "torch" in out and "prec" in out
    rows = json.loads((tmp_path / "b.json").read_text())
    timed = [r for r in rows if "ms_p50" in r]
    assert {r["net"] for r in timed} == set(nets.split(","))
    assert all(r["fps"] > 0 and r["peak_rss_mb"] > 0 for r in timed)
    assert next(r for r in timed if r["backend"] == "torch")["speedup_vs_torch"] == 1.0


@needs_shared
def test_int8_graph_is_faster_class_and_close_to_fp32(shared):
    """int8 is checked on mean difference (it cannot match to a grey level) and stays stylised."""
    img = cv2.resize(cv2.imread(str(shared / "content/eval/chicago.jpg")), (320, 180))
    fp32 = create_stylizer("mosaic", device="cpu", stability=0.0)(img).astype(float)
    int8 = create_stylizer("mosaic", device="cpu", int8=True, stability=0.0)(img).astype(float)
    assert np.abs(fp32 - int8).mean() < 10
    assert np.abs(int8 - img).mean() > 20  # still a stylisation, not the photo
    with pytest.raises(InputError):
        create_stylizer("mosaic", fp16=True, int8=True)
