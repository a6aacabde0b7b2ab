"""The engine contract every stylizer runs graphs through, and its onnxruntime implementation.

:class:`GraphEngine` is the interface (pyvirtualcam's ``Backend`` is the model: a small abstract
class the rest codes against); :class:`Engine` runs an exported ONNX graph in onnxruntime and
``torch_engine.TorchEngine`` runs the same net in PyTorch. Execution providers are chosen here by
what this onnxruntime build and machine can do, never by editing flags: TensorRT (with an on-disk
engine cache) > CUDA > CPU for ``device='auto'``. :func:`providers_for` makes the list for one named
backend, so measurements that pin a backend run the sessions the product runs.
"""

from __future__ import annotations

import logging
from abc import ABC, abstractmethod
from pathlib import Path

import numpy as np

from ..errors import DeviceError, ModelError
from ..devices import gpu_driver_present
from ..paths import cache_dir

log = logging.getLogger(__name__)

GPU_INSTALL_HINT = "install the GPU build: pip install 'livestyle[gpu]' (onnxruntime-gpu with CUDA 12/13 and cuDNN)"


def available_providers() -> list[str]:
    import onnxruntime as ort

    return list(ort.get_available_providers())


# The backend name (runtime/backends.py) of a session whose first provider is this one.
PROVIDER_BACKENDS = {"TensorrtExecutionProvider": "ort-tensorrt", "CUDAExecutionProvider": "ort-cuda",
                     "CPUExecutionProvider": "ort-cpu"}
GPU_PROVIDERS = ("TensorrtExecutionProvider", "CUDAExecutionProvider")


def providers_for(backend: str, trt_fp16: bool = True, trt_cache: Path | None = None,
                  conv_search: str = "HEURISTIC") -> list:
    """The provider list that runs a session on ``backend`` ('ort-tensorrt', 'ort-cuda' or
    'ort-cpu'), each provider falling back to the next for what it cannot run.

    ``trt_fp16`` lets TensorRT pick half precision per layer; ``trt_cache`` is where it keeps the
    engines it builds (default: livestyle's cache, so a second start skips the build);
    ``conv_search`` is cuDNN's convolution algorithm search: HEURISTIC starts at once, EXHAUSTIVE
    times every algorithm on the first run at each size for the fastest kernels.
    """
    if backend not in PROVIDER_BACKENDS.values():
        raise DeviceError(f"unknown onnxruntime backend '{backend}'; use {', '.join(PROVIDER_BACKENDS.values())}")
    providers: list = []
    if backend == "ort-tensorrt":
        trt_cache = trt_cache or cache_dir() / "tensorrt"
        trt_cache.mkdir(parents=True, exist_ok=True)
        providers.append(("TensorrtExecutionProvider", {
            "trt_engine_cache_enable": True, "trt_engine_cache_path": str(trt_cache),
            "trt_fp16_enable": trt_fp16}))
    if backend != "ort-cpu":
        providers.append(("CUDAExecutionProvider", {"cudnn_conv_algo_search": conv_search}))
    return providers + ["CPUExecutionProvider"]


def usable_gpu_providers(listed, have_driver: bool | None = None) -> set[str]:
    """The GPU providers among ``listed`` that can run here: none where no driver answers
    (``have_driver``: detected when None), since onnxruntime-gpu lists them on machines without a GPU."""
    gpu = set(listed) & set(GPU_PROVIDERS)
    if gpu and not (gpu_driver_present() if have_driver is None else have_driver):
        return set()
    return gpu


def choose_providers(device: str = "auto") -> list:
    """Provider list for a session; raises DeviceError when 'cuda' is asked but cannot run."""
    if device not in ("auto", "cpu", "cuda"):
        raise DeviceError(f"unknown device '{device}'; use auto, cpu or cuda")
    have = available_providers()
    usable = usable_gpu_providers(have)
    if device == "cuda" and "CUDAExecutionProvider" not in usable:
        raise DeviceError(f"--device cuda asked for, but onnxruntime here offers {', '.join(have)}; "
                          f"{GPU_INSTALL_HINT}, or use --device cpu")
    if device == "cpu" or "CUDAExecutionProvider" not in usable:
        return providers_for("ort-cpu")
    # The TensorRT provider runs only beside the CUDA one.
    return providers_for("ort-tensorrt" if "TensorrtExecutionProvider" in usable else "ort-cuda")


class GraphEngine(ABC):
    """One graph of an exported net, run on numpy arrays.

    Attributes every engine sets: ``input_names`` and ``output_names`` (the graph's, in order),
    ``on_gpu`` (frames cross to a device), ``providers`` (what runs it, most preferred first).
    The convention is the exported graphs' (export/onnx.py): float32 NCHW, RGB 0..255 images.
    """

    input_names: list[str]
    output_names: list[str]
    on_gpu: bool
    providers: list[str]

    @property
    @abstractmethod
    def backend(self) -> str:
        """Short name of what runs the graph: ort-cpu, ort-cuda, ort-tensorrt, torch-cpu, torch-cuda."""

    @abstractmethod
    def run(self, feeds: dict[str, np.ndarray]) -> list[np.ndarray]:
        """The graph's outputs, in ``output_names`` order, for inputs named as in ``input_names``."""


class Engine(GraphEngine):
    """An onnxruntime session plus a ``run`` that keeps frames on the GPU when there is one."""

    def __init__(self, onnx_path: Path, device: str = "auto", threads: int | None = None,
                 share_cpu: bool = False, providers: list | None = None):
        """``providers`` (a :func:`providers_for` list) overrides the choice by ``device``."""
        import onnxruntime as ort

        self.path = Path(onnx_path)
        if not self.path.is_file():
            raise ModelError(f"ONNX model not found: {self.path}")
        options = ort.SessionOptions()
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        if threads:
            options.intra_op_num_threads = threads
        if share_cpu:
            # Idle ORT threads spin for work by default, which starves threads running beside
            # inference (optical flow, video decode/encode); docs/performance.md has the figures.
            options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        options.log_severity_level = 3
        try:
            self.session = ort.InferenceSession(str(self.path), options,
                                                providers=providers or choose_providers(device))
        except DeviceError:
            raise
        except Exception as exc:  # onnxruntime raises its own exception types for bad graphs
            raise ModelError(f"cannot load ONNX model {self.path}: {str(exc).splitlines()[0][:200]}; "
                             f"re-export it with tools/export.py") from exc
        self.providers = self.session.get_providers()
        self.on_gpu = self.backend != "ort-cpu"
        self.input_names = [i.name for i in self.session.get_inputs()]
        self.output_names = [o.name for o in self.session.get_outputs()]

    @property
    def backend(self) -> str:
        return PROVIDER_BACKENDS.get(self.providers[0], "ort-cpu")

    def run(self, feeds: dict[str, np.ndarray]) -> list[np.ndarray]:
        if not self.on_gpu:
            return self.session.run(self.output_names, feeds)
        # IO binding: one upload per input, outputs stay on the GPU until the single copy back.
        binding = self.session.io_binding()
        for name, value in feeds.items():
            binding.bind_cpu_input(name, np.ascontiguousarray(value))
        for name in self.output_names:
            binding.bind_output(name, "cuda")
        self.session.run_with_iobinding(binding)
        return binding.copy_outputs_to_cpu()
