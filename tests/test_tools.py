"""The measurement scripts in tools/ run and print what docs/ quote (tiny configurations, no timings asserted)."""

from __future__ import annotations

import hashlib
import importlib.util
import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import needs_shared

TOOLS = Path(__file__).resolve().parents[1] / "tools"


@needs_shared
def test_bench_video_prints_end_to_end_and_latency_columns():
    run = subprocess.run([sys.executable, str(TOOLS / "bench_video.py"), "--stand-in", "--frames", "6",
                          "--sizes", "640x360"], capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    header, row = run.stdout.strip().splitlines()[-2:]
    assert "end-to-end f/s" in header and "cam latency ms" in header
    cells = row.split()
    assert cells[0] == "640x360" and int(cells[1]) == 6 and float(cells[3]) > 0


def test_temporal_eval_rejects_a_malformed_method():
    run = subprocess.run([sys.executable, str(TOOLS / "temporal_eval.py"), "--method", "output:dis:0.8:sharp"],
                         capture_output=True, text=True, timeout=120)
    assert run.returncode != 0 and "bad method" in run.stderr


def test_temporal_eval_summary_without_the_still_camera():
    """--still-frames 0 skips the still-camera run; the summary still covers every method."""
    spec = importlib.util.spec_from_file_location("temporal_eval", TOOLS / "temporal_eval.py")
    tool = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = tool  # its dataclasses resolve their annotations through sys.modules
    try:
        spec.loader.exec_module(tool)
    finally:
        del sys.modules[spec.name]
    rows = {"per-frame": {"e_warp_ratio": 1.0, "ghost": 0.0, "style_ratio": 1.0},
            "output:dis:0.8": {"e_warp_ratio": 0.4, "ghost": 0.05, "style_ratio": 1.1}}
    summary = tool.summarize({"a": rows, "b": {**rows, "output:dis:0.8": {**rows["output:dis:0.8"], "e_warp_ratio": 0.6}}},
                             {}, "per-frame")
    blended = summary["output:dis:0.8"]
    assert set(summary) == set(rows)
    assert math.isclose(blended["e_warp_ratio_mean"], 0.5) and math.isclose(blended["e_warp_ratio_worst"], 0.6)
    assert math.isnan(blended["still_flicker"]) and math.isnan(blended["still_reduction"])


def test_profile_graph_shares_add_up_and_name_the_convs():
    from livestyle.paths import exported_dir

    run = subprocess.run([sys.executable, str(TOOLS / "profile_graph.py"), str(exported_dir() / "mosaic_fast.onnx"),
                          "--size", "96x64", "--runs", "2", "--top", "50"], capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    shares = {line.split()[0]: float(line.split()[1].rstrip("%")) for line in run.stdout.splitlines()[1:]}
    assert "Conv" in shares and "InstanceNormalization" in shares
    assert abs(sum(shares.values()) - 100.0) < 0.5


def test_realtime_bench_rejects_a_style_and_a_painting_together():
    run = subprocess.run([sys.executable, str(TOOLS / "bench_realtime.py"), "--style", "mosaic",
                          "--style-image", "brushstrokes.jpg"], capture_output=True, text=True, timeout=120)
    assert run.returncode != 0 and "not allowed with argument" in run.stderr


@needs_shared
def test_temporal_oracle_exact_flow_beats_dis_on_sintel():
    """The claim docs/temporal.md rests on: with ground-truth flow the same blend is far steadier."""
    run = subprocess.run([sys.executable, str(TOOLS / "temporal_oracle.py"), "--style", "mosaic_fast"],
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    rows = [line.split() for line in run.stdout.splitlines() if line.startswith("mosaic_fast")]
    assert len(rows) == 4  # alley_1 and cave_2, final and clean
    for row in rows:
        with_dis, _, gt_flow_dis_mask, with_gt = map(float, row[-4:])
        assert with_gt < 0.5 * with_dis < 0.5, row
        # the blender's own mask costs part of the gap even under exact flow
        assert with_gt < gt_flow_dis_mask < with_dis, row


@needs_shared
def test_device_pack_holds_square_photos_styles_and_the_loss_network(tmp_path):
    import cv2

    out = tmp_path / "pack"
    run = subprocess.run([sys.executable, str(TOOLS / "gpu/make_pack.py"), "--out", str(out), "--limit", "4",
                          "--size", "64", "--styles", "udnie_engstrom,mosaic"], capture_output=True, text=True,
                         timeout=120)
    assert run.returncode == 0, run.stderr
    photos = sorted((out / "content").rglob("*.jpg"))
    assert len(photos) == 4 and all(cv2.imread(str(p)).shape == (64, 64, 3) for p in photos)
    assert sorted(p.name for p in (out / "styles").iterdir()) == ["mosaic.jpg", "udnie_engstrom.jpg"]
    assert max(cv2.imread(str(out / "styles/mosaic.jpg")).shape[:2]) <= 512
    assert (out / "vgg/vgg16_imagenet_tvnorm_relu4_3_fp16.pth").is_file()
    bad = subprocess.run([sys.executable, str(TOOLS / "gpu/make_pack.py"), "--out", str(tmp_path / "b"),
                          "--limit", "1", "--styles", "no_such_painting"], capture_output=True, text=True, timeout=120)
    assert bad.returncode != 0 and "no style image 'no_such_painting'" in bad.stderr
    assert not (tmp_path / "b").exists()


def test_a_candidate_is_staged_in_a_scratch_copy_of_exported(tmp_path, monkeypatch):
    """temporal_eval --candidate: the checkpoint runs under its style's name from a copy of
    exported/ (its variant picks <style>_fast), the copy keeps the shipped entry's choices, and
    the shipped folder is not touched."""
    from livestyle.errors import InputError
    from livestyle.eval.video_eval import stage_candidate
    from livestyle.paths import exported_dir
    from livestyle.runtime import registry

    def fingerprint(folder):
        return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir()) if p.is_file()}

    shipped = fingerprint(exported_dir())
    candidate = tmp_path / "run" / "udnie_fast.pt"
    candidate.parent.mkdir()
    candidate.write_bytes((exported_dir() / "udnie_fast.pt").read_bytes())
    folder = tmp_path / "exported"
    assert stage_candidate(candidate, "udnie", folder) == "udnie_fast"
    assert fingerprint(exported_dir()) == shipped
    entry = json.loads((folder / "manifest.json").read_text())["models"]["udnie_fast"]
    assert entry["sha256"] == hashlib.sha256((folder / "udnie_fast.onnx").read_bytes()).hexdigest()
    assert entry["checkpoint"] == "udnie_fast.pt" and (folder / "udnie_fast.pt").is_file()
    assert entry["streams_on_gpu"] is True and entry["role"] == "style" and entry["parity_max_abs_diff"] < 0.01
    monkeypatch.setenv("LIVESTYLE_EXPORTED", str(folder))
    assert registry.resolve_style("udnie", variant="fast").source == folder / "udnie_fast.onnx"
    with pytest.raises(InputError, match="scratch folder"):
        stage_candidate(candidate, "udnie", folder)   # $LIVESTYLE_EXPORTED is now the shipped folder


def test_the_nets_page_is_what_the_manifest_says():
    """docs/nets.md is tools/nets_table.py's output, so a net exported without the page being made
    again fails here (fix: python tools/nets_table.py -o docs/nets.md)."""
    from livestyle.runtime import registry
    from livestyle.runtime.catalog import net_rows

    env = {k: v for k, v in os.environ.items() if k != "LIVESTYLE_EXPORTED"}   # the shipped folder
    run = subprocess.run([sys.executable, str(TOOLS / "nets_table.py")], capture_output=True, text=True,
                         timeout=120, env=env)
    assert run.returncode == 0, run.stderr
    assert run.stdout == (TOOLS.parent / "docs/nets.md").read_text(), \
        "docs/nets.md is stale: python tools/nets_table.py -o docs/nets.md"
    rows = {r.net: r for r in net_rows()}
    own = {s.name for s in registry.list_styles() if s.kind != "engstrom"}
    assert set(rows) == own
    for name in registry.fast_style_names():
        assert rows[name].teacher.startswith(f"`{registry.base_name(name)}`"), rows[name]
    assert all("missing" not in r.size and r.parity != "-" for r in rows.values())


def test_quality_held_out_adds_the_paintings_a_scored_light_net_held_out(tmp_path):
    """--held-out covers training/adain.py's paintings and those a --light-checkpoint records."""
    from livestyle.checkpoints import atomic_save, make_checkpoint
    from livestyle.models.adain_light import AdaINLightNet
    from livestyle.training.adain import HELD_OUT_STYLES

    spec = importlib.util.spec_from_file_location("quality_tool", TOOLS / "quality.py")
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    net = AdaINLightNet()
    ckpt = make_checkpoint("adain_light", net.config.to_dict(), net.state_dict(),
                           {"held_out_styles": ["goeritz", "antimonocromatismo"]})
    atomic_save(ckpt, tmp_path / "net.pt")
    args = type("Args", (), {"light_checkpoint": [tmp_path / "net.pt"], "light": False})
    assert tool.held_out_names(args) == set(HELD_OUT_STYLES) | {"goeritz", "antimonocromatismo"}
    args.light_checkpoint = []
    assert tool.held_out_names(args) == set(HELD_OUT_STYLES)
