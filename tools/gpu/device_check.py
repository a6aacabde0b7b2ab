"""One prepared run on a lent GPU machine: measure every net class on every inference backend
the machine has, ``livestyle video`` end to end, optionally train, and write one JSON + Markdown.

A GPU is lent briefly and rarely, so this script is finished and tested before one is at hand: it
runs on the CPU too (``--tiny``), where GPU backends appear as skipped rows with the reason.
Results are rewritten after every measurement, so a run cut off at its time limit still leaves
everything measured so far in ``--out``. The measuring itself is the package's
(``livestyle/eval/model_only.py`` and ``device_job.py``, timed by ``eval/bench.py``'s
``time_calls``); this script sets the budget, runs the steps and writes the results.

    python tools/gpu/device_check.py --out $OUT                               # on the GPU machine
    python tools/gpu/device_check.py --out $OUT --train "python3 -m livestyle train ... -o .gpu/runs/x"
    python tools/gpu/device_check.py --tiny --device cpu --out /tmp/dc          # CPU self-test

Rows (model-only: input already in device memory, output left there; batch 1):
    nets      johnson_full (exported/mosaic.pt), johnson_fast (mosaic_fast.pt), adain_light
              (exported/adain_light.pt, else random weights: timing only), vgg_adain (VGG-16 from
              --shared-dir + exported/adain_decoder.pt; skipped without the shared folder)
    backends  torch-cuda fp32/fp16 (channels-last, CUDA graphs; --compile adds torch.compile rows),
              ort-cuda fp32/fp16 and ort-tensorrt fp16 where onnxruntime offers them,
              torch-cpu and ort-cpu when no GPU is used
Each row: ms/frame p50/p95, frames/s, peak GPU memory, and the max |difference| against the
reference graph (the shipped ONNX graph on onnxruntime-CPU, else PyTorch fp32 on the CPU) beside
the export's parity tolerance.

Output (at most 8 files, the device tool's limit): device_check.json, device_check.md and, with
--train or --pack, checkpoints.manifest.json + checkpoints.tar.partNN (16 MiB each at most).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import platform
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from livestyle.eval.device_job import (PackError, output_dir_of, pack_folders, proxy_video,  # noqa: E402
                                       run_with_timeout, write_clip)
from livestyle.eval.model_only import (NET_KEYS, Capabilities, MiB, Settings, capabilities,  # noqa: E402
                                       free_gpu, model_rows, one_line, plan_backends, shipped_nets)

NAMED_SIZES = {"720p": (720, 1280), "1080p": (1080, 1920), "2160p": (2160, 3840)}
DEFAULT_SIZES = "720p,1080p,2160p"
TINY_SIZES = "96x64,128x72"        # sides divide by 8: the AdaIN nets' total stride
PARITY_HW = (192, 256)
TINY_PARITY_HW = (64, 96)
CLI_ERROR_EXIT = 2                  # livestyle's exit code for an error the user can act on


def parse_sizes(text: str) -> list[tuple[str, tuple[int, int]]]:
    sizes = []
    for item in filter(None, (s.strip() for s in text.split(","))):
        if item in NAMED_SIZES:
            sizes.append((item, NAMED_SIZES[item]))
            continue
        m = re.fullmatch(r"(\d+)x(\d+)", item)
        if not m:
            raise argparse.ArgumentTypeError(f"size '{item}': use 720p, 1080p, 2160p or WxH")
        w, h = int(m.group(1)), int(m.group(2))
        if w % 8 or h % 8:
            raise argparse.ArgumentTypeError(f"size '{item}': both sides must divide by 8")
        sizes.append((item, (h, w)))
    if not sizes:
        raise argparse.ArgumentTypeError("no sizes given")
    return sizes


# ---------------------------------------------------------------------------------------------
# Results: one JSON document, rewritten whole after every change, and its Markdown rendering.

@dataclass
class Report:
    out: Path
    started: float = field(default_factory=time.time)
    doc: dict = field(default_factory=lambda: {"format": "livestyle-device-check/1", "environment": {},
                                               "model_only": [], "video": [], "training": [],
                                               "pack": None, "notes": []})

    def add(self, section: str, row: dict) -> dict:
        self.doc[section].append(row)
        self.write()
        return row

    def note(self, text: str) -> None:
        self.doc["notes"].append(text)
        print(f"note: {text}", flush=True)
        self.write()

    def write(self) -> None:
        self.doc["elapsed_s"] = round(time.time() - self.started, 1)
        self.out.mkdir(parents=True, exist_ok=True)
        for name, text in (("device_check.json", json.dumps(self.doc, indent=1) + "\n"),
                           ("device_check.md", render_markdown(self.doc))):
            tmp = self.out / f".{name}.tmp"
            tmp.write_text(text)
            os.replace(tmp, self.out / name)


def _fmt(value, digits: int = 2) -> str:
    if value is None:
        return "-"
    return f"{value:.{digits}f}" if isinstance(value, float) else str(value)


def render_markdown(doc: dict) -> str:
    env = doc["environment"]
    lines = ["# livestyle device check", "",
             f"Machine: {env.get('gpu_name') or 'no GPU'}; torch {env.get('torch')} "
             f"(CUDA {env.get('torch_cuda')}), onnxruntime {env.get('onnxruntime')} "
             f"({', '.join(env.get('ort_providers') or [])}); {env.get('cpu_count')} CPUs. "
             f"Command: `{env.get('command', '')}`", "",
             "## Model only (batch 1, input and output in device memory)", "",
             "| net | backend | precision | size | ms p50 | ms p95 | frames/s | peak GPU MiB "
             "| parity max diff (tol) | status |",
             "| --- | --- | --- | --- | ---: | ---: | ---: | ---: | --- | --- |"]
    for r in doc["model_only"]:
        parity = "-" if r.get("parity_max_abs_diff") is None else \
            f"{r['parity_max_abs_diff']:.4g} ({r['parity_tolerance']}) {'ok' if r['parity_ok'] else 'FAIL'}"
        status = r["status"] if r["status"] == "ok" else f"{r['status']}: {r.get('reason', '')}"
        lines.append(f"| {r['net']} | {r['backend']} | {r['precision']} | {r['size']} "
                     f"| {_fmt(r.get('ms_p50'))} | {_fmt(r.get('ms_p95'))} | {_fmt(r.get('fps'), 1)} "
                     f"| {_fmt(r.get('peak_gpu_mib'), 0)} | {parity} | {status} |")
    lines += ["", "## End to end", "", "| what | size | frames | seconds | frames/s | status |",
              "| --- | --- | ---: | ---: | ---: | --- |"]
    for r in doc["video"]:
        status = r["status"] if r["status"] == "ok" else f"{r['status']}: {r.get('reason', '')}"
        lines.append(f"| {r['name']} | {r['size']} | {_fmt(r.get('frames'))} | {_fmt(r.get('seconds'), 1)} "
                     f"| {_fmt(r.get('fps'), 1)} | {status} |")
    if doc["training"]:
        lines += ["", "## Training", "", "| command | seconds | exit | output |",
                  "| --- | ---: | ---: | --- |"]
        for r in doc["training"]:
            lines.append(f"| `{r['command'][:120]}` | {_fmt(r.get('seconds'), 0)} | {r.get('returncode')} "
                         f"| {r.get('output_dir') or '-'} |")
    if doc["pack"]:
        p = doc["pack"]
        if "error" in p:
            lines += ["", f"Pack: not written: {p['error']}"]
        else:
            lines += ["", f"Pack: {len(p['parts'])} part(s), {p['tar_bytes']} bytes, "
                          f"{len(p['files'])} files; rejoin with `{p['rejoin']}`"]
    if doc["notes"]:
        lines += ["", "## Notes", ""] + [f"- {n}" for n in doc["notes"]]
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------------------------------------
# The run.

class Check:
    """The run as a whole: budget, report and the measuring steps."""

    def __init__(self, args: argparse.Namespace):
        self.args = args
        self.report = Report(args.out)
        self.deadline = time.time() + args.budget_s
        self.tmp = Path(tempfile.mkdtemp(prefix="device_check_"))

    def left(self) -> float:
        return self.deadline - time.time()

    def reserve(self, after: str = "model") -> float:
        """Seconds the steps after ``after`` (video, training, packing) keep from it."""
        a = self.args
        later = len(a.train) * a.train_timeout_s + (30 if (a.train or a.pack) else 0) + 5
        if after == "model" and not a.no_video:
            later += 20 if a.tiny else a.video_reserve_s
        return later

    # -- environment ----------------------------------------------------------------------
    def environment(self, caps: Capabilities) -> None:
        import numpy as np
        import torch

        env = {"command": " ".join([Path(sys.argv[0]).name] + sys.argv[1:]),
               "python": platform.python_version(), "platform": platform.platform(),
               "cpu_count": os.cpu_count(), "numpy": np.__version__, "torch": torch.__version__,
               "torch_cuda": torch.version.cuda, "cuda_available": caps.torch_cuda,
               "cuda_driver_found": caps.driver, "ort_providers": list(caps.ort_providers),
               "started": time.strftime("%Y-%m-%d %H:%M:%S %Z")}
        if caps.torch_cuda:
            props = torch.cuda.get_device_properties(0)
            env.update(gpu_name=props.name, gpu_capability=list(torch.cuda.get_device_capability(0)),
                       gpu_memory_mib=props.total_memory // MiB, cudnn=torch.backends.cudnn.version())
        for module in ("onnxruntime", "cv2", "av"):
            try:
                env[module] = __import__(module).__version__
            except ImportError:
                env[module] = None
        env["nvidia_smi"] = _run_quiet(["nvidia-smi", "--format=csv,noheader",
                                        "--query-gpu=name,driver_version,memory.total,clocks.max.sm"])
        env["git_commit"] = _run_quiet(["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"])
        self.report.doc["environment"] = env
        self.report.write()

    # -- model-only rows ---------------------------------------------------------------------
    def model_rows(self, nets, plan) -> None:
        a = self.args
        settings = Settings(a.sizes, TINY_PARITY_HW if a.tiny else PARITY_HW, a.repeats, a.warmup, a.row_s,
                            self.tmp, a.threads, not a.no_cuda_graphs)
        for row in model_rows(nets, plan, settings, lambda: self.left() - self.reserve()):
            self.report.add("model_only", row)
            if row["status"] == "ok":
                print(f"{row['net']:<13} {row['backend']:<18} {row['precision']} {row['size']:>8}: "
                      f"p50 {row['ms_p50']:.2f} ms, {row['fps']:.1f} frames/s, "
                      f"parity {row['parity_max_abs_diff']}", flush=True)

    # -- end to end ----------------------------------------------------------------------------
    def video_rows(self, caps: Capabilities) -> None:
        a = self.args
        label, (h, w) = ("tiny", (72, 128)) if a.tiny else ("1080p", NAMED_SIZES["1080p"])
        frames = 6 if a.tiny else a.video_frames
        if self.left() < self.reserve("video") + 15:
            self.report.add("video", {"name": "livestyle video", "size": label, "status": "skipped",
                                      "reason": "--budget-s reached"})
            return
        clip = self.tmp / f"clip_{label}.mp4"
        try:
            write_clip(clip, h, w, frames)
        except Exception as exc:  # noqa: BLE001
            self.report.add("video", {"name": "livestyle video", "size": label, "status": "error",
                                      "reason": f"cannot write the test clip: {one_line(exc)}"})
            return
        # auto means the GPU where there is one: a CLI failure to serve it is itself a result.
        device = a.device if a.device != "auto" else ("cuda" if caps.torch_cuda else "cpu")
        self._proxy_row(clip, label, device, frames)
        if importlib.util.find_spec("av") is None:
            self.report.add("video", {"name": "livestyle video", "size": label, "status": "skipped",
                                      "reason": "PyAV (av) is not installed here; livestyle video needs it"})
            return
        codecs = ["libx264"]
        if device == "cuda" and _has_encoder("h264_nvenc"):
            codecs.insert(0, "h264_nvenc")
        runs = [(f"livestyle video {codec}, stability 0", codec, ["--stability", "0"]) for codec in codecs]
        runs.append(("livestyle video libx264, default stability (DIS flow)", "libx264", []))
        for name, codec, extra in runs:
            if self.left() < self.reserve("video") + 15:
                self.report.add("video", {"name": name, "size": label, "status": "skipped",
                                          "reason": "--budget-s reached"})
                continue
            self._cli_row(name, clip, label, device, codec, extra)

    def _cli_row(self, name: str, clip: Path, label: str, device: str, codec: str, extra: list[str]) -> None:
        a = self.args
        out = self.tmp / f"out_{len(self.report.doc['video'])}.mp4"
        cmd = [sys.executable, "-m", "livestyle", "video", str(clip), str(out), "--style", a.video_style,
               "--model", "full", "--device", device, "--codec", codec, "--no-progress"] + extra
        if device == "cuda":
            cmd.append("--fp16")
        row = {"name": name, "size": label, "command": " ".join(shlex.quote(c) for c in cmd[1:])}
        timeout = max(10.0, min(a.video_timeout_s, self.left() - self.reserve("video")))
        t = time.perf_counter()
        try:
            done = subprocess.run(cmd, cwd=REPO, env=_child_env(), capture_output=True, text=True,
                                  timeout=timeout)
        except subprocess.TimeoutExpired:
            self.report.add("video", {**row, "status": "error", "reason": f"timed out after {timeout:.0f} s"})
            return
        wall = time.perf_counter() - t
        m = re.search(r"(\d+) frames in ([\d.]+) s \(([\d.]+) frames/s\)", done.stdout)
        if done.returncode == 0 and m:
            self.report.add("video", {**row, "status": "ok", "frames": int(m.group(1)),
                                      "seconds": float(m.group(2)), "fps": float(m.group(3)),
                                      "wall_s_with_start": round(wall, 2)})
            return
        last = (done.stderr.strip().splitlines() or done.stdout.strip().splitlines() or ["no output"])[-1]
        # livestyle's own error exit: a capability it reports (say, no GPU backend), not a crash.
        status = "skipped" if done.returncode == CLI_ERROR_EXIT and "error:" in last else "error"
        self.report.add("video", {**row, "status": status, "reason": last[:300],
                                  "returncode": done.returncode})

    def _proxy_row(self, clip: Path, label: str, device: str, frames: int) -> None:
        """The end-to-end number that needs neither PyAV nor onnxruntime-gpu (device_job.proxy_video)."""
        import torch

        name = "proxy: cv2 decode + TorchEngine mosaic + cv2 encode (sequential)"
        if device == "cuda" and not torch.cuda.is_available():
            self.report.add("video", {"name": name, "size": label, "status": "skipped",
                                      "reason": "PyAV-free proxy runs on torch-cuda; PyTorch sees no GPU"})
            return
        try:
            from livestyle.paths import exported_dir
            from livestyle.runtime.torch_engine import TorchEngine

            graphs = device == "cuda" and not self.args.no_cuda_graphs
            engine = TorchEngine.from_checkpoint(exported_dir() / f"{self.args.video_style}.pt", device=device,
                                                 cuda_graphs=graphs)
            timing = proxy_video(clip, self.tmp / "proxy.mp4", engine, frames)
        except Exception as exc:  # noqa: BLE001
            self.report.add("video", {"name": name, "size": label, "status": "error",
                                      "reason": one_line(exc)})
            return
        self.report.add("video", {"name": name + f" [{engine.backend} {engine.precision}]", "size": label,
                                  "status": "ok", "frames": timing.calls, "seconds": round(timing.total_s, 3),
                                  "fps": round(timing.fps, 2)})
        free_gpu()

    # -- training and packing --------------------------------------------------------------
    def train_rows(self) -> list[Path]:
        folders = []
        for cmd in self.args.train:
            out_dir = output_dir_of(cmd, REPO)
            timeout = min(self.args.train_timeout_s, self.left() - 35)
            row = {"command": cmd, "output_dir": str(out_dir) if out_dir else None,
                   "timeout_s": round(timeout)}
            if timeout < 10:
                self.report.add("training", {**row, "returncode": None, "reason": "--budget-s reached"})
                continue
            log = self.tmp / f"train_{len(self.report.doc['training'])}.log"
            t = time.perf_counter()
            rc = run_with_timeout(cmd, log, timeout, cwd=REPO, env=_child_env())
            tail = log.read_text(errors="replace").replace("\r", "\n").strip().splitlines()[-25:]
            self.report.add("training", {**row, "returncode": rc, "log_tail": tail,
                                         "seconds": round(time.perf_counter() - t, 1)})
            if out_dir is not None:
                folders.append(out_dir)
        return folders

    def pack(self, folders: list[Path]) -> None:
        folders = [f for f in folders + [Path(p) for p in self.args.pack] if f.is_dir()]
        if not folders:
            if self.args.train or self.args.pack:
                self.report.note("nothing to pack: no output folder of the training commands exists")
            return
        try:
            self.report.doc["pack"] = pack_folders(folders, self.args.out)
        except PackError as exc:
            self.report.doc["pack"] = {"error": str(exc)}
        self.report.write()


def _has_encoder(name: str) -> bool:
    try:
        import av

        return name in av.codecs_available
    except ImportError:
        return False


def _child_env() -> dict:
    """The repository on the path: on the device machine livestyle is a copied tree, not installed."""
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    return env


def _run_quiet(cmd: list[str]) -> str | None:
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=15)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return done.stdout.strip() or None if done.returncode == 0 else None


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--out", type=Path, required=True, help="folder for device_check.json/.md and packs")
    p.add_argument("--sizes", default=None, help=f"frame sizes, comma-separated (default {DEFAULT_SIZES}; "
                                                 f"--tiny: {TINY_SIZES})")
    p.add_argument("--repeats", type=int, default=None, help="timed calls per row (default 50; --tiny: 2)")
    p.add_argument("--warmup", type=int, default=None, help="untimed calls first (default 5; --tiny: 1)")
    p.add_argument("--row-s", type=float, default=8.0,
                   help="at most this long timing one row (fewer repeats)")
    p.add_argument("--device", choices=("auto", "cuda", "cpu"), default="auto",
                   help="auto: GPU backends where there is a GPU, CPU backends otherwise")
    p.add_argument("--budget-s", type=float, default=480.0,
                   help="start no new measurement past this many seconds (keeps time for video/training)")
    p.add_argument("--tiny", action="store_true", help="tiny sizes and 2 repeats: the CPU self-test")
    p.add_argument("--threads", type=int,
                   help="CPU threads for torch and onnxruntime (default: theirs; --tiny: 1)")
    p.add_argument("--nets", default=",".join(NET_KEYS), help="nets to measure")
    p.add_argument("--shared-dir", type=Path, help="folder with the VGG-16 weights (default: livestyle's)")
    p.add_argument("--vgg-random", action="store_true",
                   help="without the VGG-16 weights, time the VGG AdaIN net with random ones (speed only)")
    p.add_argument("--compile", action="store_true", help="add torch.compile fp16 rows (slow to start)")
    p.add_argument("--no-cuda-graphs", action="store_true", help="torch rows without CUDA graphs")
    p.add_argument("--no-video", action="store_true", help="skip the end-to-end video rows")
    p.add_argument("--video-frames", type=int, default=240, help="frames in the 1080p test clip")
    p.add_argument("--video-style", default="mosaic", help="style for the end-to-end rows")
    p.add_argument("--video-timeout-s", type=float, default=120.0, help="limit per video run")
    p.add_argument("--video-reserve-s", type=float, default=150.0, help="seconds kept for the video rows")
    p.add_argument("--train", action="append", default=[], metavar="CMD",
                   help="a training command to run after measuring (repeatable); its -o folder is packed")
    p.add_argument("--train-timeout-s", type=float, default=240.0, help="limit per training command")
    p.add_argument("--pack", action="append", default=[], metavar="DIR", help="another folder to pack")
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    args.sizes = parse_sizes(args.sizes or (TINY_SIZES if args.tiny else DEFAULT_SIZES))
    args.repeats = args.repeats or (2 if args.tiny else 50)
    args.warmup = args.warmup if args.warmup is not None else (1 if args.tiny else 5)
    args.threads = args.threads or (1 if args.tiny else None)
    if args.threads:
        # On a busy CPU, threads that spin waiting for work stall each other and everything
        # else running there, by far more than the threads gain.
        import torch

        torch.set_num_threads(args.threads)
        os.environ["OMP_NUM_THREADS"] = str(args.threads)   # the CLI runs inherit it
    check = Check(args)
    caps = capabilities()
    check.environment(caps)
    from livestyle.paths import shared_dir

    shared = shared_dir(args.shared_dir)
    nets, notes = shipped_nets(shared, args.vgg_random)
    for n in notes:
        check.report.note(n)
    wanted = set(filter(None, args.nets.split(",")))
    unknown = wanted - set(NET_KEYS)
    if unknown:
        print(f"device_check: unknown net(s) {sorted(unknown)}", file=sys.stderr)
        return 2
    check.model_rows([n for n in nets if n.key in wanted], plan_backends(args.device, caps, args.compile))
    if not args.no_video:
        check.video_rows(caps)
    check.pack(check.train_rows())
    check.report.write()
    shutil.rmtree(check.tmp, ignore_errors=True)
    doc = check.report.doc
    errors = [r for section in ("model_only", "video") for r in doc[section] if r["status"] == "error"]
    bad_parity = [r for r in doc["model_only"] if r.get("parity_ok") is False]
    print(f"wrote {args.out / 'device_check.json'} and device_check.md in {doc['elapsed_s']} s: "
          f"{sum(r['status'] == 'ok' for r in doc['model_only'])} model rows measured, {len(errors)} errors, "
          f"{len(bad_parity)} rows past the parity tolerance", flush=True)
    return 1 if errors or bad_parity else 0


if __name__ == "__main__":
    sys.exit(main())
