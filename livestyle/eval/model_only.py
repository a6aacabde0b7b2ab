"""Model-only speed of livestyle's nets on every inference backend this machine has, beside how far
each backend's output is from a reference graph.

Model only: batch 1, the input already in device memory and the output left there, so a row is
the net's own cost on that backend. The sessions are the product's: ONNX graphs run in
:class:`~livestyle.runtime.engine.Engine` with the provider list of
:func:`~livestyle.runtime.engine.providers_for`, PyTorch in
:class:`~livestyle.runtime.torch_engine.TorchEngine`; a graph with no shipped file is exported by
:mod:`livestyle.export.onnx`, and every time comes from :func:`~livestyle.eval.bench.time_calls`.
``tools/gpu/device_check.py`` writes the rows; on a machine without a GPU the GPU backends are
rows marked skipped, with the reason.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator

import numpy as np

from ..errors import DeviceError
from .bench import time_calls, torch_sync

MiB = 1 << 20
NET_KEYS = ("johnson_full", "johnson_fast", "adain_light", "vgg_adain")
ALL_SIZES = "all"   # the size of a row that stands for every size (skips, start-up errors)
EXPORT_HW = (64, 64)   # the example frame graphs are traced with (their H and W stay dynamic)


def one_line(exc: BaseException) -> str:
    """An exception as a row's reason: its type and the first line of its message."""
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0][:240] if text else ''}"


def free_gpu() -> None:
    """Drop what the last row left in GPU memory, so the next row's peak is its own."""
    import gc

    import torch

    gc.collect()
    if torch.cuda.is_available():
        torch.cuda.empty_cache()


def synthetic_image(h: int, w: int, seed: int = 0) -> np.ndarray:
    """Photo-like [1,3,H,W] float32 0..255: smooth gradients, hard edges, some noise."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    chans = [128 + 100 * np.sin(xx / (7 + 5 * c) + yy / (11 + 3 * c) + c) for c in range(3)]
    img = np.stack(chans) + rng.normal(0, 8, (3, h, w))
    img[:, h // 4: h // 2, w // 3: w // 2] = rng.integers(0, 255, (3, 1, 1))
    return np.clip(img, 0, 255).astype(np.float32)[None]


# ---------------------------------------------------------------------------------------------
# Nets.

@dataclass
class Net:
    key: str
    kind: str                                  # 'fixed' or 'arbitrary' (torch_engine.GRAPH_IO)
    build: Callable[[], tuple]                 # -> (nn.Module fp32 CPU, extra feeds {name: ndarray})
    onnx: Path | None = None                   # shipped graph: ORT rows and the parity reference
    note: str = ""


def _style_image(shared: Path | None, size: int = 256) -> np.ndarray:
    """Style painting [1,3,H,W] float 0..255: the shared mosaic painting, else a synthetic one."""
    painting = shared / "styles" / "mosaic.jpg" if shared else None
    if painting and painting.is_file():
        import cv2

        bgr = cv2.imread(str(painting))
        f = size / max(bgr.shape[:2])
        rgb = cv2.resize(bgr, None, fx=f, fy=f, interpolation=cv2.INTER_AREA)[:, :, ::-1]
        return np.ascontiguousarray(rgb.transpose(2, 0, 1)[None], dtype=np.float32)
    return synthetic_image(size, size, seed=7)


def _arbitrary_feeds(style_stats, shared: Path | None) -> dict:
    """The style inputs of an arbitrary-style graph: the painting's statistics, computed once."""
    import torch

    with torch.inference_mode():
        mean, std = style_stats(torch.from_numpy(_style_image(shared)))
    return {"style_mean": mean.numpy(), "style_std": std.numpy(), "alpha": np.ones(1, np.float32)}


