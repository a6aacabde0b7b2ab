"""One prepared device session for livestyle (issue 21): measure every net class on every backend
this machine has, ``livestyle video`` end to end, optionally train, and write one JSON + Markdown.

A GPU is lent briefly and rarely, so this script is finished and tested before one is at hand: it
runs on the CPU too (``--tiny``), where GPU backends appear as skipped rows with the reason.
Results are rewritten after every measurement, so a run cut off at its time limit still leaves
everything measured so far in ``--out``.

    python tools/gpu/device_check.py --out $OUT                               # on the GPU machine
    python tools/gpu/device_check.py --out $OUT --train "python3 -m livestyle train ... -o .gpu/runs/x" 
    python tools/gpu/device_check.py --tiny --device cpu --out /tmp/dc          # CPU self-test

Rows (model-only: input already in device memory, output left there; batch 1):
    nets      johnson_full (exported/mosaic.pt), johnson_fast (mosaic_fast.pt), light_adain
              (exported/adain_light.pt, else random weights: timing only), vgg_adain (VGG-16 from
              --shared-dir + exported/adain_decoder.pt; skipped without the shared folder)
    backends  torch-cuda fp32/fp16 (channels-last, CUDA graphs; --compile adds torch.compile rows),
              ort-cuda fp32/fp16 and ort-tensorrt fp16 where onnxruntime offers them,
              torch-cpu and ort-cpu when no GPU is used
Each row: ms/frame p50/p95, frames/s, peak GPU memory, and the max |difference| against the
reference graph (the shipped ONNX graph on onnxruntime-CPU, else PyTorch fp32 on the CPU) beside
the export's parity tolerance.

Output (at most 8 files, the device tool's limit): device_check.json, device_check.md and, with
--train or --pack, checkpoints.manifest.json + checkpoints.tar.partNN (16 MiB each at most).
"""

from __future__ import annotations

import argparse
import fnmatch
import hashlib
import importlib.util
import json
import os
import platform
import re
import shlex
import shutil
import signal
import subprocess
import sys
import tarfile
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

MiB = 1 << 20
NAMED_SIZES = {"720p": (720, 1280), "1080p": (1080, 1920), "2160p": (2160, 3840)}
DEFAULT_SIZES = "720p,1080p,2160p"
TINY_SIZES = "96x64,128x72"        # sides divide by 8: the AdaIN nets' total stride
PARITY_HW = (192, 256)
TINY_PARITY_HW = (64, 96)
# What comes back from the device machine: at most 8 files of 16 MiB, 64 MiB in all. The JSON,
# the Markdown and the pack manifest take three; the margin keeps those three under 1 MiB.
OUT_FILES, PART_BYTES, OUT_BYTES = 8, 16 * MiB, 64 * MiB
PACK_PARTS, PACK_BYTES = OUT_FILES - 3, OUT_BYTES - MiB
# Resume state is large and only needed to continue a run; it goes first when a pack is too big.
DROP_FIRST = ("train_state*.pt",)
NET_KEYS = ("johnson_full", "johnson_fast", "light_adain", "vgg_adain")
ALL_SIZES = "all"                   # size of a row that stands for every size (skips, start-up errors)
CLI_ERROR_EXIT = 2                  # livestyle's exit code for an error the user can act on


def parse_sizes(text: str) -> list[tuple[str, tuple[int, int]]]:
    sizes = []
    for item in filter(None, (s.strip() for s in text.split(","))):
        if item in NAMED_SIZES:
            sizes.append((item, NAMED_SIZES[item]))
            continue
        m = re.fullmatch(r"(\d+)x(\d+)", item)
        if not m:
            raise argparse.ArgumentTypeError(f"size '{item}': use 720p, 1080p, 2160p or WxH")
        w, h = int(m.group(1)), int(m.group(2))
        if w % 8 or h % 8:
            raise argparse.ArgumentTypeError(f"size '{item}': both sides must divide by 8")
        sizes.append((item, (h, w)))
    if not sizes:
        raise argparse.ArgumentTypeError("no sizes given")
    return sizes


# ---------------------------------------------------------------------------------------------
# Results: one JSON document, rewritten whole after every change, and its Markdown rendering.

@dataclass
class Report:
    out: Path
    started: float = field(default_factory=time.time)
    doc: dict = field(default_factory=lambda: {"format": "livestyle-device-check/1", "environment": {},
                                               "model_only": [], "video": [], "training": [],
                                               "pack": None, "notes": []})

    def add(self, section: str, row: dict) -> dict:
        self.doc[section].append(row)
        self.write()
        return row

    def note(self, text: str) -> None:
        self.doc["notes"].append(text)
        print(f"note: {text}", flush=True)
        self.write()

    def write(self) -> None:
        self.doc["elapsed_s"] = round(time.time() - self.started, 1)
        self.out.mkdir(parents=True, exist_ok=True)
        for name, text in (("device_check.json", json.dumps(self.doc, indent=1) + "\n"),
                           ("device_check.md", render_markdown(self.doc))):
            tmp = self.out / f".{name}.tmp"
            tmp.write_text(text)
            os.replace(tmp, self.out / name)


def _fmt(value, digits: int = 2) -> str:
    if value is None:
        return "-"
    return f"{value:.{digits}f}" if isinstance(value, float) else str(value)


