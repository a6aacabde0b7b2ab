#!/usr/bin/env python
"""Temporal stability of stylised video: per-frame vs flow-guided blending (see docs/temporal.md).

  python tools/temporal_eval.py --style mosaic --style candy --json runs/temporal.json \
      --strip docs/images/temporal_fox_strip.jpg

Runs each style's split encoder/decoder ONNX graphs (CPU) over the shared clips and Sintel/marple8
frames, with these methods (``--method`` replaces them; ``SPACE:FLOW:STABILITY[:detail]``):
  per-frame              no blending
  output:dis:A           TemporalBlender on the decoded RGB output (the runtime default)
  output:dis:A:detail    with detail restoration (texture contrast restored: the runtime default)
  output:dis:A:nodetail  without it (plain blending; SPACE:FLOW:A alone means the runtime default)
  output:dis:A:flowPX    the same with flow estimated at up to PX pixels instead of the default 480
  output:dis:A:fwdP:bwdP DIS setting P (runtime/flow.py DIS_PRESETS) of the flow / of the occlusion
                         check (bwdnone: no forward-backward check)
  output:dis:A:stillS    stability S on pixels where nothing moved (default A ** 0.5)
  feature:dis:A          the blender on the encoder features
  output:none:A          no flow: exponential blending gated by the frame difference (still cameras)
and prints warping error (Lai et al. 2018; ground-truth flow for the Sintel pair, DeepFlow for
marple8, DIS elsewhere), ghost ratio, style (Gram) loss ratio to per-frame, still-camera flicker
and the blender's cost next to the net's at 640x360. ``fox@110`` is the fox clip from frame 110,
where the fox moves fast (95th-percentile motion ~15-25 px per frame at 360x360): the strip
for eyeballing trails comes from it.

``--encoded`` scores what a user gets instead (livestyle/eval/video_eval.py): ``livestyle video``
renders each clip (``--clip``: a shared clip's name or any video file, e.g. a shaky clip from
tools/make_shaky_clip.py) at its defaults, with ``--stability 0``, and the ``--reference`` style
per frame; the encoded files are decoded and scored at the clip's own resolution with DIS and
Farneback flow, plus the Gram style loss of ``--style-frames`` frames at long side ``--style-size``:

  python tools/temporal_eval.py --encoded --style udnie --clip fox --size 480 --duration 2

``--candidate CKPT`` scores a trained checkpoint in place of the style's shipped net (the same
command, before shipping it):

  python tools/temporal_eval.py --encoded --style udnie --model full --candidate runs/X/udnie.pt \
      --clip big_buck_bunny_cut --keep /tmp/te_X
"""
from __future__ import annotations

import cv2  # noqa: F401  (before av: the two ship different ffmpeg builds)

import argparse
import json
import os
import statistics
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from livestyle.eval.sequences import BOX, Pair, Sequence, load_sequences
from livestyle.eval.split_net import SplitNet, load_split_net
from livestyle.eval.video_eval import style_frame_indices
from livestyle.eval.temporal_metrics import (RULERS, flicker, ghost_ratio, noisy_still, revealed_mask, ruler_pair,
                                             warping_error)
from livestyle.paths import shared_dir, vgg_weights
from livestyle.runtime.flow import DIS_PRESETS
from livestyle.runtime.temporal import (CHECK_PRESET, DEFAULT_KEEP_DETAIL, DEFAULT_STABILITY, FLOW_LONG_SIDE,
                                       FLOW_PRESET, TemporalBlender)

STRIP_SEQUENCE = "fox@110"


@dataclass(frozen=True)
class Method:
    name: str
    space: str = "none"       # 'none' (per-frame), 'feature' or 'output'
    flow: str = "dis"
    stability: float = 0.0
    keep_detail: bool = DEFAULT_KEEP_DETAIL
    flow_long_side: int = FLOW_LONG_SIDE
    flow_preset: str = FLOW_PRESET
    check_preset: str = CHECK_PRESET
    still_stability: float | None = None

    @staticmethod
    def parse(spec: str) -> Method:
        """``per-frame`` or ``SPACE:FLOW:STABILITY`` plus options ``:detail``/``:nodetail``,
        ``:flowPX``, ``:fwdPRESET`` and ``:bwdPRESET`` (DIS presets of the flow and of the check)."""
        if spec == "per-frame":
            return Method("per-frame")
        space, flow, a, *extra = spec.split(":")
        options: dict = {}
        for e in extra:
            if e in ("detail", "nodetail"):
                options["keep_detail"] = e == "detail"
            elif e.startswith("flow") and e[4:].isdigit():
                options["flow_long_side"] = int(e[4:])
            elif e[:3] in ("fwd", "bwd") and (e[3:] in DIS_PRESETS or e == "bwdnone"):
                options["flow_preset" if e[:3] == "fwd" else "check_preset"] = e[3:]
            elif e.startswith("still") and e[5:].replace(".", "", 1).isdigit():
                options["still_stability"] = float(e[5:])
            else:
                space = "unknown"
        if space not in ("output", "feature"):
            raise SystemExit(f"bad method '{spec}': use per-frame or SPACE:FLOW:STABILITY"
                             f"[:detail|:nodetail][:flowPX][:fwdPRESET][:bwdPRESET][:stillA]")
        return Method(spec, space, flow, float(a), **options)