def shipped_nets(shared: Path | None, vgg_random: bool = False) -> tuple[list[Net], list[str]]:
    """The net classes livestyle ships (or is about to), plus notes on stand-ins and skips.

    ``vgg_random`` times the VGG AdaIN net with random encoder weights when the shared VGG-16 is
    absent: its speed does not depend on the weights (its fp16 range does, so parity is moot then).
    """
    from ..paths import VGG16_WEIGHTS, exported_dir

    exported, notes = exported_dir(), []

    def johnson(stem: str):
        def build():
            from ..checkpoints import build_model, load_checkpoint

            return build_model(load_checkpoint(exported / f"{stem}.pt", "johnson")), {}
        return build

    light_ckpt = exported / "adain_light.pt"

    def light():
        from ..checkpoints import build_model, load_checkpoint
        from ..models.adain_light import AdaINLightNet

        trained = light_ckpt.is_file()
        net = build_model(load_checkpoint(light_ckpt, "adain_light")) if trained else AdaINLightNet()
        net = net.float().eval()
        return net, _arbitrary_feeds(net.style_stats, shared)

    vgg = shared / VGG16_WEIGHTS if shared else None
    have_vgg = bool(vgg and vgg.is_file())

    def vgg_adain():
        from ..checkpoints import build_model, load_checkpoint, load_torch_file
        from ..models.adain import AdaINContentNet, AdaINStyleEncoder, make_encoder

        encoder = make_encoder()
        if have_vgg:
            encoder.load_shared_state_dict(load_torch_file(vgg, "VGG-16 weights"))
        decoder = build_model(load_checkpoint(exported / "adain_decoder.pt", "adain_decoder"))
        net = AdaINContentNet(encoder, decoder).float().eval()
        return net, _arbitrary_feeds(AdaINStyleEncoder(net.encoder).eval(), shared)

    nets = [Net("johnson_full", "fixed", johnson("mosaic"), exported / "mosaic.onnx", "mosaic"),
            Net("johnson_fast", "fixed", johnson("mosaic_fast"), exported / "mosaic_fast.onnx",
                "mosaic_fast")]
    light_note = "exported/adain_light.pt" if light_ckpt.is_file() else \
        "exported/adain_light.pt not shipped yet: default AdaINLightNet with random weights (speed only)"
    if not light_ckpt.is_file():
        notes.append(f"adain_light: {light_note}")
    nets.append(Net("adain_light", "arbitrary", light, None, light_note))
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
# Backends: what can run here, and a runner for each over inputs already in device memory.

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
        return self.name not in ("torch-cpu", "ort-cpu")


@dataclass(frozen=True)
class Capabilities:
    """What this machine can run inference on, detected by runtime/backends.py's rules."""

    torch_cuda: bool                 # PyTorch sees a CUDA GPU
    ort_providers: tuple[str, ...]   # every provider this onnxruntime build lists
    ort_gpu: frozenset[str]          # its GPU providers that a driver makes real
    driver: bool                     # a CUDA driver answers


def capabilities() -> Capabilities:
    from ..devices import gpu_driver_present
    from ..runtime.backends import torch_cuda_available
    from ..runtime.engine import available_providers, usable_gpu_providers

    try:
        listed = tuple(available_providers())
    except ImportError:
        listed = ()
    return Capabilities(torch_cuda_available(), listed, frozenset(usable_gpu_providers(listed)),
                        gpu_driver_present())


def plan_backends(device: str, caps: Capabilities, compile: bool) -> list[tuple[Backend, str | None]]:
    """Every backend row with None (to measure) or the reason it is skipped here."""
    gpu = device in ("auto", "cuda")
    cpu = device == "cpu" or (device == "auto" and not caps.torch_cuda)
    no_torch = None if caps.torch_cuda else "PyTorch here has no usable CUDA GPU"
    torch_skip = None if gpu and not no_torch else (no_torch or f"--device {device}")
    plan: list[tuple[Backend, str | None]] = [(Backend("torch-cuda", p), torch_skip) for p in ("fp32", "fp16")]
    if compile:
        plan.append((Backend("torch-cuda", "fp16", compile=True), torch_skip))
    ort_gpu = "CUDAExecutionProvider" in caps.ort_gpu
    why_ort = None if ort_gpu else \
        f"onnxruntime here offers {', '.join(caps.ort_providers) or 'nothing'} (no usable CUDA provider)"
    plan += [(Backend("ort-cuda", p), None if gpu and ort_gpu else (why_ort or f"--device {device}"))
             for p in ("fp32", "fp16")]
    # The TensorRT provider runs only beside the CUDA one.
    trt = ort_gpu and "TensorrtExecutionProvider" in caps.ort_gpu
    plan.append((Backend("ort-tensorrt", "fp16"), None if gpu and trt else
                 (f"--device {device}" if not gpu else "onnxruntime here has no TensorRT provider")))
    why_cpu = None if cpu else \
        ("--device cuda" if device == "cuda" else "a GPU is used here; CPU rows come with --device cpu")
    plan += [(Backend("torch-cpu", "fp32"), why_cpu), (Backend("ort-cpu", "fp32"), why_cpu)]
    return plan


