"""Which inference backend serves a device request, decided by what this machine can do.

Order, fastest first: onnxruntime TensorRT > onnxruntime CUDA > PyTorch CUDA > onnxruntime CPU.
PyTorch CUDA sits between the two because it is the common case for people who train (a CUDA
build of PyTorch, the CPU build of onnxruntime) and is still a GPU. Capabilities can be injected,
so the choice is plain logic that tests run on any machine.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Callable

from ..devices import gpu_driver_present  # noqa: F401  (re-exported: tools read it here)
from ..errors import DeviceError
from ..extras import have, need
from .engine import GPU_PROVIDERS, usable_gpu_providers

log = logging.getLogger(__name__)

BACKENDS = ("ort-tensorrt", "ort-cuda", "torch-cuda", "ort-cpu")
ORT_GPU_HINT = "pip install 'livestyle[gpu]' (onnxruntime-gpu)"
INSTALL_HINT = f"{ORT_GPU_HINT} or a CUDA build of PyTorch"


def onnx_gpu_providers() -> set[str]:
    """The GPU execution providers this onnxruntime build offers (a build may list them without a GPU)."""
    try:
        import onnxruntime as ort
    except ImportError:
        return set()
    return set(ort.get_available_providers()) & set(GPU_PROVIDERS)


def torch_cuda_available() -> bool:
    """Whether PyTorch here can use a CUDA GPU. Without a driver it cannot, and asking it would
    import PyTorch (seconds of start-up) into every command on a machine without a GPU."""
    if not have("torch") or not gpu_driver_present():
        return False
    try:
        import torch
    except (ImportError, OSError):
        return False
    return bool(torch.cuda.is_available())


def choose_backend(device: str = "auto", have_onnx_gpu: bool | None = None,
                   have_torch_cuda: bool | None = None, have_tensorrt: bool | None = None,
                   have_driver: bool | None = None) -> str:
    """One of :data:`BACKENDS` for ``device`` ('auto', 'cuda' or 'cpu').

    A capability left as None is detected here; one given means usable here (GPU and driver
    included). Raises DeviceError, one line naming what to install, when 'cuda' is asked and
    nothing here can run on a GPU.
    """
    if device not in ("auto", "cpu", "cuda"):
        raise DeviceError(f"unknown device '{device}'; use auto, cpu or cuda")
    if device == "cpu":
        return "ort-cpu"
    if have_onnx_gpu is None or have_tensorrt is None:
        providers = usable_gpu_providers(onnx_gpu_providers(), have_driver)
        have_onnx_gpu = "CUDAExecutionProvider" in providers if have_onnx_gpu is None else have_onnx_gpu
        have_tensorrt = "TensorrtExecutionProvider" in providers if have_tensorrt is None else have_tensorrt
    if have_onnx_gpu and have_tensorrt:
        return "ort-tensorrt"
    if have_onnx_gpu:
        return "ort-cuda"
    if have_torch_cuda is None:
        have_torch_cuda = torch_cuda_available()
    if have_torch_cuda:
        return "torch-cuda"
    if device == "auto":
        return "ort-cpu"
    if not (gpu_driver_present() if have_driver is None else have_driver):
        raise DeviceError("--device cuda asked for, but no NVIDIA GPU driver answers on this machine "
                          "(libcuda not found); run on a machine with a CUDA GPU, or use --device cpu")
    raise DeviceError(f"--device cuda asked for, but neither onnxruntime nor PyTorch here can use the GPU; "
                      f"{INSTALL_HINT}, or use --device cpu")


def make_engine(onnx_path: str | Path | Callable[[], Path], checkpoint_path: str | Path | None,
                device: str = "auto", fp16: bool = False, threads: int | None = None, share_cpu: bool = False,
                backend: str | None = None, method: str = "forward", **torch_options):
    """An :class:`Engine` (onnxruntime) or a :class:`TorchEngine` for the same graph, by capability.

    ``onnx_path`` may be a function returning the path, called only when onnxruntime runs (the
    fp16 and int8 graphs are exported on first use, which the torch backend does not need).
    ``checkpoint_path`` is the livestyle checkpoint the ONNX graph was exported from; without one
    (third-party weights) the torch backend cannot stand in, so 'auto' falls back to the CPU and
    'cuda' raises. ``fp16`` asks for half precision; the torch backend also uses it unasked
    where the GPU is fast at it. ``backend`` overrides the choice (benchmarks, tests).
    """
    backend = backend or choose_backend(device)
    if backend not in BACKENDS + ("torch-cpu",):
        raise DeviceError(f"unknown backend '{backend}'; use one of {', '.join(BACKENDS + ('torch-cpu',))}")
    if backend.startswith("torch"):
        if checkpoint_path is None or not Path(checkpoint_path).is_file():
            if device == "cuda" and backend == "torch-cuda":
                raise DeviceError("--device cuda: only PyTorch can use the GPU here, and this net has no "
                                  f"livestyle checkpoint to run in it; {ORT_GPU_HINT}, or use --device cpu")
            log.info("no PyTorch checkpoint for this net; running its ONNX graph on the CPU")
            backend = "ort-cpu"
        else:
            need(f"the {backend} backend", "torch")
            from .torch_engine import TorchEngine

            return TorchEngine.from_checkpoint(
                checkpoint_path, method=method, device="cuda" if backend == "torch-cuda" else "cpu",
                fp16=True if fp16 else None, **torch_options)
    from .engine import Engine

    path = onnx_path() if callable(onnx_path) else onnx_path
    return Engine(Path(path), device="cpu" if backend == "ort-cpu" else "cuda", threads=threads,
                  share_cpu=share_cpu)