# ----------------------------------------------------------------------------------- running


def stylize(net: SplitNet, frames: list[np.ndarray], methods: list[Method]) -> tuple[dict, dict]:
    """Outputs ([H, W, 3] 0..1) of every method, and per-frame timings in seconds."""
    blenders = {m.name: TemporalBlender(m.stability, m.flow, flow_long_side=m.flow_long_side,
                                        keep_detail=m.keep_detail, flow_preset=m.flow_preset,
                                        check_preset=m.check_preset, still_stability=m.still_stability)
                for m in methods if m.space != "none"}
    outs: dict[str, list[np.ndarray]] = {m.name: [] for m in methods}
    times: dict[str, list[float]] = {"net": [], **{m.name: [] for m in methods if m.space != "none"}}
    for frame in frames:
        x = np.ascontiguousarray(frame.transpose(2, 0, 1) * 255.0)
        t0 = time.perf_counter()
        feats = net.encode(x)
        per = net.decode(feats, x.shape[1:])
        times["net"].append(time.perf_counter() - t0)
        for m in methods:
            if m.space == "none":
                y = per
            else:
                t0 = time.perf_counter()
                blended = blenders[m.name](feats if m.space == "feature" else per, x)
                times[m.name].append(time.perf_counter() - t0)
                y = net.decode(blended, x.shape[1:]) if m.space == "feature" else blended
            outs[m.name].append(np.clip(y, 0, 255).transpose(1, 2, 0) / 255.0)
    return outs, times


def dis_pairs(frames: list[np.ndarray]) -> list[tuple[Pair, np.ndarray]]:
    """Measurement pairs (t, t-1) with DIS, plus each frame's revealed pixels (for ghosting)."""
    pairs = []
    for t in range(1, len(frames)):
        fwd, vis = ruler_pair(frames[t], frames[t - 1], "dis")
        pairs.append((Pair(t, t - 1, fwd, vis), revealed_mask(~vis, frames[t], frames[t - 1])))
    return pairs


def score_sequence(seq: Sequence, outs: dict, per_name: str, meter, style_frames: int,
                   measured: list[tuple[Pair, np.ndarray]]) -> dict:
    pairs = seq.pairs or [p for p, _ in measured]
    chosen = style_frame_indices(len(seq.frames), style_frames)
    result = {}
    for name, ys in outs.items():
        ewarp = [warping_error(ys[p.a], ys[p.b], p.flow, p.mask) for p in pairs]
        ghost = [ghost_ratio(ys[p.a], outs[per_name][p.a], outs[per_name][p.b], dis)
                 for p, dis in measured if dis.sum() >= 50]
        row = {"e_warp": float(np.mean(ewarp)), "ghost": float(np.nanmean(ghost)) if ghost else float("nan")}
        if meter is not None:
            row["style"] = float(np.mean([meter.score_pair(to_bgr(seq.frames[i]), to_bgr(ys[i]))[0]
                                          for i in chosen]))
        result[name] = row
    base = result[per_name]
    for row in result.values():
        row["e_warp_ratio"] = row["e_warp"] / base["e_warp"]
        if "style" in row:
            row["style_ratio"] = row["style"] / base["style"]
    return result