def render_markdown(doc: dict) -> str:
    env = doc["environment"]
    lines = ["# livestyle device check", "",
             f"Machine: {env.get('gpu_name') or 'no GPU'}; torch {env.get('torch')} "
             f"(CUDA {env.get('torch_cuda')}), onnxruntime {env.get('onnxruntime')} "
             f"({', '.join(env.get('ort_providers') or [])}); {env.get('cpu_count')} CPUs. "
             f"Command: `{env.get('command', '')}`", "",
             "## Model only (batch 1, input and output in device memory)", "",
             "| net | backend | precision | size | ms p50 | ms p95 | frames/s | peak GPU MiB "
             "| parity max diff (tol) | status |",
             "| --- | --- | --- | --- | ---: | ---: | ---: | ---: | --- | --- |"]
    for r in doc["model_only"]:
        parity = "-" if r.get("parity_max_abs_diff") is None else \
            f"{r['parity_max_abs_diff']:.4g} ({r['parity_tolerance']}) {'ok' if r['parity_ok'] else 'FAIL'}"
        status = r["status"] if r["status"] == "ok" else f"{r['status']}: {r.get('reason', '')}"
        lines.append(f"| {r['net']} | {r['backend']} | {r['precision']} | {r['size']} "
                     f"| {_fmt(r.get('ms_p50'))} | {_fmt(r.get('ms_p95'))} | {_fmt(r.get('fps'), 1)} "
                     f"| {_fmt(r.get('peak_gpu_mib'), 0)} | {parity} | {status} |")
    lines += ["", "## End to end", "", "| what | size | frames | seconds | frames/s | status |",
              "| --- | --- | ---: | ---: | ---: | --- |"]
    for r in doc["video"]:
        status = r["status"] if r["status"] == "ok" else f"{r['status']}: {r.get('reason', '')}"
        lines.append(f"| {r['name']} | {r['size']} | {_fmt(r.get('frames'))} | {_fmt(r.get('seconds'), 1)} "
                     f"| {_fmt(r.get('fps'), 1)} | {status} |")
    if doc["training"]:
        lines += ["", "## Training", "", "| command | seconds | exit | output |",
                  "| --- | ---: | ---: | --- |"]
        for r in doc["training"]:
            lines.append(f"| `{r['command'][:120]}` | {_fmt(r.get('seconds'), 0)} | {r.get('returncode')} "
                         f"| {r.get('output_dir') or '-'} |")
    if doc["pack"]:
        p = doc["pack"]
        if "error" in p:
            lines += ["", f"Pack: not written: {p['error']}"]
        else:
            lines += ["", f"Pack: {len(p['parts'])} part(s), {p['tar_bytes']} bytes, "
                          f"{len(p['files'])} files; rejoin with `{p['rejoin']}`"]
    if doc["notes"]:
        lines += ["", "## Notes", ""] + [f"- {n}" for n in doc["notes"]]
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------------------------------------
# Packing checkpoints into parts small enough to come back from the device machine.

class PackError(Exception):
    """The folders do not fit the part limits even without the droppable files."""


class _SplitWriter:
    """A write-only file object that spreads what is written over ``name.partNN`` files."""

    def __init__(self, out_dir: Path, name: str, part_bytes: int, max_parts: int):
        self.out_dir, self.name, self.part_bytes, self.max_parts = out_dir, name, part_bytes, max_parts
        self.parts: list[dict] = []
        self.total = hashlib.sha256()
        self.size = 0
        self._file = None
        self._hash = None
        self._left = 0

    def _next_part(self) -> None:
        self._close_part()
        if len(self.parts) >= self.max_parts:
            raise PackError(f"the archive needs more than {self.max_parts} parts of {self.part_bytes} bytes")
        path = self.out_dir / f"{self.name}.tar.part{len(self.parts):02d}"
        self._file, self._hash, self._left = open(path, "wb"), hashlib.sha256(), self.part_bytes
        self.parts.append({"file": path.name, "bytes": 0})

    def _close_part(self) -> None:
        if self._file is not None:
            self._file.close()
            self.parts[-1]["sha256"] = self._hash.hexdigest()
            self._file = None

    def write(self, data: bytes) -> int:
        view = memoryview(data)
        while view.nbytes:
            if self._file is None or self._left == 0:
                self._next_part()
            chunk = view[:self._left]
            self._file.write(chunk)
            self._hash.update(chunk)
            self.total.update(chunk)
            self.parts[-1]["bytes"] += chunk.nbytes
            self._left -= chunk.nbytes
            self.size += chunk.nbytes
            view = view[chunk.nbytes:]
        return len(data)

    def close(self) -> None:
        self._close_part()