class TorchRunner:
    def __init__(self, net, kind: str, backend: Backend, cuda_graphs: bool):
        from ..runtime.torch_engine import GRAPH_IO, TorchEngine

        names, outputs, clamp = GRAPH_IO[(kind, "forward")]
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


# The fastest kernels cuDNN has: a measurement can afford the search that the product's start-up
# time rules out.
MEASURE_CONV_SEARCH = "EXHAUSTIVE"


class OrtRunner:
    """An onnxruntime session with IO binding: inputs uploaded once, outputs left on the device."""

    def __init__(self, onnx_path: Path, backend: Backend, tmp: Path, threads: int | None):
        from ..runtime.engine import Engine, providers_for

        providers = providers_for(backend.name, trt_fp16=backend.precision == "fp16", trt_cache=tmp / "trt",
                                  conv_search=MEASURE_CONV_SEARCH)
        engine = Engine(onnx_path, threads=threads, providers=providers)
        if engine.backend != backend.name:
            raise DeviceError(f"onnxruntime fell back to {engine.providers[0]}")
        self.session = engine.session
        self.device = "cpu" if backend.name == "ort-cpu" else "cuda"
        self.names = engine.input_names

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


def export_net(net: Net, module, extra: dict, fp16: bool, path: Path) -> None:
    """The net's whole graph to ONNX as livestyle exports graphs (for nets without a shipped one,
    and half-precision graphs); ``module`` is left as it was."""
    import torch

    from ..export.onnx import StylizeGraph, export_graph, graph_spec
    from ..runtime.torch_engine import GRAPH_IO

    names, outputs, clamp = GRAPH_IO[(net.kind, "forward")]
    graph = StylizeGraph(copy.deepcopy(module).float(), fp16, clamp=clamp).eval()
    if torch.cuda.is_available():   # half convolutions are a GPU thing; tracing them too
        graph = graph.cuda()
    feeds = {"image": synthetic_image(*EXPORT_HW), **{k: extra[k] for k in names[1:]}}
    export_graph(graph_spec(graph, feeds, outputs), path)


def make_runner(net: Net, module, extra: dict, backend: Backend, tmp: Path, threads: int | None,
                cuda_graphs: bool):
    if backend.name.startswith("torch"):
        return TorchRunner(copy.deepcopy(module), net.kind, backend, cuda_graphs)
    # TensorRT takes the fp32 graph and picks half precision per layer itself (runtime/engine.py).
    half_graph = backend.precision == "fp16" and backend.name != "ort-tensorrt"
    path = net.onnx if not half_graph and net.onnx and net.onnx.is_file() else None
    if path is None:
        path = tmp / f"{net.key}_{'fp16' if half_graph else 'fp32'}.onnx"
        if not path.is_file():
            export_net(net, module, extra, half_graph, path)
    return OrtRunner(path, backend, tmp, threads)


def reference_output(net: Net, module, feeds: dict) -> tuple[np.ndarray, str]:
    """What every backend is compared with: the shipped ONNX graph on ORT-CPU where there is one
    (the artefact users run), else the same net in PyTorch fp32 on the CPU."""
    if net.onnx and net.onnx.is_file():
        from ..runtime.engine import Engine

        return Engine(net.onnx, device="cpu").run({"image": feeds["image"]})[0], f"{net.onnx.name} on ort-cpu"
    import torch

    from ..export.onnx import StylizeGraph
    from ..runtime.torch_engine import GRAPH_IO

    names, _, clamp = GRAPH_IO[(net.kind, "forward")]
    with torch.inference_mode():
        out = StylizeGraph(module, clamp=clamp).eval()(*[torch.from_numpy(feeds[n]) for n in names])
    return out.numpy(), "torch-cpu fp32"


def tolerance(precision: str) -> float:
    from ..export.onnx import FP16_TOLERANCE, FP32_TOLERANCE

    return FP16_TOLERANCE if precision == "fp16" else FP32_TOLERANCE


# ---------------------------------------------------------------------------------------------
# Measuring.

@dataclass(frozen=True)
class Settings:
    """How the rows are measured."""

    sizes: list[tuple[str, tuple[int, int]]]   # (label, (H, W))
    parity_hw: tuple[int, int]
    repeats: int
    warmup: int
    row_s: float                 # at most this long timing one row: fewer repeats instead
    tmp: Path                    # exported graphs and TensorRT engines
    threads: int | None = None
    cuda_graphs: bool = True


