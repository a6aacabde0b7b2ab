"""Whether a frame fits in memory before a net runs on it.

A convolutional net's activations grow with the frame: stylising a 48-megapixel phone photo at
full size on the CPU would need tens of GB, and the operating system kills a process that runs
out without a word. So the stylizers compare what a frame will need with what is free and refuse
with a size that fits instead.
"""

from __future__ import annotations

import os

from ..errors import InputError

# Peak resident memory each stylised pixel adds on onnxruntime CPU (bytes per pixel of the padded
# working frame), measured as max RSS of `livestyle image` at 1 and 2 megapixels and rounded up
# (docs/performance.md, "Memory per stylised pixel").
BYTES_PER_PIXEL = {"full": 900, "fast": 500, "adain_light": 450, "adain": 1400}
# Leave room for the decoded frames, the encoder and whatever else the machine runs.
USABLE_FRACTION = 0.8


def available_bytes() -> int | None:
    """Memory the system can hand out now (Linux: MemAvailable), or None where unknown."""
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (AttributeError, ValueError, OSError):
        return None


def check_fits(frame_hw: tuple[int, int], frames: int, bytes_per_pixel: int,
               available: int | None = None) -> None:
    """Raise InputError, naming a --size that fits, when ``frames`` frames of ``frame_hw`` (the
    working size the net sees) need more memory than is free."""
    available = available_bytes() if available is None else available
    if available is None:
        return
    h, w = frame_hw
    need = h * w * frames * bytes_per_pixel
    usable = available * USABLE_FRACTION
    if need <= usable:
        return
    # 2% under the limit: the frame at the suggested size is padded to the net's stride.
    scale = 0.98 * (usable / need) ** 0.5
    fit = max(16, int(max(h, w) * scale) // 16 * 16)
    raise InputError(f"a {w}x{h} frame needs about {need / 2**30:.1f} GB of memory to stylise, "
                     f"{available / 2**30:.1f} GB are free; use --size {fit} or smaller")