def _tar_estimate(files: list[tuple[Path, str]]) -> int:
    """Upper bound of the tar size: a header and padding per file (two for long names), the end."""
    return sum(1024 + -(-p.stat().st_size // 512) * 512 for p, _ in files) + 2 * tarfile.RECORDSIZE


def _pack_candidates(folders: list[Path]) -> list[tuple[Path, str]]:
    """Every file of the folders, but only the newest sample image of each (they are many and big)."""
    files: list[tuple[Path, str]] = []
    for i, folder in enumerate(folders):
        prefix = folder.name if [f.name for f in folders].count(folder.name) == 1 else f"{i}_{folder.name}"
        every = sorted(p for p in folder.rglob("*") if p.is_file())
        samples = [p for p in every if fnmatch.fnmatch(p.name, "sample_*")]
        keep = set(every) - set(samples[:-1])
        files += [(p, f"{prefix}/{p.relative_to(folder).as_posix()}") for p in every if p in keep]
    return files


def pack_folders(folders: list[Path], out_dir: Path, name: str = "checkpoints", part_bytes: int = PART_BYTES,
                 max_parts: int = PACK_PARTS, max_bytes: int = PACK_BYTES,
                 drop_first: tuple[str, ...] = DROP_FIRST) -> dict:
    """tar the folders into ``out_dir/name.tar.partNN`` (each at most ``part_bytes``) and write
    ``name.manifest.json``; returns the manifest. ``cat name.tar.part* > name.tar`` re-joins them."""
    folders = [Path(f) for f in folders]
    missing = [str(f) for f in folders if not f.is_dir()]
    if missing:
        raise PackError(f"no such folder(s) to pack: {', '.join(missing)}")
    limit = min(max_bytes, part_bytes * max_parts)
    files, dropped = _pack_candidates(folders), []
    if _tar_estimate(files) > limit:
        dropped = [arc for p, arc in files if any(fnmatch.fnmatch(p.name, pat) for pat in drop_first)]
        files = [(p, arc) for p, arc in files if arc not in dropped]
    if _tar_estimate(files) > limit:
        biggest = sorted(files, key=lambda f: -f[0].stat().st_size)[:3]
        raise PackError(f"{_tar_estimate(files)} bytes to pack, more than the {limit} allowed "
                        f"(largest: {', '.join(f'{a} {p.stat().st_size}' for p, a in biggest)})")
    out_dir.mkdir(parents=True, exist_ok=True)
    writer = _SplitWriter(out_dir, name, part_bytes, max_parts)
    try:
        with tarfile.open(fileobj=writer, mode="w|", format=tarfile.PAX_FORMAT) as tar:
            for path, arc in files:
                tar.add(path, arcname=arc, recursive=False)
    finally:
        writer.close()
    manifest = {"format": "livestyle-pack/1", "tar": f"{name}.tar", "tar_bytes": writer.size,
                "tar_sha256": writer.total.hexdigest(), "parts": writer.parts,
                "files": [{"path": arc, "bytes": p.stat().st_size} for p, arc in files], "dropped": dropped,
                "rejoin": f"cat {name}.tar.part* > {name}.tar && tar xf {name}.tar"}
    (out_dir / f"{name}.manifest.json").write_text(json.dumps(manifest, indent=1) + "\n")
    return manifest


# ---------------------------------------------------------------------------------------------
# Nets.

@dataclass
class Net:
    key: str
    family: str                                # 'johnson' or 'arbitrary' (torch_engine.GRAPH_IO)
    build: Callable[[], tuple]                 # -> (nn.Module fp32 CPU, extra feeds {name: ndarray})
    onnx: Path | None = None                   # shipped graph: ORT rows and the parity reference
    note: str = ""


def _style_image(shared: Path | None, size: int = 256):
    """Style painting [1,3,H,W] float 0..255: the shared mosaic painting, else a synthetic one."""
    import numpy as np

    painting = shared / "styles" / "mosaic.jpg" if shared else None
    if painting and painting.is_file():
        import cv2

        bgr = cv2.imread(str(painting))
        f = size / max(bgr.shape[:2])
        rgb = cv2.resize(bgr, None, fx=f, fy=f, interpolation=cv2.INTER_AREA)[:, :, ::-1]
        return np.ascontiguousarray(rgb.transpose(2, 0, 1)[None], dtype=np.float32)
    return synthetic_image(size, size, seed=7)


def synthetic_image(h: int, w: int, seed: int = 0):
    """Photo-like [1,3,H,W] float32 0..255: smooth gradients, hard edges, some noise."""
    import numpy as np

    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    chans = [128 + 100 * np.sin(xx / (7 + 5 * c) + yy / (11 + 3 * c) + c) for c in range(3)]
    img = np.stack(chans) + rng.normal(0, 8, (3, h, w))
    img[:, h // 4: h // 2, w // 3: w // 2] = rng.integers(0, 255, (3, 1, 1))
    return np.clip(img, 0, 255).astype(np.float32)[None]


def _arbitrary_feeds(style_stats, shared: Path | None) -> dict:
    """The style inputs of an arbitrary-style graph: the painting's statistics, computed once."""
    import numpy as np
    import torch

    with torch.inference_mode():
        mean, std = style_stats(torch.from_numpy(_style_image(shared)))
    return {"style_mean": mean.numpy(), "style_std": std.numpy(), "alpha": np.ones(1, np.float32)}


def shipped_nets(shared: Path | None, vgg_random: bool = False) -> tuple[list[Net], list[str]]:
    """The net classes livestyle ships (or is about to), plus notes on stand-ins and skips.

    ``vgg_random`` times the VGG AdaIN net with random encoder weights when the shared VGG-16 is
    absent: its speed does not depend on the weights (its fp16 range does, so parity is moot then).
    """
    from livestyle.paths import VGG16_WEIGHTS, exported_dir

    exported, notes = exported_dir(), []

    def johnson(stem: str):
        def build():
            from livestyle.checkpoints import build_model, load_checkpoint

            return build_model(load_checkpoint(exported / f"{stem}.pt", "johnson")), {}
        return build

    light_ckpt = exported / "adain_light.pt"

    def light():
        from livestyle.checkpoints import build_model, load_checkpoint
        from livestyle.models.light_adain import LightAdaINNet

        trained = light_ckpt.is_file()
        net = build_model(load_checkpoint(light_ckpt, "light_adain")) if trained else LightAdaINNet()
        net = net.float().eval()
        return net, _arbitrary_feeds(net.style_stats, shared)

    vgg = shared / VGG16_WEIGHTS if shared else None
    have_vgg = bool(vgg and vgg.is_file())

    def vgg_adain():
        from livestyle.checkpoints import build_model, load_checkpoint, load_torch_file
        from livestyle.models.adain import AdaINContentNet, AdaINStyleEncoder, make_encoder

        encoder = make_encoder()
        if have_vgg:
            encoder.load_shared_state_dict(load_torch_file(vgg, "VGG-16 weights"))
        decoder = build_model(load_checkpoint(exported / "adain_decoder.pt", "adain_decoder"))
        net = AdaINContentNet(encoder, decoder).float().eval()
        return net, _arbitrary_feeds(AdaINStyleEncoder(net.encoder).eval(), shared)

    nets = [Net("johnson_full", "johnson", johnson("mosaic"), exported / "mosaic.onnx", "mosaic"),
            Net("johnson_fast", "johnson", johnson("mosaic_fast"), exported / "mosaic_fast.onnx",
                "mosaic_fast")]
    light_note = "exported/adain_light.pt" if light_ckpt.is_file() else \
        "exported/adain_light.pt not shipped yet: default LightAdaINNet with random weights (speed only)"
    if not light_ckpt.is_file():
        notes.append(f"light_adain: {light_note}")
    nets.append(Net("light_adain", "arbitrary", light, None, light_note))
    if have_vgg:
        nets.append(Net("vgg_adain", "arbitrary", vgg_adain, None,
                        "VGG-16 encoder + exported/adain_decoder.pt"))
    elif vgg_random:
        note = f"VGG-16 weights not found at {vgg}: random encoder weights (speed only, parity moot)"
        notes.append(f"vgg_adain: {note}")
        nets.append(Net("vgg_adain", "arbitrary", vgg_adain, None, note))
    else:
        notes.append(f"vgg_adain: skipped, VGG-16 weights not found at {vgg} (pass --shared-dir, or "
                     "--vgg-random to time it with random weights)")
    return nets, notes


# ---------------------------------------------------------------------------------------------
# Backends: each makes a callable over inputs already in device memory.

@dataclass(frozen=True)
class Backend:
    name: str           # torch-cuda, torch-cpu, ort-cuda, ort-tensorrt, ort-cpu
    precision: str      # fp32 / fp16
    compile: bool = False

    @property
    def label(self) -> str:
        return self.name + ("+compile" if self.compile else "")

    @property
    def on_gpu(self) -> bool:
        return self.name != "torch-cpu" and self.name != "ort-cpu"


def capabilities() -> dict:
    caps = {"torch_cuda": False, "ort_providers": [], "driver": False}
    import torch

    caps["torch_cuda"] = bool(torch.cuda.is_available())
    try:
        import onnxruntime as ort

        caps["ort_providers"] = list(ort.get_available_providers())
    except ImportError:
        pass
    from livestyle.runtime.backends import gpu_driver_present

    caps["driver"] = gpu_driver_present()
    return caps


def plan_backends(device: str, caps: dict, compile: bool) -> list[tuple[Backend, str | None]]:
    """Every backend row with None (to measure) or the reason it is skipped here."""
    gpu = device in ("auto", "cuda")
    cpu = device == "cpu" or (device == "auto" and not caps["torch_cuda"])
    no_torch = None if caps["torch_cuda"] else "PyTorch here has no usable CUDA GPU"
    plan: list[tuple[Backend, str | None]] = []
    for precision in ("fp32", "fp16"):
        plan.append((Backend("torch-cuda", precision), None if gpu and not no_torch else
                     (no_torch or f"--device {device}")))
    if compile:
        plan.append((Backend("torch-cuda", "fp16", compile=True), None if gpu and not no_torch else
                     (no_torch or f"--device {device}")))
    ort_gpu = caps["driver"] and "CUDAExecutionProvider" in caps["ort_providers"]
    why_ort = None if ort_gpu else \
        f"onnxruntime here offers {', '.join(caps['ort_providers']) or 'nothing'} (no usable CUDA provider)"
    for precision in ("fp32", "fp16"):
        plan.append((Backend("ort-cuda", precision),
                     None if gpu and ort_gpu else (why_ort or f"--device {device}")))
    trt = ort_gpu and "TensorrtExecutionProvider" in caps["ort_providers"]
    plan.append((Backend("ort-tensorrt", "fp16"), None if gpu and trt else
                 (f"--device {device}" if not gpu else "onnxruntime here has no TensorRT provider")))
    why_cpu = None if cpu else \
        ("--device cuda" if device == "cuda" else "a GPU is used here; CPU rows come with --device cpu")
    plan += [(Backend("torch-cpu", "fp32"), why_cpu), (Backend("ort-cpu", "fp32"), why_cpu)]
    return plan


def export_onnx(module, inputs: dict, path: Path) -> None:
    """A GraphModule to ONNX with dynamic H/W (the nets without a shipped graph, and fp16 ones)."""
    import warnings

    import torch

    axes = {"image": {2: "height", 3: "width"}, "stylized": {2: "height", 3: "width"}}
    example = tuple(torch.from_numpy(v).to(next(module.parameters()).device) for v in inputs.values())
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")
        torch.onnx.export(module, example, str(path), input_names=list(inputs), output_names=["stylized"],
                          dynamic_axes=axes, opset_version=17, dynamo=False)


class TorchRunner:
    def __init__(self, net, family: str, backend: Backend, cuda_graphs: bool):
        from livestyle.runtime.torch_engine import GRAPH_IO, TorchEngine

        names, outputs, clamp = GRAPH_IO[(family, "forward")]
        self.engine = TorchEngine(net, names, outputs, device="cuda" if backend.on_gpu else "cpu",
                                  fp16=backend.precision == "fp16", compile=backend.compile, clamp=clamp,
                                  cuda_graphs=cuda_graphs and backend.on_gpu)
        self.names = names

    def prepare(self, feeds: dict) -> list:
        import torch

        return [torch.from_numpy(feeds[n]).to(self.engine.device) for n in self.names]

    def __call__(self, tensors: list):
        return self.engine.run_tensors(tensors)[0]

    def new_size(self) -> None:
        self.engine.clear_graphs()   # so peak memory counts this size's graph pool alone

    def to_numpy(self, out):
        return out.float().cpu().numpy()

    def close(self) -> None:
        self.engine = None


class OrtRunner:
    """An onnxruntime session with IO binding: inputs uploaded once, outputs left on the device."""

    def __init__(self, onnx_path: Path, backend: Backend, tmp: Path, threads: int | None):
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.log_severity_level = 3
        if threads:
            options.intra_op_num_threads = threads
        cuda = ("CUDAExecutionProvider", {"cudnn_conv_algo_search": "EXHAUSTIVE"})
        trt = ("TensorrtExecutionProvider", {"trt_engine_cache_enable": True,
                                              "trt_engine_cache_path": str(tmp / "trt"),
                                              "trt_fp16_enable": backend.precision == "fp16"})
        providers = {"ort-cpu": ["CPUExecutionProvider"], "ort-cuda": [cuda, "CPUExecutionProvider"],
                     "ort-tensorrt": [trt, cuda, "CPUExecutionProvider"]}[backend.name]
        self.session = ort.InferenceSession(str(onnx_path), options, providers=providers)
        first = providers[0] if isinstance(providers[0], str) else providers[0][0]
        if self.session.get_providers()[0] != first:
            raise RuntimeError(f"onnxruntime fell back to {self.session.get_providers()[0]}")
        self.device = "cpu" if backend.name == "ort-cpu" else "cuda"
        self.names = [i.name for i in self.session.get_inputs()]

    def prepare(self, feeds: dict):
        import onnxruntime as ort

        binding = self.session.io_binding()
        self._keep = []
        for name in self.names:
            value = ort.OrtValue.ortvalue_from_numpy(feeds[name], self.device, 0)
            self._keep.append(value)
            binding.bind_ortvalue_input(name, value)
        binding.bind_output(self.session.get_outputs()[0].name, self.device)
        return binding

    def __call__(self, binding):
        self.session.run_with_iobinding(binding)
        return binding

    def to_numpy(self, binding):
        return binding.copy_outputs_to_cpu()[0]

    def new_size(self) -> None:
        pass

    def close(self) -> None:
        self.session = None


# ---------------------------------------------------------------------------------------------
# Measuring.

def _sync(on_gpu: bool) -> None:
    """Wait for queued GPU work (torch's; onnxruntime's IO-binding runs return when done)."""
    if on_gpu:
        import torch

        if torch.cuda.is_available():
            torch.cuda.synchronize()


def time_runner(runner, inputs, on_gpu: bool, repeats: int, warmup: int, row_s: float) -> dict:
    """p50/p95 of synchronised single calls, and frames/s of back-to-back calls (GPU queues them)."""
    import numpy as np

    t_one = 0.0
    for _ in range(max(1, warmup)):
        t = time.perf_counter()
        runner(inputs)
        _sync(on_gpu)
        t_one = time.perf_counter() - t
    # A slow row (the VGG net at 2160p on a CPU) must not eat the session: fewer repeats instead.
    n = max(2, min(repeats, int(row_s / max(2 * t_one, 1e-6))))
    times = []
    for _ in range(n):
        t = time.perf_counter()
        runner(inputs)
        _sync(on_gpu)
        times.append((time.perf_counter() - t) * 1000)
    if on_gpu:
        t = time.perf_counter()
        for _ in range(n):
            runner(inputs)
        _sync(on_gpu)
        fps = n / (time.perf_counter() - t)
    else:
        fps = 1000 / float(np.mean(times))
    return {"repeats": n, "ms_p50": round(float(np.percentile(times, 50)), 3),
            "ms_p95": round(float(np.percentile(times, 95)), 3), "fps": round(fps, 2)}


def tolerance(precision: str) -> float:
    from livestyle.export.onnx import FP16_TOLERANCE, FP32_TOLERANCE

    return FP16_TOLERANCE if precision == "fp16" else FP32_TOLERANCE


class Check:
    """The run as a whole: budget, report and the measuring steps."""

    def __init__(self, args: argparse.Namespace):
        self.args = args
        self.report = Report(args.out)
        self.deadline = time.time() + args.budget_s
        self.tmp = Path(tempfile.mkdtemp(prefix="device_check_"))

    def left(self) -> float:
        return self.deadline - time.time()

    def reserve(self, after: str = "model") -> float:
        """Seconds the steps after ``after`` (video, training, packing) keep from it."""
        a = self.args
        later = len(a.train) * a.train_timeout_s + (30 if (a.train or a.pack) else 0) + 5
        if after == "model" and not a.no_video:
            later += 20 if a.tiny else a.video_reserve_s
        return later

    # -- environment ----------------------------------------------------------------------
    def environment(self, caps: dict) -> None:
        import numpy as np
        import torch

        env = {"command": " ".join([Path(sys.argv[0]).name] + sys.argv[1:]),
               "python": platform.python_version(), "platform": platform.platform(),
               "cpu_count": os.cpu_count(), "numpy": np.__version__, "torch": torch.__version__,
               "torch_cuda": torch.version.cuda, "cuda_available": caps["torch_cuda"],
               "cuda_driver_found": caps["driver"], "ort_providers": caps["ort_providers"],
               "started": time.strftime("%Y-%m-%d %H:%M:%S %Z")}
        if caps["torch_cuda"]:
            props = torch.cuda.get_device_properties(0)
            env.update(gpu_name=props.name, gpu_capability=list(torch.cuda.get_device_capability(0)),
                       gpu_memory_mib=props.total_memory // MiB, cudnn=torch.backends.cudnn.version())
        for module in ("onnxruntime", "cv2", "av"):
            try:
                env[module] = __import__(module).__version__
            except ImportError:
                env[module] = None
        env["nvidia_smi"] = _run_quiet(["nvidia-smi", "--format=csv,noheader",
                                        "--query-gpu=name,driver_version,memory.total,clocks.max.sm"])
        env["git_commit"] = _run_quiet(["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"])
        self.report.doc["environment"] = env
        self.report.write()

    # -- model-only rows ---------------------------------------------------------------------
    def model_rows(self, nets: list[Net], plan: list[tuple[Backend, str | None]]) -> None:
        parity_image = synthetic_image(*(TINY_PARITY_HW if self.args.tiny else PARITY_HW), seed=1)
        for net in nets:
            base = {"net": net.key, "net_source": net.note}
            try:
                module, extra = net.build()
                reference, ref_name = self._reference(net, module, {"image": parity_image, **extra})
            except Exception as exc:  # noqa: BLE001 - a broken net is a row, the others still run
                for backend, skip in plan:
                    self._row(base, backend, ALL_SIZES, status="skipped" if skip else "error",
                              reason=skip or _one_line(exc))
                continue
            for backend, skip in plan:
                if skip:   # one row for all sizes keeps the table readable
                    self._row(base, backend, ALL_SIZES, status="skipped", reason=skip)
                    continue
                if self.left() < self.reserve() + 10:
                    self._row(base, backend, ALL_SIZES, status="skipped", reason="--budget-s reached")
                    continue
                self._measure(net, module, extra, backend, base, parity_image, reference, ref_name)
            del module
            _free_gpu()

    def _reference(self, net: Net, module, feeds: dict):
        """What every backend is compared with: the shipped ONNX graph on ORT-CPU where there is
        one (the artefact users run), else the same net in PyTorch fp32 on the CPU."""
        import torch

        if net.onnx and net.onnx.is_file():
            import onnxruntime as ort

            session = ort.InferenceSession(str(net.onnx), providers=["CPUExecutionProvider"])
            return session.run(None, {"image": feeds["image"]})[0], f"{net.onnx.name} on ort-cpu"
        from livestyle.runtime.torch_engine import GRAPH_IO, GraphModule

        names, _, clamp = GRAPH_IO[(net.family, "forward")]
        with torch.inference_mode():
            graph = GraphModule(module, "forward", clamp, torch.float32)
            out = graph(*[torch.from_numpy(feeds[n]) for n in names])
        return out.numpy(), "torch-cpu fp32"

    def _runner(self, net: Net, module, extra: dict, backend: Backend):
        import copy

        import torch

        if backend.name.startswith("torch"):
            return TorchRunner(copy.deepcopy(module), net.family, backend, not self.args.no_cuda_graphs)
        # TensorRT takes the fp32 graph and picks half precision per layer itself (runtime/engine.py).
        half_graph = backend.precision == "fp16" and backend.name != "ort-tensorrt"
        path = net.onnx if not half_graph and net.onnx and net.onnx.is_file() else None
        if path is None:
            from livestyle.runtime.torch_engine import GRAPH_IO, GraphModule

            names, _, clamp = GRAPH_IO[(net.family, "forward")]
            dtype = torch.float16 if half_graph else torch.float32
            graph = GraphModule(copy.deepcopy(module), "forward", clamp, dtype).to(dtype=dtype).eval()
            if torch.cuda.is_available():   # half convolutions are a GPU thing; tracing them too
                graph = graph.cuda()
            path = self.tmp / f"{net.key}_{'fp16' if half_graph else 'fp32'}.onnx"
            if not path.is_file():
                example = {"image": synthetic_image(64, 64), **{k: extra[k] for k in names[1:]}}
                export_onnx(graph, example, path)
        return OrtRunner(path, backend, self.tmp, self.args.threads)

    def _measure(self, net: Net, module, extra: dict, backend: Backend, base: dict, parity_image, reference,
                 ref_name: str) -> None:
        import torch

        on_gpu = backend.on_gpu
        try:
            if on_gpu and torch.cuda.is_available():
                torch.cuda.reset_peak_memory_stats()
            runner = self._runner(net, module, extra, backend)
            got = runner.to_numpy(runner(runner.prepare({"image": parity_image, **extra})))
            diff = float(abs(got.astype("float64") - reference).max())
        except Exception as exc:  # noqa: BLE001 - one backend failing must not stop the others
            self._row(base, backend, ALL_SIZES, status="error", reason=_one_line(exc))
            _free_gpu()
            return
        tol = tolerance(backend.precision)
        parity = {"parity_max_abs_diff": round(diff, 4), "parity_tolerance": tol, "parity_ok": diff <= tol,
                  "parity_reference": ref_name}
        for label, (h, w) in self.args.sizes:
            if self.left() < self.reserve() + 5:
                self._row(base, backend, label, status="skipped", reason="--budget-s reached", **parity)
                continue
            try:
                runner.new_size()
                _free_gpu()
                if on_gpu and torch.cuda.is_available():
                    torch.cuda.reset_peak_memory_stats()
                inputs = runner.prepare({"image": synthetic_image(h, w, seed=2), **extra})
                a = self.args
                timing = time_runner(runner, inputs, on_gpu, a.repeats, a.warmup, a.row_s)
                torch_gpu = on_gpu and backend.name.startswith("torch")
                peak = torch.cuda.max_memory_allocated() / MiB if torch_gpu else None
                del inputs
                self._row(base, backend, label, status="ok", hw=[h, w], **timing, **parity,
                          peak_gpu_mib=None if peak is None else round(peak, 1))
            except Exception as exc:  # noqa: BLE001 - out of memory at 2160p, say: record, go on
                self._row(base, backend, label, status="error", reason=_one_line(exc), **parity)
                _free_gpu()
        runner.close()
        _free_gpu()

    def _row(self, base: dict, backend: Backend, size: str, **fields) -> None:
        row = {**base, "backend": backend.label, "precision": backend.precision, "size": size, **fields}
        if backend.name.startswith("ort") and "peak_gpu_mib" in row:
            row["peak_gpu_mib"] = None   # onnxruntime's arena is not visible to torch's counters
        self.report.add("model_only", row)
        if fields.get("status") == "ok":
            print(f"{row['net']:<13} {row['backend']:<18} {row['precision']} {size:>8}: "
                  f"p50 {row['ms_p50']:.2f} ms, {row['fps']:.1f} frames/s, "
                  f"parity {row['parity_max_abs_diff']}",
                  flush=True)

    # -- end to end ----------------------------------------------------------------------------
    def video_rows(self, caps: dict) -> None:
        a = self.args
        label, (h, w) = ("tiny", (72, 128)) if a.tiny else ("1080p", NAMED_SIZES["1080p"])
        frames = 6 if a.tiny else a.video_frames
        if self.left() < self.reserve("video") + 15:
            self.report.add("video", {"name": "livestyle video", "size": label, "status": "skipped",
                                      "reason": "--budget-s reached"})
            return
        clip = self.tmp / f"clip_{label}.mp4"
        try:
            write_clip(clip, h, w, frames)
        except Exception as exc:  # noqa: BLE001
            self.report.add("video", {"name": "livestyle video", "size": label, "status": "error",
                                      "reason": f"cannot write the test clip: {_one_line(exc)}"})
            return
        # auto means the GPU where there is one: a CLI failure to serve it is itself a result.
        device = a.device if a.device != "auto" else ("cuda" if caps["torch_cuda"] else "cpu")
        self._proxy_row(clip, label, device)
        if importlib.util.find_spec("av") is None:
            self.report.add("video", {"name": "livestyle video", "size": label, "status": "skipped",
                                      "reason": "PyAV (av) is not installed here; livestyle video needs it"})
            return
        codecs = ["libx264"]
        if device == "cuda" and _has_encoder("h264_nvenc"):
            codecs.insert(0, "h264_nvenc")
        runs = [(f"livestyle video {codec}, stability 0", codec, ["--stability", "0"]) for codec in codecs]
        runs.append(("livestyle video libx264, default stability (DIS flow)", "libx264", []))
        for name, codec, extra in runs:
            if self.left() < self.reserve("video") + 15:
                self.report.add("video", {"name": name, "size": label, "status": "skipped",
                                          "reason": "--budget-s reached"})
                continue
            self._cli_row(name, clip, label, device, codec, extra)

    def _cli_row(self, name: str, clip: Path, label: str, device: str, codec: str, extra: list[str]) -> None:
        a = self.args
        out = self.tmp / f"out_{len(self.report.doc['video'])}.mp4"
        cmd = [sys.executable, "-m", "livestyle", "video", str(clip), str(out), "--style", a.video_style,
               "--model", "full", "--device", device, "--codec", codec, "--no-progress"] + extra
        if device == "cuda":
            cmd.append("--fp16")
        row = {"name": name, "size": label, "command": " ".join(shlex.quote(c) for c in cmd[1:])}
        timeout = max(10.0, min(a.video_timeout_s, self.left() - self.reserve("video")))
        t = time.perf_counter()
        try:
            done = subprocess.run(cmd, cwd=REPO, env=_child_env(), capture_output=True, text=True,
                                  timeout=timeout)
        except subprocess.TimeoutExpired:
            self.report.add("video", {**row, "status": "error", "reason": f"timed out after {timeout:.0f} s"})
            return
        wall = time.perf_counter() - t
        m = re.search(r"(\d+) frames in ([\d.]+) s \(([\d.]+) frames/s\)", done.stdout)
        if done.returncode == 0 and m:
            self.report.add("video", {**row, "status": "ok", "frames": int(m.group(1)),
                                      "seconds": float(m.group(2)), "fps": float(m.group(3)),
                                      "wall_s_with_start": round(wall, 2)})
            return
        last = (done.stderr.strip().splitlines() or done.stdout.strip().splitlines() or ["no output"])[-1]
        # livestyle's own error exit: a capability it reports (say, no GPU backend), not a crash.
        status = "skipped" if done.returncode == CLI_ERROR_EXIT and "error:" in last else "error"
        self.report.add("video", {**row, "status": status, "reason": last[:300],
                                  "returncode": done.returncode})

    def _proxy_row(self, clip: Path, label: str, device: str) -> None:
        """Decode (OpenCV), upload once, full Johnson net, download, encode (OpenCV mp4v), one frame
        after another: not the livestyle pipeline, but a number that needs neither PyAV nor
        onnxruntime-gpu, which the device machine may lack."""
        import torch

        name = "proxy: cv2 decode + TorchEngine mosaic + cv2 encode (sequential)"
        if device == "cuda" and not torch.cuda.is_available():
            self.report.add("video", {"name": name, "size": label, "status": "skipped",
                                      "reason": "PyAV-free proxy runs on torch-cuda; PyTorch sees no GPU"})
            return
        try:
            import cv2

            from livestyle.paths import exported_dir
            from livestyle.runtime.torch_engine import TorchEngine

            graphs = device == "cuda" and not self.args.no_cuda_graphs
            engine = TorchEngine.from_checkpoint(exported_dir() / f"{self.args.video_style}.pt", device=device,
                                                 cuda_graphs=graphs)
            frames, seconds = _proxy_loop(clip, self.tmp / "proxy.mp4", engine, cv2, torch)
        except Exception as exc:  # noqa: BLE001
            self.report.add("video", {"name": name, "size": label, "status": "error",
                                      "reason": _one_line(exc)})
            return
        self.report.add("video", {"name": name + f" [{engine.backend} {engine.precision}]", "size": label,
                                  "status": "ok", "frames": frames, "seconds": round(seconds, 3),
                                  "fps": round(frames / seconds, 2)})
        _free_gpu()

    # -- training and packing --------------------------------------------------------------
    def train_rows(self) -> list[Path]:
        folders = []
        for cmd in self.args.train:
            out_dir = output_dir_of(cmd)
            timeout = min(self.args.train_timeout_s, self.left() - 35)
            row = {"command": cmd, "output_dir": str(out_dir) if out_dir else None,
                   "timeout_s": round(timeout)}
            if timeout < 10:
                self.report.add("training", {**row, "returncode": None, "reason": "--budget-s reached"})
                continue
            log = self.tmp / f"train_{len(self.report.doc['training'])}.log"
            t = time.perf_counter()
            rc = run_with_timeout(cmd, log, timeout)
            tail = log.read_text(errors="replace").replace("\r", "\n").strip().splitlines()[-25:]
            self.report.add("training", {**row, "returncode": rc, "log_tail": tail,
                                         "seconds": round(time.perf_counter() - t, 1)})
            if out_dir is not None:
                folders.append(out_dir)
        return folders

    def pack(self, folders: list[Path]) -> None:
        folders = [f for f in folders + [Path(p) for p in self.args.pack] if f.is_dir()]
        if not folders:
            if self.args.train or self.args.pack:
                self.report.note("nothing to pack: no output folder of the training commands exists")
            return
        try:
            self.report.doc["pack"] = pack_folders(folders, self.args.out)
        except PackError as exc:
            self.report.doc["pack"] = {"error": str(exc)}
        self.report.write()


def _proxy_loop(clip: Path, out: Path, engine, cv2, torch) -> tuple[int, float]:
    cap = cv2.VideoCapture(str(clip))
    fps = cap.get(cv2.CAP_PROP_FPS) or 30.0
    writer = None
    frames, warm = 0, 2
    t0 = None
    while True:
        ok, bgr = cap.read()
        if not ok:
            break
        if frames == warm:   # CUDA graph capture and cuDNN autotuning happen on the first frames
            _sync(engine.on_gpu)
            t0 = time.perf_counter()
        x = torch.from_numpy(bgr).to(engine.device).permute(2, 0, 1).flip(0)[None]   # uint8 upload
        y = engine.run_tensors([x])[0][0].round().to(torch.uint8).flip(0).permute(1, 2, 0)
        y = y.contiguous().cpu().numpy()
        if writer is None:
            writer = cv2.VideoWriter(str(out), cv2.VideoWriter_fourcc(*"mp4v"), fps, (y.shape[1], y.shape[0]))
        writer.write(y)
        frames += 1
    cap.release()
    if writer is not None:
        writer.release()
    if t0 is None:
        raise RuntimeError(f"the clip gave only {frames} frames; need more than {warm}")
    return frames - warm, time.perf_counter() - t0


def write_clip(path: Path, h: int, w: int, frames: int) -> None:
    """A synthetic clip with motion (a pattern panning under a moving block), mp4v via OpenCV."""
    import cv2
    import numpy as np

    base = (synthetic_image(h, w * 2, seed=3)[0].transpose(1, 2, 0)[:, :, ::-1]).astype(np.uint8)
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 30.0, (w, h))
    if not writer.isOpened():
        raise RuntimeError("OpenCV cannot write mp4v here")
    for i in range(frames):
        shift = (i * 4) % w
        frame = np.ascontiguousarray(base[:, shift:shift + w])
        cv2.rectangle(frame, (i * 6 % w, h // 3), (i * 6 % w + w // 8, h // 3 + h // 6), (40, 200, 90), -1)
        writer.write(frame)
    writer.release()
    if not path.is_file() or path.stat().st_size == 0:
        raise RuntimeError("OpenCV wrote no clip")


def _has_encoder(name: str) -> bool:
    try:
        import av

        return name in av.codecs_available
    except ImportError:
        return False


def output_dir_of(cmd: str) -> Path | None:
    """The ``-o``/``--output`` folder of a training command, relative to the repository root."""
    try:
        words = shlex.split(cmd)
    except ValueError:
        return None
    for i, word in enumerate(words):
        if word in ("-o", "--output") and i + 1 < len(words):
            value = words[i + 1]
        elif word.startswith("--output="):
            value = word.split("=", 1)[1]
        else:
            continue
        path = Path(value)
        return path if path.is_absolute() else REPO / path
    return None


TIMED_OUT = 124


def run_with_timeout(cmd: str, log: Path, timeout: float) -> int:
    """Run a shell command in its own process group; past the timeout, Ctrl-C first so a trainer
    can save its checkpoint, then kill. Returns the exit code, or 124 (as timeout(1) does) for a
    command stopped at the timeout: the stopped child's own status is not trusted, since Python
    reports 0 for a child that something else in the process (a library's reaper) collected first."""
    with open(log, "wb") as f:
        proc = subprocess.Popen(["bash", "-c", cmd], cwd=REPO, env=_child_env(), stdout=f,
                                stderr=subprocess.STDOUT, start_new_session=True)
        try:
            return proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGINT)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
            return TIMED_OUT


def _child_env() -> dict:
    """The repository on the path: on the device machine livestyle is a copied tree, not installed."""
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    return env


def _run_quiet(cmd: list[str]) -> str | None:
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=15)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return done.stdout.strip() or None if done.returncode == 0 else None


def _free_gpu() -> None:
    import gc

    import torch

    gc.collect()
    if torch.cuda.is_available():
        torch.cuda.empty_cache()


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0][:240] if text else ''}"


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--out", type=Path, required=True, help="folder for device_check.json/.md and packs")
    p.add_argument("--sizes", default=None, help=f"frame sizes, comma-separated (default {DEFAULT_SIZES}; "
                                                 f"--tiny: {TINY_SIZES})")
    p.add_argument("--repeats", type=int, default=None, help="timed calls per row (default 50; --tiny: 2)")
    p.add_argument("--warmup", type=int, default=None, help="untimed calls first (default 5; --tiny: 1)")
    p.add_argument("--row-s", type=float, default=8.0,
                   help="at most this long timing one row (fewer repeats)")
    p.add_argument("--device", choices=("auto", "cuda", "cpu"), default="auto",
                   help="auto: GPU backends where there is a GPU, CPU backends otherwise")
    p.add_argument("--budget-s", type=float, default=480.0,
                   help="start no new measurement past this many seconds (keeps time for video/training)")
    p.add_argument("--tiny", action="store_true", help="tiny sizes and 2 repeats: the CPU self-test")
    p.add_argument("--threads", type=int,
                   help="CPU threads for torch and onnxruntime (default: theirs; --tiny: 1)")
    p.add_argument("--nets", default=",".join(NET_KEYS), help="nets to measure")
    p.add_argument("--shared-dir", type=Path, help="folder with the VGG-16 weights (default: livestyle's)")
    p.add_argument("--vgg-random", action="store_true",
                   help="without the VGG-16 weights, time the VGG AdaIN net with random ones (speed only)")
    p.add_argument("--compile", action="store_true", help="add torch.compile fp16 rows (slow to start)")
    p.add_argument("--no-cuda-graphs", action="store_true", help="torch rows without CUDA graphs")
    p.add_argument("--no-video", action="store_true", help="skip the end-to-end video rows")
    p.add_argument("--video-frames", type=int, default=240, help="frames in the 1080p test clip")
    p.add_argument("--video-style", default="mosaic", help="style for the end-to-end rows")
    p.add_argument("--video-timeout-s", type=float, default=120.0, help="limit per video run")
    p.add_argument("--video-reserve-s", type=float, default=150.0, help="seconds kept for the video rows")
    p.add_argument("--train", action="append", default=[], metavar="CMD",
                   help="a training command to run after measuring (repeatable); its -o folder is packed")
    p.add_argument("--train-timeout-s", type=float, default=240.0, help="limit per training command")
    p.add_argument("--pack", action="append", default=[], metavar="DIR", help="another folder to pack")
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    args.sizes = parse_sizes(args.sizes or (TINY_SIZES if args.tiny else DEFAULT_SIZES))
    args.repeats = args.repeats or (2 if args.tiny else 50)
    args.warmup = args.warmup if args.warmup is not None else (1 if args.tiny else 5)
    args.threads = args.threads or (1 if args.tiny else None)
    if args.threads:
        # On a busy CPU, threads that spin waiting for work stall each other by orders of
        # magnitude (a 4 ms net took 800 ms with 2 threads beside a training job).
        import torch

        torch.set_num_threads(args.threads)
        os.environ["OMP_NUM_THREADS"] = str(args.threads)   # the CLI runs inherit it
    check = Check(args)
    caps = capabilities()
    check.environment(caps)
    from livestyle.paths import shared_dir

    shared = shared_dir(args.shared_dir)
    nets, notes = shipped_nets(shared, args.vgg_random)
    for n in notes:
        check.report.note(n)
    wanted = set(filter(None, args.nets.split(",")))
    unknown = wanted - set(NET_KEYS)
    if unknown:
        print(f"device_check: unknown net(s) {sorted(unknown)}", file=sys.stderr)
        return 2
    check.model_rows([n for n in nets if n.key in wanted], plan_backends(args.device, caps, args.compile))
    if not args.no_video:
        check.video_rows(caps)
    check.pack(check.train_rows())
    check.report.write()
    shutil.rmtree(check.tmp, ignore_errors=True)
    doc = check.report.doc
    errors = [r for section in ("model_only", "video") for r in doc[section] if r["status"] == "error"]
    bad_parity = [r for r in doc["model_only"] if r.get("parity_ok") is False]
    print(f"wrote {args.out / 'device_check.json'} and device_check.md in {doc['elapsed_s']} s: "
          f"{sum(r['status'] == 'ok' for r in doc['model_only'])} model rows measured, {len(errors)} errors, "
          f"{len(bad_parity)} rows past the parity tolerance", flush=True)
    return 1 if errors or bad_parity else 0


if __name__ == "__main__":
    sys.exit(main())
