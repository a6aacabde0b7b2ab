"""Timing: :func:`time_calls`, the timing loop every repeated-call measurement uses, and the table
of ``livestyle bench`` built on it.

Every net in the table is timed against its own PyTorch-eager run in the same process
(``vs torch``), since only same-run ratios mean anything on a shared machine. ``magenta26`` is the
third-party lightweight ONNX net from the shared folder: the CPU speed anchor livestyle is
measured against.

This module must not import PyTorch at its top: ``time_calls`` serves tools that run without it.
"""

from __future__ import annotations

import resource
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from ..errors import DeviceError, InputError

ADAIN_NET = "adain"
MAGENTA_NET = "magenta26"
DEFAULT_PAINTING = Path("styles/la_muse.jpg")   # inside the shared folder


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


DEFAULT_REPEATS = 5
MIN_CALLS = 2    # timed calls even past a time limit: one call has no spread


@dataclass(frozen=True)
class Timing:
    """What :func:`time_calls` measured: each timed call in milliseconds, and the whole pass."""

    times_ms: tuple[float, ...]   # in call order
    total_s: float                # the first timed call's start to the last one's end

    @property
    def calls(self) -> int:
        return len(self.times_ms)

    def percentile(self, q: float) -> float:
        return float(np.percentile(self.times_ms, q))

    @property
    def median_ms(self) -> float:
        return self.percentile(50)

    @property
    def p90_ms(self) -> float:
        return self.percentile(90)

    @property
    def p95_ms(self) -> float:
        return self.percentile(95)

    @property
    def mean_ms(self) -> float:
        """Milliseconds per call over the whole pass (a throughput figure, unlike the median)."""
        return self.total_s * 1000 / self.calls

    @property
    def fps(self) -> float:
        """Calls per second over the whole pass."""
        return self.calls / self.total_s


def time_calls(fn: Callable, inputs: Sequence | None = None, *, warmup: int = 1, repeats: int | None = None,
               seconds: float | None = None, sync: Callable[[], object] | None = None, sync_each: bool = True,
               after_warmup: Callable[[], object] | None = None) -> Timing:
    """Time ``repeats`` calls of ``fn`` after ``warmup`` untimed ones.

    ``fn()`` takes no argument, or, with ``inputs``, call ``i`` is ``fn(inputs[i % len(inputs)])``
    (warm-up and timed calls each start at the first input); ``repeats`` defaults to one pass
    over ``inputs``, else to :data:`DEFAULT_REPEATS`. ``seconds`` stops the timed calls early
    once another would likely end past it (after :data:`MIN_CALLS` at least), so a slow case
    cannot use up a time-limited run. ``after_warmup`` runs once before the clock starts (a
    streaming stylizer's reset, say).

    ``sync`` waits for work a call queued without finishing it (a GPU's): it runs before the clock
    starts, and after every call with ``sync_each``, so each time spans the work itself
    (latency); without ``sync_each`` only after the last call, so calls overlap as they do in a
    stream and only the pass's totals (``fps``, ``mean_ms``) span the work (throughput).
    """
    if inputs is not None and len(inputs) == 0:
        raise InputError("time_calls: no inputs to time")
    repeats = repeats if repeats is not None else len(inputs) if inputs is not None else DEFAULT_REPEATS
    if repeats < 1:
        raise InputError(f"time_calls: repeats must be at least 1, got {repeats}")

    def call(i: int):
        return fn() if inputs is None else fn(inputs[i % len(inputs)])

    for i in range(warmup):
        call(i)
    if after_warmup is not None:
        after_warmup()
    if sync is not None:
        sync()
    times: list[float] = []
    start = last = time.perf_counter()
    for i in range(repeats):
        if seconds is not None and i >= MIN_CALLS and (last - start) * (i + 1) / i > seconds:
            break
        call(i)
        if sync is not None and sync_each:
            sync()
        now = time.perf_counter()
        times.append((now - last) * 1000)
        last = now
    if sync is not None and not sync_each:
        sync()
        last = time.perf_counter()
    return Timing(tuple(times), last - start)


def torch_sync() -> Callable[[], None] | None:
    """PyTorch's wait for queued CUDA work, where PyTorch is already loaded and sees a GPU; else
    None. It never imports PyTorch: code that has not loaded it has queued nothing on a GPU."""
    torch = sys.modules.get("torch")
    if torch is None or not torch.cuda.is_available():
        return None
    return torch.cuda.synchronize


def _torch_johnson(style: str, shared):
    from ..checkpoints import build_model, load_checkpoint
    from ..export.johnson import load_engstrom
    from ..runtime import registry

    info = registry.resolve_style(style, shared)
    if info.kind == "engstrom":
        return load_engstrom(info.source)
    return build_model(load_checkpoint(registry.weights_for(info), "johnson")).float().eval()


