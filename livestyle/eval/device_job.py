"""What a measuring job on a lent GPU machine needs beside the model-only rows (``model_only.py``):
a test clip and an end-to-end number that need no PyAV, training commands under a hard stop, and
their output packed into parts small enough to come back from the machine.

Used by ``tools/gpu/device_check.py``; everything here runs on a CPU too, so the job is tested
before a GPU is at hand.
"""

from __future__ import annotations

import fnmatch
import hashlib
import json
import os
import shlex
import signal
import subprocess
import tarfile
from pathlib import Path

from ..errors import InputError, OutputError
from .bench import Timing, time_calls, torch_sync
from .model_only import synthetic_image

MiB = 1 << 20
# What comes back from the device machine: at most 8 files of 16 MiB, 64 MiB in all. A job's
# report and the pack manifest take three; the margin keeps those three under 1 MiB.
OUT_FILES, PART_BYTES, OUT_BYTES = 8, 16 * MiB, 64 * MiB
PACK_PARTS, PACK_BYTES = OUT_FILES - 3, OUT_BYTES - MiB
# Resume state is large and only needed to continue a run; it goes first when a pack is too big.
DROP_FIRST = ("train_state*.pt",)
PROXY_WARMUP = 2   # CUDA graph capture and cuDNN autotuning happen on the first frames
TIMED_OUT = 124    # the exit status of a command stopped at its time limit, as timeout(1) gives


# ---------------------------------------------------------------------------------------------
# End to end without PyAV.

