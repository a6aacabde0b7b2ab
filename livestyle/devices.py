"""Which PyTorch device a command runs on (training, Gatys painting).

The ONNX runtime picks its execution providers in ``runtime/engine.py``; this is the same choice
for code that runs PyTorch itself.
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
