"""Builds the stylizer a command asks for: a named fixed style, or AdaIN from style images.

The one module that knows every stylizer family, so that the families (``stylizer.py``,
``split.py``, ``adain.py``) and the blender (``temporal.py``) never import each other's builders:
imports in ``runtime/`` run one way, towards this module.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from ..errors import InputError
from ..imageops import to_bgr
from ..media.images import read_image
from . import registry
from .adain import STYLE_SIZE, AdaINStylizer
from .backends import choose_backend, make_engine
from .memory import BYTES_PER_PIXEL
from .stylizer import FrameBlender, GraphStylizer, Stylizer
from .temporal import DEFAULT_STABILITY, TemporalBlender


def create_stylizer(style: str | None = None, style_images: list[str] | None = None,
                    style_weights: list[float] | None = None, alpha: float = 1.0,
                    size: int | None = None, device: str = "auto", fp16: bool = False,
                    preserve_color: str | None = None, shared_dir=None,
                    stability: float | None = None, model: str = "auto", flow: str = "dis",
                    streaming: bool = False, int8: bool = False, frames_in_flight: int = 1) -> Stylizer:
    """Build the stylizer a command asked for: a named fixed style, or AdaIN from style images.

    ``streaming`` (video, cam) turns temporal blending on at its default strength unless
    ``stability`` says otherwise; single images are never blended. ``model='auto'`` uses a
    style's fast variant for streams on a CPU when one is shipped, and on a GPU too where its
    manifest entry says so (``streams_on_gpu``: it measured better on video than the full net). ``frames_in_flight`` > 1
    (video files, where a frame may wait) runs that many frames at once in ``stylize_stream``
    on a CPU, each with its share of the cores; on a GPU frames go one after the other.
    """
    if frames_in_flight < 1:
        raise InputError(f"frames_in_flight must be at least 1, got {frames_in_flight}")
    blender = _make_blender(stability, flow, streaming)
    if int8 and fp16:
        raise InputError("choose one of --fp16 and --int8")
    if style_images:
        if model not in ("auto", "full", "fast"):
            raise InputError(f"unknown --model '{model}'; use auto, full or fast")
        if int8:
            raise InputError("--int8 is for fixed styles (--style); AdaIN's statistics need full precision")
        if style:
            raise InputError("give either --style or --style-image, not both")
        return create_adain_stylizer(style_images, style_weights, alpha, size, device, fp16,
                                     preserve_color, shared_dir, blender,
                                     model=model, frames_in_flight=frames_in_flight)
    if style_weights:
        raise InputError("--style-weights mixes several --style-image paintings; it does nothing with --style")
    name = style or registry.default_style(shared_dir)
    variant = _variant(model, device, streaming, fast_on_gpu=registry.fast_net_streams_on_gpu(name, shared_dir))
    info = registry.resolve_style(name, shared_dir, variant=variant)
    if model == "fast" and info.variant != "fast":
        raise InputError(f"'{name}' has no fast variant; use --model full or auto "
                         f"(fast nets: {', '.join(registry.fast_style_names(shared_dir)) or 'none'})")
    if info.kind == "adain":
        raise InputError(f"'{name}' stylises with any painting: use --style-image IMG instead of --style")
    # PyTorch can stand in on a CUDA machine without onnxruntime-gpu, from the net's own checkpoint
    # (third-party and int8 graphs have none: those stay on onnxruntime).
    checkpoint = None if int8 or info.kind == "engstrom" else registry.weights_for(info)
    lanes, threads = _cpu_lanes(frames_in_flight, device)
    graph = make_engine(lambda: registry.onnx_for(info, fp16=fp16, int8=int8, shared=shared_dir), checkpoint,
                        device=device, fp16=fp16, share_cpu=streaming, threads=threads)
    # Named as asked ("mosaic" even when its fast net runs), so style pickers find their entry.
    stylizer = GraphStylizer(graph, name, size=size, preserve_color=preserve_color, blender=blender,
                             model_name=info.name, size_multiple=registry.size_multiple(info))
    stylizer.bytes_per_pixel = BYTES_PER_PIXEL["fast" if info.variant == "fast" else "full"]
    stylizer.frames_in_flight = lanes if graph.backend.endswith("cpu") else 1
    return stylizer


def create_adain_stylizer(style_images: list, style_weights: list[float] | None = None,
                          alpha: float = 1.0, size: int | None = None, device: str = "auto",
                          fp16: bool = False, preserve_color: str | None = None, shared_dir=None,
                          blender: FrameBlender | None = None,
                          style_size: int = STYLE_SIZE,
                          model: str = "auto", frames_in_flight: int = 1) -> AdaINStylizer:
    """``model='fast'`` runs livestyle's own light net (shipped, real time on a CPU), ``'full'`` the
    decoder on the VGG-16 encoder (needs the shared folder and PyTorch to build its graphs).
    ``'auto'`` runs the light net wherever one is shipped, single images too: the VGG-16 decoder
    paints more texture but keeps less of the photo's structure than Magenta's net, which the
    light net keeps (docs/quality.md), so it is the reference only where asked for."""
    styles = read_style_images(style_images)  # bad paths fail before any graph is built
    light = None if model == "full" else registry.adain_light_graphs(fp16=fp16)
    if light is None and model == "fast":
        raise InputError("this install ships no light arbitrary-style net; use --model full "
                         "(needs the shared folder) or reinstall livestyle")
    graphs = light or registry.adain_graphs(fp16=fp16, shared=shared_dir)
    checkpoint = registry.adain_light_checkpoint() if light else None
    lanes, threads = _cpu_lanes(frames_in_flight, device)

    def graph(part: str, method: str, share: bool = False):
        return make_engine(graphs[part], checkpoint, device=device, fp16=fp16, share_cpu=share, method=method,
                           threads=threads if share else None)

    # Encoder and decoder run one after the other in two sessions, each with its own thread pool:
    # idle threads of one spinning for work starve the other's and slow every frame
    # (docs/performance.md), so these two never spin.
    stylizer = AdaINStylizer(graph("style", "style_stats"), graph("encoder", "stylize_features", True),
                             graph("decoder", "decode", True), size=size,
                             preserve_color=preserve_color, alpha=alpha, blender=blender,
                             style_size=style_size)
    name = "+".join("painting" if isinstance(p, np.ndarray) else Path(p).stem for p in style_images)
    stylizer.arbitrary_net = "adain_light" if light else "adain"   # which of the two nets runs
    stylizer.bytes_per_pixel = BYTES_PER_PIXEL[stylizer.arbitrary_net]
    stylizer.frames_in_flight = lanes if stylizer.backend.endswith("cpu") else 1
    stylizer.set_style(styles, style_weights, name=name)
    return stylizer


def read_style_images(items: list) -> list[np.ndarray]:
    """Paths are read; arrays (a painting uploaded live) are taken as they are."""
    return [to_bgr(x) if isinstance(x, np.ndarray) else read_image(x, what="style image") for x in items]


def _variant(model: str, device: str, streaming: bool, fast_on_gpu: bool = False) -> str:
    """``auto`` takes the fast net only where it matters: frames in a stream on a CPU, and streams
    on a GPU too where the fast net measured better on video than the full one (``fast_on_gpu``)."""
    if model not in ("auto", "full", "fast"):
        raise InputError(f"unknown --model '{model}'; use auto, full or fast")
    if model != "auto":
        return model
    if not streaming:
        return "full"
    return "fast" if fast_on_gpu or choose_backend(device) == "ort-cpu" else "full"


def available_cpus() -> int:
    """Cores this process may run on (its affinity mask, which containers and ``taskset`` set)."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


def _cpu_lanes(frames_in_flight: int, device: str) -> tuple[int, int | None]:
    """(frames at once, threads per net session): the cores shared out between the frames.

    Small convolutions scale badly over threads (two frames at once on one thread each give more
    frames/s than one frame on all of them: docs/performance.md), so on a CPU a video runs frames
    side by side. None: the runtime's default (all cores).
    """
    cpus = available_cpus()
    lanes = min(frames_in_flight, cpus) if choose_backend(device) == "ort-cpu" else 1
    return (lanes, max(1, cpus // lanes)) if lanes > 1 else (1, None)


def _make_blender(stability: float | None, flow: str, streaming: bool) -> TemporalBlender | None:
    if stability is not None and not 0.0 <= stability <= 1.0:
        raise InputError(f"--stability must be in 0..1, got {stability}")
    if stability == 0 or (stability is None and not streaming):
        return None
    return TemporalBlender(stability=DEFAULT_STABILITY if stability is None else stability, flow=flow)
