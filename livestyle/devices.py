"""Which PyTorch device a command runs on (training, Gatys painting), and whether a GPU driver
answers at all.

The ONNX runtime picks its execution providers in ``runtime/engine.py`` and the inference backend
in ``runtime/backends.py``; this is the same choice for code that runs PyTorch itself.
"""

from __future__ import annotations

from .errors import DeviceError


def pick_device(name: str = "auto"):
    """``auto`` takes the CUDA GPU when PyTorch sees one; ``cuda`` without one is a DeviceError."""
    import torch

    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise DeviceError("--device cuda asked for, but PyTorch sees no CUDA GPU; use --device cpu")
    return torch.device(name)


def gpu_driver_present() -> bool:
    """Whether a CUDA driver answers. onnxruntime-gpu lists its CUDA provider even on machines
    without a GPU, so a provider list alone says nothing; without a driver no package can help."""
    import ctypes
    import os

    try:
        ctypes.CDLL("libcuda.so.1" if os.name != "nt" else "nvcuda.dll")
        return True
    except OSError:
        return False
