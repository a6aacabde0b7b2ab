"""The GPU path before a GPU is at hand: the device script's CPU self-test, the PyTorch engine
against the shipped ONNX graph, the backend and provider choice, the timing helper every
measurement uses, and the checkpoint packer."""

from __future__ import annotations

import hashlib
import importlib.util
import itertools
import json
import subprocess
import sys
import tarfile
from pathlib import Path

import numpy as np
import pytest

from livestyle.errors import DeviceError, InputError, ModelError
from livestyle.eval import bench
from livestyle.eval.bench import time_calls
from livestyle.eval.device_job import TIMED_OUT, PackError, output_dir_of, pack_folders, run_with_timeout
from livestyle.eval.model_only import NET_KEYS, Capabilities, plan_backends
from livestyle.export.onnx import FP32_TOLERANCE
from livestyle.paths import exported_dir, shared_dir
from livestyle.runtime import backends
from livestyle.runtime.backends import choose_backend, make_engine
from livestyle.runtime.engine import choose_providers, providers_for
from livestyle.runtime.torch_engine import TorchEngine

SCRIPT = Path(__file__).resolve().parents[1] / "tools" / "gpu" / "device_check.py"
MiB = 1 << 20


def _load_script():
    spec = importlib.util.spec_from_file_location("device_check", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules["device_check"] = module   # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


dc = _load_script()


# -- the device script, end to end on the CPU ------------------------------------------------

@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("device_check")
    run_dir = out.parent / f"{out.name}_train"
    # A stand-in training command: writes a checkpoint folder where its -o says, as trainers do.
    train = (f"{sys.executable} -c \"import pathlib, sys; d = pathlib.Path(sys.argv[2]); "
             "d.mkdir(parents=True); (d / 'net.pt').write_bytes(b'w' * 5000); "
             f"(d / 'history.json').write_text('[]')\" -o {run_dir}")
    done = subprocess.run([sys.executable, str(SCRIPT), "--tiny", "--device", "cpu", "--out", str(out),
                           "--train", train, "--train-timeout-s", "60"],
                          capture_output=True, text=True, timeout=150)
    return done, out


def test_tiny_run_measures_every_net_on_the_cpu_backends(tiny_run):
    done, out = tiny_run
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    doc = json.loads((out / "device_check.json").read_text())
    rows = doc["model_only"]
    nets = set(NET_KEYS) - (set() if shared_dir().is_dir() else {"vgg_adain"})
    assert {r["net"] for r in rows} == nets
    for net, backend, size in itertools.product(nets, ("torch-cpu", "ort-cpu"), ("96x64", "128x72")):
        [row] = [r for r in rows if (r["net"], r["backend"], r["size"]) == (net, backend, size)]
        assert row["status"] == "ok", row
        assert 0 < row["ms_p50"] <= row["ms_p95"] and row["fps"] > 0 and row["repeats"] >= 2
        assert row["parity_ok"] and row["parity_max_abs_diff"] <= row["parity_tolerance"] == FP32_TOLERANCE
    gpu_rows = [r for r in rows if r["backend"] in ("torch-cuda", "ort-cuda", "ort-tensorrt")]
    assert len(gpu_rows) == 5 * len(nets)   # torch fp32/fp16, ORT CUDA fp32/fp16, TensorRT
    assert all(r["status"] == "skipped" and r["reason"] for r in gpu_rows)
    table = (out / "device_check.md").read_text()
    for r in rows:
        if r["status"] == "ok":
            cells = (r["net"], r["backend"], r["precision"], r["size"], f"{r['ms_p50']:.2f}")
            assert "| " + " | ".join(cells) + " |" in table


def test_tiny_run_times_video_end_to_end_and_packs_the_training_output(tiny_run):
    done, out = tiny_run
    doc = json.loads((out / "device_check.json").read_text())
    video = {r["name"].split(" [")[0]: r for r in doc["video"]}
    proxy = video["proxy: cv2 decode + TorchEngine mosaic + cv2 encode (sequential)"]
    assert proxy["status"] == "ok" and proxy["frames"] == 4 and proxy["fps"] > 0   # 6 frames, 2 warm-up
    for name in ("livestyle video libx264, stability 0",
                 "livestyle video libx264, default stability (DIS flow)"):
        assert video[name]["status"] == "ok", video[name]
        assert video[name]["frames"] == 6 and video[name]["fps"] > 0
    [train] = doc["training"]
    assert train["returncode"] == 0 and train["output_dir"].endswith("_train")
    pack = doc["pack"]
    assert sorted(f["path"].split("/", 1)[1] for f in pack["files"]) == ["history.json", "net.pt"]
    assert (out / "checkpoints.tar.part00").stat().st_size == pack["tar_bytes"]
    # What comes back from the device machine: at most 8 files of at most 16 MiB.
    files = [p for p in out.iterdir() if not p.name.startswith(".")]
    assert len(files) <= 8 and all(p.stat().st_size <= 16 * MiB for p in files)


# -- the PyTorch engine against the shipped graph ---------------------------------------------------

def _photo() -> np.ndarray:
    from livestyle.export.onnx import parity_images

    img = parity_images(shared_dir() if shared_dir().is_dir() else None, count=1, long_side=160)[0]
    return np.ascontiguousarray(img.transpose(2, 0, 1)[None])


def test_both_engines_implement_the_graph_engine_contract():
    from livestyle.runtime.engine import Engine, GraphEngine

    ort_engine = Engine(exported_dir() / "mosaic_fast.onnx", device="cpu")
    torch_engine = TorchEngine.from_checkpoint(exported_dir() / "mosaic_fast.pt", device="cpu")
    for engine in (ort_engine, torch_engine):
        assert isinstance(engine, GraphEngine)
        assert engine.input_names == ["image"] and engine.providers and not engine.on_gpu

    class Incomplete(GraphEngine):   # no run(): the contract refuses it at construction
        backend = "none"

    with pytest.raises(TypeError, match="run"):
        Incomplete()


def test_torch_engine_on_the_cpu_matches_the_shipped_onnx_graph():
    import onnxruntime as ort

    engine = TorchEngine.from_checkpoint(exported_dir() / "mosaic_fast.pt", device="cpu", fp16=True)
    session = ort.InferenceSession(str(exported_dir() / "mosaic_fast.onnx"),
                                   providers=["CPUExecutionProvider"])
    assert engine.input_names == [i.name for i in session.get_inputs()]
    assert engine.output_names == [o.name for o in session.get_outputs()]
    # fp16 was asked for, but a CPU computes in fp32.
    assert (engine.backend, engine.on_gpu, engine.precision) == ("torch-cpu", False, "fp32")
    image = _photo()
    [got] = engine.run({"image": image})
    [want] = session.run(None, {"image": image})
    assert got.shape == want.shape == image.shape and got.dtype == np.float32
    assert float(np.abs(got - want).max()) <= FP32_TOLERANCE
    assert float(np.abs(got - image).mean()) > 10   # it stylised: the comparison is not of two copies
    assert got.min() >= 0 and got.max() <= 255


def test_torch_engine_arbitrary_graphs_chain_like_the_whole_net(tmp_path):
    import torch

    from livestyle.checkpoints import atomic_save, make_checkpoint
    from livestyle.models.adain_light import AdaINLightNet

    torch.manual_seed(0)
    net = AdaINLightNet().eval()
    ckpt = make_checkpoint("adain_light", net.config.to_dict(), net.state_dict())
    path = atomic_save(ckpt, tmp_path / "light.pt")
    image = _photo()[:, :, :96, :128]
    stats = TorchEngine.from_checkpoint(path, method="style_stats", device="cpu").run({"image": image})[0]
    c = stats.shape[1] // 2
    feeds = {"image": image, "style_mean": stats[:, :c], "style_std": stats[:, c:],
             "alpha": np.ones(1, np.float32)}
    whole = TorchEngine.from_checkpoint(path, device="cpu").run(feeds)[0]
    features = TorchEngine.from_checkpoint(path, method="stylize_features", device="cpu").run(feeds)[0]
    split = TorchEngine.from_checkpoint(path, method="decode", device="cpu").run({"features": features})[0]
    assert stats.shape == (1, 2 * net.config.widths[-1], 1, 1) and whole.shape == image.shape
    np.testing.assert_allclose(split, whole, atol=1e-3)
    with pytest.raises(InputError, match="style_mean"):
        TorchEngine.from_checkpoint(path, device="cpu").run({"image": image})


def test_torch_engine_refuses_what_it_cannot_run():
    with pytest.raises(ModelError, match="encoder"):
        TorchEngine.from_checkpoint(exported_dir() / "adain_decoder.pt")
    with pytest.raises(ModelError, match="no 'decode' graph"):
        TorchEngine.from_checkpoint(exported_dir() / "mosaic_fast.pt", method="decode")


def test_make_engine_serves_the_same_graph_from_either_backend():
    onnx, ckpt = exported_dir() / "mosaic_fast.onnx", exported_dir() / "mosaic_fast.pt"
    ort_engine = make_engine(lambda: onnx, ckpt, device="cpu")
    torch_engine = make_engine(lambda: pytest.fail("the torch backend needs no ONNX graph"), ckpt,
                               backend="torch-cpu")
    assert (type(ort_engine).__name__, ort_engine.backend) == ("Engine", "ort-cpu")
    assert isinstance(torch_engine, TorchEngine)
    image = _photo()
    diff = np.abs(ort_engine.run({"image": image})[0] - torch_engine.run({"image": image})[0]).max()
    assert diff <= FP32_TOLERANCE
    # Only torch can use the GPU, but a third-party net has no livestyle checkpoint to run in it.
    with pytest.raises(DeviceError) as err:
        make_engine(onnx, None, device="cuda", backend="torch-cuda")
    assert "onnxruntime-gpu" in str(err.value) and "\n" not in str(err.value)


# -- choosing the backend ---------------------------------------------------------------------

# (onnxruntime CUDA provider usable, TensorRT provider, PyTorch CUDA) -> what 'auto' gives.
ORDER = [
    ((True, True, True), "ort-tensorrt"),
    ((True, True, False), "ort-tensorrt"),
    ((True, False, True), "ort-cuda"),
    ((True, False, False), "ort-cuda"),
    ((False, True, True), "torch-cuda"),    # the TensorRT provider runs only beside the CUDA one
    ((False, False, True), "torch-cuda"),
    ((False, True, False), "ort-cpu"),
    ((False, False, False), "ort-cpu"),
]


@pytest.mark.parametrize("caps,auto", ORDER)
@pytest.mark.parametrize("driver", [True, False])
def test_choose_backend_order_and_the_cuda_refusal(caps, auto, driver):
    onnx_gpu, trt, torch_cuda = caps
    kw = dict(have_onnx_gpu=onnx_gpu, have_tensorrt=trt, have_torch_cuda=torch_cuda, have_driver=driver)
    assert choose_backend("auto", **kw) == auto
    assert choose_backend("cpu", **kw) == "ort-cpu"
    if auto != "ort-cpu":
        assert choose_backend("cuda", **kw) == auto
        return
    with pytest.raises(DeviceError) as err:
        choose_backend("cuda", **kw)
    message = str(err.value)
    assert "\n" not in message and "--device cpu" in message
    if driver:
        assert "pip install 'livestyle[gpu]' (onnxruntime-gpu)" in message
        assert "CUDA build of PyTorch" in message
    else:
        assert "no NVIDIA GPU driver" in message and "pip install" not in message


def test_choose_backend_ignores_gpu_providers_without_a_driver(monkeypatch):
    # onnxruntime-gpu lists its CUDA provider on machines with no GPU at all.
    monkeypatch.setattr(backends, "onnx_gpu_providers",
                        lambda: {"CUDAExecutionProvider", "TensorrtExecutionProvider"})
    assert choose_backend("auto", have_torch_cuda=False, have_driver=False) == "ort-cpu"
    assert choose_backend("auto", have_torch_cuda=False, have_driver=True) == "ort-tensorrt"
    with pytest.raises(DeviceError, match="unknown device 'gpu'"):
        choose_backend("gpu")


def test_providers_for_pins_a_backend_and_choose_providers_is_built_on_it(tmp_path, monkeypatch):
    from livestyle.runtime import engine

    assert providers_for("ort-cpu") == ["CPUExecutionProvider"] == choose_providers("cpu")
    assert providers_for("ort-cuda", conv_search="EXHAUSTIVE") == [
        ("CUDAExecutionProvider", {"cudnn_conv_algo_search": "EXHAUSTIVE"}), "CPUExecutionProvider"]
    trt = providers_for("ort-tensorrt", trt_fp16=False, trt_cache=tmp_path / "trt")
    assert [p if isinstance(p, str) else p[0] for p in trt] == [
        "TensorrtExecutionProvider", "CUDAExecutionProvider", "CPUExecutionProvider"]
    assert trt[0][1] == {"trt_engine_cache_enable": True, "trt_engine_cache_path": str(tmp_path / "trt"),
                         "trt_fp16_enable": False}
    assert (tmp_path / "trt").is_dir() and trt[1][1] == {"cudnn_conv_algo_search": "HEURISTIC"}
    with pytest.raises(DeviceError, match="unknown onnxruntime backend 'torch-cuda'"):
        providers_for("torch-cuda")
    # A GPU machine, as onnxruntime-gpu and the driver would report it.
    monkeypatch.setattr(engine, "gpu_driver_present", lambda: True)
    monkeypatch.setattr(engine, "available_providers", lambda: [
        "TensorrtExecutionProvider", "CUDAExecutionProvider", "CPUExecutionProvider"])
    assert choose_providers("auto") == choose_providers("cuda") == providers_for("ort-tensorrt")
    monkeypatch.setattr(engine, "available_providers", lambda: ["CUDAExecutionProvider", "CPUExecutionProvider"])
    assert choose_providers("auto") == providers_for("ort-cuda")
    monkeypatch.setattr(engine, "gpu_driver_present", lambda: False)   # listed, but no GPU to run on
    assert choose_providers("auto") == providers_for("ort-cpu")


GPU_BOX = Capabilities(torch_cuda=True, ort_providers=("TensorrtExecutionProvider", "CUDAExecutionProvider",
                                                       "CPUExecutionProvider"),
                       ort_gpu=frozenset({"TensorrtExecutionProvider", "CUDAExecutionProvider"}), driver=True)


def _plan(device: str, caps: Capabilities, compile: bool = False) -> dict[str, str | None]:
    return {f"{b.label} {b.precision}": skip for b, skip in plan_backends(device, caps, compile)}


def test_the_device_script_plans_every_backend_the_machine_has():
    plan = _plan("auto", GPU_BOX, compile=True)
    assert [row for row, skip in plan.items() if skip is None] == [
        "torch-cuda fp32", "torch-cuda fp16", "torch-cuda+compile fp16", "ort-cuda fp32", "ort-cuda fp16",
        "ort-tensorrt fp16"]
    assert "--device cpu" in plan["ort-cpu fp32"] and "--device cpu" in plan["torch-cpu fp32"]
    assert [row for row, skip in _plan("cpu", GPU_BOX).items() if skip is None] == ["torch-cpu fp32", "ort-cpu fp32"]
    # onnxruntime-gpu lists its providers without a driver; none of them is usable then.
    listed_only = Capabilities(False, GPU_BOX.ort_providers, frozenset(), False)
    plan = _plan("auto", listed_only)
    assert [row for row, skip in plan.items() if skip is None] == ["torch-cpu fp32", "ort-cpu fp32"]
    assert "no usable CUDA provider" in plan["ort-cuda fp16"] and "no usable CUDA GPU" in plan["torch-cuda fp32"]
    no_trt = Capabilities(True, GPU_BOX.ort_providers[1:], frozenset({"CUDAExecutionProvider"}), True)
    assert _plan("cuda", no_trt)["ort-tensorrt fp16"] == "onnxruntime here has no TensorRT provider"


# -- the timing helper ------------------------------------------------------------------------

class FakeClock:
    """``time`` for bench.time_calls: it moves only when the timed code says so."""

    def __init__(self):
        self.now = 0.0

    def perf_counter(self) -> float:
        return self.now


def test_time_calls_warms_up_cycles_the_inputs_and_syncs_each_call(monkeypatch):
    clock = FakeClock()
    monkeypatch.setattr(bench, "time", clock)
    events = []

    def call(x):
        events.append(x)
        clock.now += 0.010

    def sync():
        events.append("sync")
        clock.now += 0.005

    t = time_calls(call, ["a", "b", "c"], warmup=2, repeats=4, sync=sync, after_warmup=lambda: events.append("reset"))
    assert events == ["a", "b", "reset", "sync", "a", "sync", "b", "sync", "c", "sync", "a", "sync"]
    assert t.calls == 4 and t.times_ms == pytest.approx((15.0,) * 4) and t.total_s == pytest.approx(0.060)
    assert (t.median_ms, t.p90_ms, t.p95_ms) == pytest.approx((15.0, 15.0, 15.0))
    assert t.mean_ms == pytest.approx(15.0) and t.fps == pytest.approx(4 / 0.060)
    # Throughput: one sync before the clock starts and one after the last call.
    events.clear()
    t = time_calls(call, ["a", "b", "c"], warmup=0, sync=sync, sync_each=False)
    assert events == ["sync", "a", "b", "c", "sync"]
    assert t.times_ms == pytest.approx((10.0,) * 3) and t.total_s == pytest.approx(0.035)
    assert t.mean_ms == pytest.approx(35.0 / 3) and t.fps == pytest.approx(3 / 0.035)


def test_time_calls_stops_at_its_time_limit_but_times_two_calls_at_least(monkeypatch):
    clock = FakeClock()
    monkeypatch.setattr(bench, "time", clock)
    calls = []

    def one_second():
        calls.append(1)
        clock.now += 1.0

    assert time_calls(one_second, warmup=0).calls == bench.DEFAULT_REPEATS
    for seconds, timed in ((3.5, 3), (2.5, 2), (0.1, 2)):
        assert time_calls(one_second, warmup=1, repeats=50, seconds=seconds).calls == timed
    assert time_calls(one_second, warmup=0, repeats=1, seconds=0.1).calls == 1
    with pytest.raises(InputError, match="no inputs"):
        time_calls(one_second, [])
    with pytest.raises(InputError, match="at least 1"):
        time_calls(one_second, repeats=0)


def test_torch_sync_never_imports_pytorch(monkeypatch):
    import types

    monkeypatch.delitem(sys.modules, "torch")
    assert bench.torch_sync() is None and "torch" not in sys.modules
    synced = []
    cuda = types.SimpleNamespace(is_available=lambda: True, synchronize=lambda: synced.append(1))
    monkeypatch.setitem(sys.modules, "torch", types.SimpleNamespace(cuda=cuda))
    bench.torch_sync()()
    assert synced == [1]


# -- the device script's pieces ---------------------------------------------------------------

def _tree(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_packer_splits_into_16_mib_parts_that_rejoin_byte_identically(tmp_path):
    run = tmp_path / "run"
    (run / "sub").mkdir(parents=True)
    rng = np.random.default_rng(0)
    (run / "mosaic.pt").write_bytes(rng.bytes(12 * MiB))   # random bytes: nothing compresses them
    (run / "sub" / "candy.pt").write_bytes(rng.bytes(9 * MiB))
    (run / "history.json").write_text('{"loss": [1, 2]}')
    for i in range(3):
        (run / f"sample_{i:05d}.jpg").write_bytes(bytes([i]) * 1000)
    out = tmp_path / "out"
    manifest = pack_folders([run], out)
    parts = sorted(out.glob("checkpoints.tar.part*"))
    assert [p.name for p in parts] == [p["file"] for p in manifest["parts"]] and len(parts) == 2
    assert all(p.stat().st_size <= 16 * MiB for p in parts)
    for part, facts in zip(parts, manifest["parts"]):
        assert hashlib.sha256(part.read_bytes()).hexdigest() == facts["sha256"]
    joined = tmp_path / "joined.tar"
    joined.write_bytes(b"".join(p.read_bytes() for p in parts))
    assert hashlib.sha256(joined.read_bytes()).hexdigest() == manifest["tar_sha256"]
    with tarfile.open(joined) as tar:
        tar.extractall(tmp_path / "back", filter="data")
    expected = {k: v for k, v in _tree(run).items() if k not in ("sample_00000.jpg", "sample_00001.jpg")}
    assert _tree(tmp_path / "back" / "run") == expected   # only the newest sample image travels
    assert json.loads((out / "checkpoints.manifest.json").read_text()) == manifest


def test_packer_drops_resume_state_first_and_refuses_what_cannot_fit(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    (run / "net.pt").write_bytes(b"n" * 300_000)
    (run / "train_state.pt").write_bytes(b"s" * 600_000)
    manifest = pack_folders([run], tmp_path / "a", part_bytes=200_000, max_parts=2, max_bytes=10 * MiB)
    assert manifest["dropped"] == ["run/train_state.pt"]
    assert [f["path"] for f in manifest["files"]] == ["run/net.pt"]
    with pytest.raises(PackError, match="more than"):
        pack_folders([run], tmp_path / "b", part_bytes=100_000, max_parts=2)


def test_training_commands_get_their_output_folder_and_a_hard_stop(tmp_path):
    cmd = "python3 -m livestyle train johnson -o .gpu/runs/ja --steps 5"
    assert output_dir_of(cmd, dc.REPO) == dc.REPO / ".gpu/runs/ja"
    assert output_dir_of(f"train --output={tmp_path}", dc.REPO) == tmp_path
    assert output_dir_of("echo no output", dc.REPO) is None
    log = tmp_path / "log"
    rc = run_with_timeout("echo started; sleep 30", log, timeout=1)
    assert rc == TIMED_OUT and log.read_text().startswith("started")
    assert run_with_timeout("exit 3", log, timeout=30) == 3  # a finished command keeps its own code
    run_with_timeout("pwd", log, timeout=30, cwd=tmp_path)   # where the tool runs its commands
    assert log.read_text().strip() == str(tmp_path)


def test_sizes_parse_named_and_explicit_and_refuse_odd_ones():
    assert dc.parse_sizes("1080p, 256x144") == [("1080p", (1080, 1920)), ("256x144", (144, 256))]
    with pytest.raises(Exception, match="divide by 8"):
        dc.parse_sizes("100x100")


def test_a_spent_budget_starts_no_measurement(tmp_path):
    done = subprocess.run([sys.executable, str(SCRIPT), "--tiny", "--device", "cpu", "--out", str(tmp_path),
                           "--nets", "johnson_fast", "--budget-s", "0", "--no-video"],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr[-2000:]
    rows = json.loads((tmp_path / "device_check.json").read_text())["model_only"]
    cpu_rows = [r for r in rows if r["backend"] in ("torch-cpu", "ort-cpu")]
    assert len(cpu_rows) == 2 and all(r["reason"] == "--budget-s reached" for r in cpu_rows)
    assert not any(r["status"] == "ok" for r in rows)
