"""Which PyTorch device a command runs on (training, Gatys painting), and whether a GPU driver
answers at all.

The ONNX runtime picks its execution providers in ``runtime/engine.py`` and the inference backend
in ``runtime/backends.py``; this is the same choice for code that runs PyTorch itself.
"""

from __future__ import annotations

from .errors import DeviceError, InputError


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


PRECISIONS = ("auto", "fp32", "bf16")
# CPU features with bf16 arithmetic in hardware (/proc/cpuinfo flags).
_BF16_CPU_FLAGS = {"avx512_bf16", "amx_bf16"}


def native_bf16_cpu() -> bool:
    """Whether this CPU has bf16 arithmetic in hardware (AVX512-BF16 or AMX). There PyTorch's bf16
    autocast trains faster than fp32 (docs/training.md); elsewhere bf16 is emulated
    and slower. Linux only (elsewhere: False)."""
    try:
        with open("/proc/cpuinfo", encoding="ascii", errors="replace") as f:
            for line in f:
                if line.startswith("flags"):
                    return bool(_BF16_CPU_FLAGS & set(line.split(":", 1)[-1].split()))
    except OSError:
        pass
    return False


def training_precision(device_type: str, precision: str = "auto") -> str:
    """'bf16' (autocast) or 'fp32' for training on ``device_type``: ``auto`` takes bf16 on CUDA and
    on CPUs with native bf16, fp32 elsewhere."""
    if precision not in PRECISIONS:
        raise InputError(f"unknown precision '{precision}'; use one of {', '.join(PRECISIONS)}")
    if precision != "auto":
        return precision
    return "bf16" if device_type == "cuda" or (device_type == "cpu" and native_bf16_cpu()) else "fp32"


# glibc mallopt parameters (malloc.h)
_M_TRIM_THRESHOLD, _M_MMAP_MAX = -1, -4


def keep_freed_cpu_memory() -> bool:
    """Make glibc keep freed memory for reuse instead of unmapping it; True where it applied.

    PyTorch on a CPU frees and re-allocates the same large activation buffers every training
    step. glibc serves blocks above 32 MB straight from mmap and returns them on free, so each
    step faults every page back in and the kernel zeroes it: a distillation step can spend more
    time in the kernel than in the math (docs/lab/training-log.md, "CPU training speed: freed
    memory is kept for reuse").
    The price is that the process keeps its peak memory until it exits, which a training run
    reaches anyway. No-op elsewhere (macOS, Windows, musl).
    """
    import ctypes
    import ctypes.util
    import platform

    if platform.system() != "Linux" or platform.libc_ver()[0] != "glibc":
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        return bool(libc.mallopt(_M_MMAP_MAX, 0)) and bool(libc.mallopt(_M_TRIM_THRESHOLD, 2**31 - 1))
    except (OSError, AttributeError):
        return False