def _torch_adain(painting: Path, shared):
    import torch

    from ..export.adain import build_adain_net
    from ..paths import exported_dir, vgg_weights
    from ..runtime.adain import style_tensor
    from ..media.images import read_image
    from ..models.ops import channel_mean_std

    net = build_adain_net(exported_dir() / "adain_decoder.pt", vgg_weights(None, shared))
    with torch.inference_mode():
        mean, std = channel_mean_std(net.encode(torch.from_numpy(style_tensor(read_image(painting)))))
    alpha = torch.ones(1)
    return lambda x: net(x, mean, std, alpha)


def _torch_fn(net_name: str, shared, painting: Path) -> Callable:
    import torch

    from ..runtime.adain import AdaINStylizer
    from ..runtime.stylizer import finish, prepare

    if net_name == ADAIN_NET:
        net, multiple = _torch_adain(painting, shared), AdaINStylizer.size_multiple
    else:
        net = _torch_johnson(net_name, shared)
        multiple = net.config.stride

    def run(frame):
        p = prepare(frame, None, multiple)
        with torch.inference_mode():
            y = net(torch.from_numpy(p.tensor)[None]).clamp(0, 255)[0].numpy()
        return finish(y, p)
    return run


@dataclass(frozen=True)
class BenchCase:
    net: str
    backend: str       # torch | ort-cpu | ort-cuda (+ '-fp16'), ort-cpu-int8

    @property
    def precision(self) -> str:
        return next((p for p in ("fp16", "int8") if self.backend.endswith(p)), "fp32")


def _runner(case: BenchCase, shared: Path, painting: Path) -> Callable:
    from ..runtime.factory import create_stylizer

    if case.net == MAGENTA_NET:
        if case.backend != "ort-cpu":
            raise DeviceError(f"{MAGENTA_NET} is timed on ort-cpu only (it is the CPU anchor)")
        from .magenta import Magenta26

        return Magenta26(shared)
    if case.backend == "torch":
        from ..extras import need

        need("livestyle bench --backends torch (the PyTorch baseline)", "torch")
        return _torch_fn(case.net, shared, painting)
    device = "cuda" if "cuda" in case.backend else "cpu"
    # Per-frame timing: temporal blending is measured by tools/temporal_eval.py.
    options = dict(device=device, fp16=case.precision == "fp16", int8=case.precision == "int8",
                   shared_dir=shared, stability=0.0)
    if case.net == ADAIN_NET:
        return create_stylizer(style_images=[painting], **options)
    return create_stylizer(case.net, **options)


def bench_table(nets, resolutions, backends, repeats: int = 5, warmup: int = 1, shared=None,
                painting: Path | None = None) -> list[dict]:
    from ..paths import shared_dir

    if isinstance(nets, str):
        nets = [nets]
    shared = shared_dir(shared)
    painting = painting or shared / DEFAULT_PAINTING
    rows = []
    rng = np.random.default_rng(0)
    for w, h in resolutions:
        frame = rng.integers(0, 255, (h, w, 3), dtype=np.uint8)
        for net in nets:
            baseline = None
            for backend in backends:
                case = BenchCase(net, backend)
                row = {"net": net, "resolution": f"{w}x{h}", "backend": backend, "precision": case.precision}
                try:
                    fn = _runner(case, shared, painting)
                except (DeviceError, InputError) as exc:  # a combination that does not exist here
                    rows.append({**row, "skipped": str(exc)})
                    continue
                timing = time_calls(fn, [frame], warmup=warmup, repeats=repeats)
                p50 = timing.median_ms
                if backend == "torch":
                    baseline = p50
                rows.append({**row, "ms_p50": round(p50, 1), "ms_p95": round(timing.p95_ms, 1),
                             "fps": round(1000 / p50, 2), "peak_rss_mb": round(_peak_rss_mb()),
                             "speedup_vs_torch": round(baseline / p50, 2) if baseline else None})
    return rows


def format_table(rows: list[dict]) -> str:
    head = (f"{'net':<16} {'resolution':<10} {'backend':<14} {'prec':<5} {'ms p50':>8} {'ms p95':>8} "
            f"{'FPS':>7} {'peak RSS MB':>11} {'vs torch':>8}")
    lines = [head, "-" * len(head)]
    for r in rows:
        start = f"{r['net']:<16} {r['resolution']:<10} {r['backend']:<14} {r['precision']:<5}"
        if "skipped" in r:
            lines.append(f"{start} skipped: {r['skipped'][:70]}")
            continue
        ratio = f"{r['speedup_vs_torch']:.2f}x" if r["speedup_vs_torch"] else "-"
        lines.append(f"{start} {r['ms_p50']:>8.1f} {r['ms_p95']:>8.1f} {r['fps']:>7.2f} "
                     f"{r['peak_rss_mb']:>11} {ratio:>8}")
    return "\n".join(lines)