def time_runner(runner, inputs, on_gpu: bool, repeats: int, warmup: int, row_s: float) -> dict:
    """p50/p95 of synchronised single calls, and frames/s of as many back-to-back calls on a GPU
    (which queues them) or of the same calls on a CPU."""
    sync = torch_sync() if on_gpu else None
    passes = 2 if on_gpu else 1
    latency = time_calls(lambda: runner(inputs), warmup=max(1, warmup), repeats=repeats,
                         seconds=row_s / passes, sync=sync)
    fps = latency.fps
    if on_gpu:
        fps = time_calls(lambda: runner(inputs), warmup=0, repeats=latency.calls, sync=sync, sync_each=False).fps
    return {"repeats": latency.calls, "ms_p50": round(latency.median_ms, 3),
            "ms_p95": round(latency.p95_ms, 3), "fps": round(fps, 2)}


def _row(net: Net, backend: Backend, size: str, **fields) -> dict:
    row = {"net": net.key, "net_source": net.note, "backend": backend.label, "precision": backend.precision,
           "size": size, **fields}
    if backend.name.startswith("ort") and "peak_gpu_mib" in row:
        row["peak_gpu_mib"] = None   # onnxruntime's arena is not visible to torch's counters
    return row


def model_rows(nets: list[Net], plan: list[tuple[Backend, str | None]], settings: Settings,
               seconds_left: Callable[[], float]) -> Iterator[dict]:
    """One row per net, backend and size, each as soon as it is measured. ``seconds_left`` is
    the time still free for these rows: past it, the rest are rows skipped for the budget. A
    net or backend that fails is an error row; the others still run."""
    parity_image = synthetic_image(*settings.parity_hw, seed=1)
    for net in nets:
        try:
            module, extra = net.build()
            reference, ref_name = reference_output(net, module, {"image": parity_image, **extra})
        except Exception as exc:  # noqa: BLE001 - a broken net is a row, the others still run
            for backend, skip in plan:
                yield _row(net, backend, ALL_SIZES, status="skipped" if skip else "error",
                           reason=skip or one_line(exc))
            continue
        for backend, skip in plan:
            if skip:   # one row for all sizes keeps the table readable
                yield _row(net, backend, ALL_SIZES, status="skipped", reason=skip)
            elif seconds_left() < 10:
                yield _row(net, backend, ALL_SIZES, status="skipped", reason="--budget-s reached")
            else:
                yield from _backend_rows(net, module, extra, backend, parity_image, reference, ref_name,
                                         settings, seconds_left)
        del module
        free_gpu()


def _backend_rows(net: Net, module, extra: dict, backend: Backend, parity_image, reference, ref_name: str,
                  settings: Settings, seconds_left: Callable[[], float]) -> Iterator[dict]:
    import torch

    torch_gpu = backend.on_gpu and backend.name.startswith("torch") and torch.cuda.is_available()
    try:
        if torch_gpu:
            torch.cuda.reset_peak_memory_stats()
        runner = make_runner(net, module, extra, backend, settings.tmp, settings.threads, settings.cuda_graphs)
        got = runner.to_numpy(runner(runner.prepare({"image": parity_image, **extra})))
        diff = float(abs(got.astype("float64") - reference).max())
    except Exception as exc:  # noqa: BLE001 - one backend failing must not stop the others
        yield _row(net, backend, ALL_SIZES, status="error", reason=one_line(exc))
        free_gpu()
        return
    tol = tolerance(backend.precision)
    parity = {"parity_max_abs_diff": round(diff, 4), "parity_tolerance": tol, "parity_ok": diff <= tol,
              "parity_reference": ref_name}
    for label, (h, w) in settings.sizes:
        if seconds_left() < 5:
            yield _row(net, backend, label, status="skipped", reason="--budget-s reached", **parity)
            continue
        try:
            runner.new_size()
            free_gpu()
            if torch_gpu:
                torch.cuda.reset_peak_memory_stats()
            inputs = runner.prepare({"image": synthetic_image(h, w, seed=2), **extra})
            timing = time_runner(runner, inputs, backend.on_gpu, settings.repeats, settings.warmup, settings.row_s)
            peak = torch.cuda.max_memory_allocated() / MiB if torch_gpu else None
            del inputs
            row = _row(net, backend, label, status="ok", hw=[h, w], **timing, **parity,
                       peak_gpu_mib=None if peak is None else round(peak, 1))
        except Exception as exc:  # noqa: BLE001 - out of memory at 2160p, say: record, go on
            row = _row(net, backend, label, status="error", reason=one_line(exc), **parity)
            free_gpu()
        yield row
    runner.close()
    free_gpu()
