"""Timing of the stylisation engine per backend; used by ``livestyle bench``."""

from __future__ import annotations

import resource
import time

import numpy as np

from .errors import DeviceError


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def _time(fn, frame, repeats: int, warmup: int) -> list[float]:
    for _ in range(warmup):
        fn(frame)
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn(frame)
        times.append((time.perf_counter() - t) * 1000)
    return times


def _torch_fn(style: str, shared):
    import torch

    from .checkpoints import build_model, load_checkpoint
    from .export.johnson import load_engstrom
    from .runtime import registry
    from .runtime.stylizer import finish, prepare

    info = registry.resolve_style(style, shared)
    net = load_engstrom(info.source) if info.kind == "engstrom" else build_model(
        load_checkpoint(info.source.with_suffix(".pt"), "johnson"))

    def run(frame):
        p = prepare(frame, None)
        with torch.inference_mode():
            y = net(torch.from_numpy(p.tensor)[None]).clamp(0, 255)[0].numpy()
        return finish(y, p)
    return run


def bench_table(style: str, resolutions, backends, repeats: int = 5, warmup: int = 1, shared=None) -> list[dict]:
    from .runtime.stylizer import create_stylizer

    rows = []
    rng = np.random.default_rng(0)
    for w, h in resolutions:
        frame = rng.integers(0, 255, (h, w, 3), dtype=np.uint8)
        baseline = None
        for backend in backends:
            try:
                if backend == "torch":
                    fn = _torch_fn(style, shared)
                else:
                    device = "cuda" if "cuda" in backend else "cpu"
                    fn = create_stylizer(style, device=device, fp16=backend.endswith("fp16"), shared_dir=shared)
            except DeviceError as exc:
                rows.append({"resolution": f"{w}x{h}", "backend": backend, "skipped": str(exc)})
                continue
            times = _time(fn, frame, repeats, warmup)
            p50 = float(np.percentile(times, 50))
            if backend == "torch":
                baseline = p50
            rows.append({"resolution": f"{w}x{h}", "backend": backend, "style": style,
                         "ms_p50": round(p50, 1), "ms_p95": round(float(np.percentile(times, 95)), 1),
                         "fps": round(1000 / p50, 2), "peak_rss_mb": round(_peak_rss_mb()),
                         "speedup_vs_torch": round(baseline / p50, 2) if baseline else None})
    return rows


def format_table(rows: list[dict]) -> str:
    head = f"{'resolution':<10} {'backend':<14} {'ms p50':>8} {'ms p95':>8} {'FPS':>7} {'peak RSS MB':>11} {'vs torch':>8}"
    lines = [head, "-" * len(head)]
    for r in rows:
        if "skipped" in r:
            lines.append(f"{r['resolution']:<10} {r['backend']:<14} skipped: {r['skipped'][:70]}")
            continue
        ratio = f"{r['speedup_vs_torch']:.2f}x" if r["speedup_vs_torch"] else "-"
        lines.append(f"{r['resolution']:<10} {r['backend']:<14} {r['ms_p50']:>8.1f} {r['ms_p95']:>8.1f} "
                     f"{r['fps']:>7.2f} {r['peak_rss_mb']:>11} {ratio:>8}")
    return "\n".join(lines)