def to_bgr(rgb: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray((rgb[:, :, ::-1] * 255.0 + 0.5).clip(0, 255).astype(np.uint8))


def still_camera(net: SplitNet, frame: np.ndarray, methods: list[Method], count: int) -> dict:
    """Flicker on a still noisy camera over the second half of ``count`` frames: a webcam runs for
    minutes, so what counts is the blend's steady state, not its first frames."""
    outs, _ = stylize(net, noisy_still(frame, count), methods)
    return {name: flicker(ys, count // 2) for name, ys in outs.items()}


def write_strip(path: Path, seq: Sequence, outs: dict, rows: list[str], count: int = 6, width: int = 240) -> None:
    """Rows of ``count`` consecutive frames (input, then each method), for looking at trails."""
    idx = range(len(seq.frames) - count, len(seq.frames))
    grid = []
    for name in ["input", *rows]:
        ys = seq.frames if name == "input" else outs[name]
        tiles = [cv2.resize(to_bgr(ys[i]), (width, round(width * ys[i].shape[0] / ys[i].shape[1])),
                            interpolation=cv2.INTER_AREA) for i in idx]
        row = np.concatenate(tiles, axis=1)
        cv2.putText(row, name, (6, 20), cv2.FONT_HERSHEY_SIMPLEX, 0.6, (255, 255, 255), 2, cv2.LINE_AA)
        grid.append(row)
    path.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(path), np.concatenate(grid, axis=0), [cv2.IMWRITE_JPEG_QUALITY, 88])


# ----------------------------------------------------------------------------------- report


def fmt(x: float, spec: str = ".4f") -> str:
    return "  n/a" if x != x else format(x, spec)


def print_tables(report: dict) -> None:
    for style, seqs in report["sequences"].items():
        print(f"\n== {style}: warping error (E_warp, x1e3), ratio to per-frame, ghost ratio, style-loss ratio")
        print(f"{'sequence':<26} {'flow':<8} {'method':<22} {'E_warp':>8} {'ratio':>6} {'ghost':>6} {'style':>6}")
        for seq, rows in seqs.items():
            for name, r in rows.items():
                if name == "_flow":
                    continue
                print(f"{seq:<26} {rows['_flow']:<8} {name:<22} {r['e_warp'] * 1e3:8.3f} "
                      f"{r['e_warp_ratio']:6.3f} "
                      f"{fmt(r['ghost'], '6.3f')} {fmt(r.get('style_ratio', float('nan')), '6.3f')}")
    print("\n== summary over sequences (worst = largest E_warp ratio)")
    print(f"{'style':<14} {'method':<22} {'mean ratio':>10} {'worst':>6} {'ghost':>6} {'style':>6} "
          f"{'still flicker':>13}")
    for style, summary in report["summary"].items():
        for name, s in summary.items():
            print(f"{style:<14} {name:<22} {s['e_warp_ratio_mean']:10.3f} {s['e_warp_ratio_worst']:6.3f} "
                  f"{fmt(s['ghost_mean'], '6.3f')} {fmt(s['style_ratio_mean'], '6.3f')} "
                  f"{fmt(s['still_flicker'], '8.3f')} ({fmt(s['still_reduction'], '.1f')}x)")
    print("\n== cost at 640x360 on CPU (median per frame)")
    for style, c in report["cost"].items():
        parts = ", ".join(f"{k} {v['ms']:.1f} ms ({v['ratio'] * 100:.1f}%)" for k, v in c["blend"].items())
        print(f"{style:<14} net {c['net_ms']:.0f} ms; {parts}")


def summarize(seqs: dict, still: dict, per_name: str) -> dict:
    out = {}
    for name in next(iter(seqs.values()), {}):
        rows = [rows[name] for rows in seqs.values()]
        ratios = [r["e_warp_ratio"] for r in rows]
        styles = [r["style_ratio"] for r in rows if "style_ratio" in r]
        ghosts = [r["ghost"] for r in rows if r["ghost"] == r["ghost"]]
        out[name] = {"e_warp_ratio_mean": float(np.mean(ratios)), "e_warp_ratio_worst": float(np.max(ratios)),
                     "ghost_mean": float(np.mean(ghosts)) if ghosts else float("nan"),
                     "style_ratio_mean": float(np.mean(styles)) if styles else float("nan"),
                     "still_flicker": still.get(name, float("nan")),
                     "still_reduction": still[per_name] / still[name] if still else float("nan")}
    return out


def print_encoded(style: str, clip: str, scores: dict, reference: str | None, per_layer: bool = False) -> None:
    from livestyle.eval.video_eval import ratios

    first = next(iter(scores.values()))
    rulers = list(first.e_warp)
    print(f"\n== {style} on {clip}: {first.frames} frames of the encoded output"
          + (f"; ratios to the reference ({reference} per frame)" if reference else ""))
    print(f"{'run':<12} " + " ".join(f"{'E_warp ' + r:>16}" for r in rulers) + f" {'style':>8}"
          + ("".join(f" {'ratio ' + r:>16}" for r in rulers) + f" {'ratio style':>11}" if reference else ""))
    against_ref = ratios(scores, "reference") if reference else {}
    for name, score in scores.items():
        line = f"{name:<12} " + " ".join(f"{score.e_warp[r] * 1e3:16.3f}" for r in rulers)
        line += f" {fmt(score.style if score.style is not None else float('nan'), '8.4f')}"
        if reference:
            line += "".join(f" {against_ref[name][r]:16.3f}" for r in rulers)
            line += f" {fmt(against_ref[name].get('style', float('nan')), '11.3f')}"
        print(line)
    if per_layer and first.style_by_layer:
        print("Gram style loss by layer: " + "; ".join(
            f"{name} " + " / ".join(f"{v:.3f}" for v in score.style_by_layer.values())
            for name, score in scores.items()) + f" ({' / '.join(first.style_by_layer)})")
    own = ratios(scores, "per-frame")["default"]
    print("default / own per-frame: " + ", ".join(f"{k} {v:.3f}" for k, v in own.items()))


def encoded_main(args, shared: Path) -> None:
    import tempfile

    from livestyle.eval.quality import QualityMeter
    from livestyle.eval.sequences import CLIPS
    from livestyle.eval.video_eval import Render, evaluate_clip, stage_candidate, style_painting

    clips = [Path(c) if Path(c).suffix else shared / "videos" / "clips" / f"{c}.mp4"
             for c in (args.clip or sorted({name for name, _ in CLIPS}))]
    reference = None if args.reference == "none" else args.reference
    rulers = args.ruler or list(RULERS)
    style_frames = 6 if args.style_frames is None else args.style_frames
    workdir = args.keep or Path(tempfile.mkdtemp(prefix="temporal_eval_"))
    if args.candidate:
        styles = args.style or ["udnie"]
        if len(styles) != 1:
            raise SystemExit("temporal_eval: --candidate takes the place of one --style's net; give one --style")
        name = stage_candidate(args.candidate, styles[0], workdir / "exported", shared)
        os.environ["LIVESTYLE_EXPORTED"] = str(workdir / "exported")   # the livestyle video runs inherit it
        print(f"scoring {args.candidate} as {name} (staged in {workdir / 'exported'})")
    report = {"settings": {"size": args.size, "duration": args.duration, "start": args.start, "model": args.model,
                           "reference": reference, "rulers": rulers, "style_frames": style_frames,
                           "style_size": args.style_size}, "clips": {}}
    for style in args.style or ["udnie"]:
        meter = QualityMeter(vgg_weights(None, shared), style_painting(style, shared)) if style_frames else None
        runs = [Render("default", style, model=args.model), Render("per-frame", style, 0.0, args.model)]
        if reference:
            runs.append(Render("reference", reference, 0.0))
        for clip in clips:
            scores = evaluate_clip(clip, runs, workdir / style, size=args.size or None, start=args.start,
                                   duration=args.duration, rulers=rulers, meter=meter, style_frames=style_frames,
                                   style_size=args.style_size, shared_dir=args.shared_dir,
                                   reuse=args.reuse)
            print_encoded(style, clip.stem, scores, reference, args.per_layer)
            report["clips"].setdefault(style, {})[clip.stem] = {
                name: {"frames": s.frames, "e_warp": s.e_warp, "style": s.style, "style_by_layer": s.style_by_layer}
                for name, s in scores.items()}
    print(f"\nrendered files in {workdir}")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(report, indent=1))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--style", action="append", help="registered style name; repeatable "
                    "(default mosaic, candy; --encoded: udnie)")
    ap.add_argument("--method", action="append", help="per-frame or SPACE:FLOW:STABILITY; repeatable")
    ap.add_argument("--frames", type=int, default=24, help="frames per video clip")
    ap.add_argument("--only", action="append", help="only sequences whose name contains this")
    ap.add_argument("--still-frames", type=int, default=40,
                    help="frames of the still noisy camera (0: skip); flicker is measured over the second half, "
                         "the blend's steady state")
    ap.add_argument("--style-frames", type=int,
                    help="frames per sequence scored for style loss (0: skip; default 2, --encoded: 6)")
    ap.add_argument("--strip", type=Path, help="write a strip of the last 6 fox frames (input + first 4 methods)")
    ap.add_argument("--json", type=Path, help="also write every number here")
    ap.add_argument("--shared-dir")
    enc = ap.add_argument_group("--encoded: the output files of livestyle video")
    enc.add_argument("--encoded", action="store_true", help="score livestyle video's encoded output instead")
    enc.add_argument("--clip", action="append", help="a shared clip's name or a video file; repeatable "
                     "(default: the shared clips)")
    enc.add_argument("--size", type=int, default=480,
                     help="livestyle video --size (below the clip's resolution); 0: no --size, the CLI's "
                          "own default, what a user who sets nothing gets")
    enc.add_argument("--duration", type=float, default=2.5,
                     help="seconds of each clip (at least 60 frames at 24 fps and up)")
    enc.add_argument("--start", type=float, default=0.0, help="where in each clip to begin, seconds")
    enc.add_argument("--model", choices=("auto", "full", "fast"), default="auto", help="livestyle video --model")
    enc.add_argument("--candidate", type=Path, metavar="CKPT",
                     help="score a trained Johnson checkpoint in the place of the (one) --style's net, "
                          "as if it shipped: it is exported into a scratch copy of exported/ under "
                          "--keep (or a temporary folder), which the livestyle video runs read; the "
                          "shipped exported/ is left as it is")
    enc.add_argument("--reference", default="udnie_engstrom",
                     help="style whose per-frame output every run is compared with ('none': no reference)")
    enc.add_argument("--ruler", action="append", choices=sorted(RULERS), help="flow ruler(s) (default: all)")
    enc.add_argument("--style-size", type=int, default=512, help="long side the style loss is scored at")
    enc.add_argument("--per-layer", action="store_true", help="also print the Gram style loss of each VGG layer")
    enc.add_argument("--keep", type=Path, help="folder for the rendered files (default: a temporary folder)")
    enc.add_argument("--reuse", action="store_true",
                     help="score the files an earlier run with the same settings left in --keep "
                          "(render only the missing ones)")
    enc.add_argument("--threads", type=int, help="CPU threads for scoring and for the livestyle video runs "
                     "(1 on a machine shared with training: contended thread pools stall)")
    args = ap.parse_args()
    if args.encoded:
        if args.threads:
            os.environ["OMP_NUM_THREADS"] = str(args.threads)   # the livestyle video runs inherit it
            cv2.setNumThreads(args.threads)
            import torch
            torch.set_num_threads(args.threads)
        return encoded_main(args, shared_dir(args.shared_dir, must_exist=True))
    a = DEFAULT_STABILITY
    specs = args.method or ["per-frame", f"output:dis:{a}:detail", f"output:dis:{a}:nodetail",
                            f"feature:dis:{a}:nodetail", f"output:none:{a}:detail"]
    methods = [Method.parse(s) for s in (specs if "per-frame" in specs else ["per-frame", *specs])]
    shared = shared_dir(args.shared_dir, must_exist=True)
    per_name = "per-frame"
    seqs = load_sequences(shared, args.frames, args.only)
    style_frames = 2 if args.style_frames is None else args.style_frames
    meter, measured = None, {}
    report: dict = {"settings": {"methods": [m.name for m in methods], "frames": args.frames,
                                 "default_stability": a, "box": BOX},
                    "sequences": {}, "still": {}, "summary": {}, "cost": {}}
    for style in args.style or ["mosaic", "candy"]:
        net = load_split_net(style, shared)
        if style_frames:
            from livestyle.eval.quality import QualityMeter
            meter = QualityMeter(vgg_weights(None, shared), net.style_image)
        per_seq, cost_times = {}, {"net": [], **{m.name: [] for m in methods if m.space != "none"}}
        for seq in seqs:
            outs, times = stylize(net, seq.frames, methods)
            if seq.frames[0].shape[:2] == (BOX[1], BOX[0]):
                for k, v in times.items():
                    cost_times[k] += v[1:]  # the first call of a sequence computes no flow
            if seq.name not in measured:
                measured[seq.name] = dis_pairs(seq.frames)
            per_seq[seq.name] = {"_flow": seq.flow_source, **score_sequence(
                seq, outs, per_name, meter, style_frames, measured[seq.name])}
            if args.strip and seq.name == STRIP_SEQUENCE and style == (args.style or ["mosaic"])[0]:
                write_strip(args.strip, seq, outs, [m.name for m in methods[:4]])
        still_frame = next(s for s in seqs if s.frames[0].shape[:2] == (BOX[1], BOX[0])).frames[0] \
            if any(s.frames[0].shape[:2] == (BOX[1], BOX[0]) for s in seqs) else seqs[0].frames[0]
        still = still_camera(net, still_frame, methods, args.still_frames) if args.still_frames else {}
        report["sequences"][style] = per_seq
        report["still"][style] = still
        report["summary"][style] = summarize({k: {n: r for n, r in v.items() if n != "_flow"}
                                              for k, v in per_seq.items()}, still, per_name)
        if cost_times["net"]:
            net_ms = statistics.median(cost_times["net"]) * 1e3
            report["cost"][style] = {"net_ms": net_ms, "frames": len(cost_times["net"]), "blend": {
                k: {"ms": statistics.median(v) * 1e3, "ratio": statistics.median(v) * 1e3 / net_ms}
                for k, v in cost_times.items() if k != "net" and v}}
    print_tables(report)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