def write_clip(path: Path, h: int, w: int, frames: int) -> None:
    """A synthetic clip with motion (a pattern panning under a moving block), mp4v via OpenCV."""
    import cv2
    import numpy as np

    base = (synthetic_image(h, w * 2, seed=3)[0].transpose(1, 2, 0)[:, :, ::-1]).astype(np.uint8)
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 30.0, (w, h))
    if not writer.isOpened():
        raise OutputError("OpenCV cannot write mp4v here")
    for i in range(frames):
        shift = (i * 4) % w
        frame = np.ascontiguousarray(base[:, shift:shift + w])
        cv2.rectangle(frame, (i * 6 % w, h // 3), (i * 6 % w + w // 8, h // 3 + h // 6), (40, 200, 90), -1)
        writer.write(frame)
    writer.release()
    if not path.is_file() or path.stat().st_size == 0:
        raise OutputError("OpenCV wrote no clip")


def proxy_video(clip: Path, out: Path, engine, frames: int) -> Timing:
    """Decode (OpenCV), upload the uint8 frame, the engine's net (a TorchEngine), download, encode
    (OpenCV mp4v), one frame after another, for the first ``frames`` frames of ``clip``.

    Not the livestyle pipeline, but a number that needs neither PyAV nor onnxruntime-gpu, which a
    device machine may lack. The first :data:`PROXY_WARMUP` frames are not timed.
    """
    import cv2
    import torch

    if frames <= PROXY_WARMUP:
        raise InputError(f"the proxy needs more than {PROXY_WARMUP} frames, got {frames}")
    cap = cv2.VideoCapture(str(clip))
    fps = cap.get(cv2.CAP_PROP_FPS) or 30.0
    writer = None

    def frame_through() -> None:
        nonlocal writer
        ok, bgr = cap.read()
        if not ok:
            raise InputError(f"{clip} gave fewer than {frames} frames")
        x = torch.from_numpy(bgr).to(engine.device).permute(2, 0, 1).flip(0)[None]   # uint8 upload
        y = engine.run_tensors([x])[0][0].round().to(torch.uint8).flip(0).permute(1, 2, 0)
        y = y.contiguous().cpu().numpy()
        if writer is None:
            writer = cv2.VideoWriter(str(out), cv2.VideoWriter_fourcc(*"mp4v"), fps, (y.shape[1], y.shape[0]))
        writer.write(y)

    try:
        return time_calls(frame_through, warmup=PROXY_WARMUP, repeats=frames - PROXY_WARMUP,
                          sync=torch_sync() if engine.on_gpu else None, sync_each=False)
    finally:
        cap.release()
        if writer is not None:
            writer.release()


# ---------------------------------------------------------------------------------------------
# Training commands.

def output_dir_of(cmd: str, root: Path) -> Path | None:
    """The ``-o``/``--output`` folder of a training command, relative to ``root`` where the command
    runs; None where it names none."""
    try:
        words = shlex.split(cmd)
    except ValueError:
        return None
    for i, word in enumerate(words):
        if word in ("-o", "--output") and i + 1 < len(words):
            value = words[i + 1]
        elif word.startswith("--output="):
            value = word.split("=", 1)[1]
        else:
            continue
        path = Path(value)
        return path if path.is_absolute() else root / path
    return None


def run_with_timeout(cmd: str, log: Path, timeout: float, cwd: Path | None = None,
                     env: dict | None = None) -> int:
    """Run a shell command in its own process group, its output in ``log``; past the timeout,
    Ctrl-C first so a trainer can save its checkpoint, then kill. Returns the exit code, or
    :data:`TIMED_OUT` for a command stopped at the timeout: the stopped child's own status is not
    trusted, since Python reports 0 for a child that something else in the process (a library's
    reaper) collected first."""
    with open(log, "wb") as f:
        proc = subprocess.Popen(["bash", "-c", cmd], cwd=cwd, env=env, stdout=f, stderr=subprocess.STDOUT,
                                start_new_session=True)
        try:
            return proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGINT)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
            return TIMED_OUT


# ---------------------------------------------------------------------------------------------
# Packing folders into parts small enough to come back from the device machine.

class PackError(OutputError):
    """The folders do not fit the part limits even without the droppable files."""


class _SplitWriter:
    """A write-only file object that spreads what is written over ``name.partNN`` files."""

    def __init__(self, out_dir: Path, name: str, part_bytes: int, max_parts: int):
        self.out_dir, self.name, self.part_bytes, self.max_parts = out_dir, name, part_bytes, max_parts
        self.parts: list[dict] = []
        self.total = hashlib.sha256()
        self.size = 0
        self._file = None
        self._hash = None
        self._left = 0

    def _next_part(self) -> None:
        self._close_part()
        if len(self.parts) >= self.max_parts:
            raise PackError(f"the archive needs more than {self.max_parts} parts of {self.part_bytes} bytes")
        path = self.out_dir / f"{self.name}.tar.part{len(self.parts):02d}"
        self._file, self._hash, self._left = open(path, "wb"), hashlib.sha256(), self.part_bytes
        self.parts.append({"file": path.name, "bytes": 0})

    def _close_part(self) -> None:
        if self._file is not None:
            self._file.close()
            self.parts[-1]["sha256"] = self._hash.hexdigest()
            self._file = None

    def write(self, data: bytes) -> int:
        view = memoryview(data)
        while view.nbytes:
            if self._file is None or self._left == 0:
                self._next_part()
            chunk = view[:self._left]
            self._file.write(chunk)
            self._hash.update(chunk)
            self.total.update(chunk)
            self.parts[-1]["bytes"] += chunk.nbytes
            self._left -= chunk.nbytes
            self.size += chunk.nbytes
            view = view[chunk.nbytes:]
        return len(data)

    def close(self) -> None:
        self._close_part()


def _tar_estimate(files: list[tuple[Path, str]]) -> int:
    """Upper bound of the tar size: a header and padding per file (two for long names), the end."""
    return sum(1024 + -(-p.stat().st_size // 512) * 512 for p, _ in files) + 2 * tarfile.RECORDSIZE


def _pack_candidates(folders: list[Path]) -> list[tuple[Path, str]]:
    """Every file of the folders, but only the newest sample image of each (they are many and big)."""
    files: list[tuple[Path, str]] = []
    for i, folder in enumerate(folders):
        prefix = folder.name if [f.name for f in folders].count(folder.name) == 1 else f"{i}_{folder.name}"
        every = sorted(p for p in folder.rglob("*") if p.is_file())
        samples = [p for p in every if fnmatch.fnmatch(p.name, "sample_*")]
        keep = set(every) - set(samples[:-1])
        files += [(p, f"{prefix}/{p.relative_to(folder).as_posix()}") for p in every if p in keep]
    return files


def pack_folders(folders: list[Path], out_dir: Path, name: str = "checkpoints", part_bytes: int = PART_BYTES,
                 max_parts: int = PACK_PARTS, max_bytes: int = PACK_BYTES,
                 drop_first: tuple[str, ...] = DROP_FIRST) -> dict:
    """tar the folders into ``out_dir/name.tar.partNN`` (each at most ``part_bytes``) and write
    ``name.manifest.json``; returns the manifest. ``cat name.tar.part* > name.tar`` re-joins them."""
    folders = [Path(f) for f in folders]
    missing = [str(f) for f in folders if not f.is_dir()]
    if missing:
        raise PackError(f"no such folder(s) to pack: {', '.join(missing)}")
    limit = min(max_bytes, part_bytes * max_parts)
    files, dropped = _pack_candidates(folders), []
    if _tar_estimate(files) > limit:
        dropped = [arc for p, arc in files if any(fnmatch.fnmatch(p.name, pat) for pat in drop_first)]
        files = [(p, arc) for p, arc in files if arc not in dropped]
    if _tar_estimate(files) > limit:
        biggest = sorted(files, key=lambda f: -f[0].stat().st_size)[:3]
        raise PackError(f"{_tar_estimate(files)} bytes to pack, more than the {limit} allowed "
                        f"(largest: {', '.join(f'{a} {p.stat().st_size}' for p, a in biggest)})")
    out_dir.mkdir(parents=True, exist_ok=True)
    writer = _SplitWriter(out_dir, name, part_bytes, max_parts)
    try:
        with tarfile.open(fileobj=writer, mode="w|", format=tarfile.PAX_FORMAT) as tar:
            for path, arc in files:
                tar.add(path, arcname=arc, recursive=False)
    finally:
        writer.close()
    manifest = {"format": "livestyle-pack/1", "tar": f"{name}.tar", "tar_bytes": writer.size,
                "tar_sha256": writer.total.hexdigest(), "parts": writer.parts,
                "files": [{"path": arc, "bytes": p.stat().st_size} for p, arc in files], "dropped": dropped,
                "rejoin": f"cat {name}.tar.part* > {name}.tar && tar xf {name}.tar"}
    (out_dir / f"{name}.manifest.json").write_text(json.dumps(manifest, indent=1) + "\n")
    return manifest
