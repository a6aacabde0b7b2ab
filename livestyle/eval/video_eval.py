"""What a user sees: the encoded output file of ``livestyle video``, scored at the clip's own size.

The sequence measurements (tools/temporal_eval.py's default mode) run the split graphs by hand on
24 frames shrunk into a 640x360 box. A user gets something else: the CLI's defaults (its fast
net on a CPU, ``--size`` below the clip's resolution, upscaled back), x264 compression, the whole
frame. The two can differ by a factor of two (docs/temporal.md compares them on fox).
Here the CLI itself renders each run, the file is decoded, and every consecutive pair is scored
with Lai et al.'s warping error under two flow rulers computed on the decoded input: DIS (the
blender's algorithm, finer) and Farneback (independent of the blender). Runs are compared with a
fixed reference, e.g. the Engstrom udnie per frame, so that "steadier" cannot be bought by
painting less: the Gram style loss of the same frames is reported beside it.
"""

from __future__ import annotations

import itertools
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Iterator, Sequence

import numpy as np

from ..errors import InputError
from ..imageops import resize_long_side
from ..media.images import list_images, read_image
from ..media.video import VideoReader
from ..runtime import registry
from .temporal_metrics import RULERS, ruler_pair, warping_error


@dataclass(frozen=True)
class Render:
    """One ``livestyle video`` run: its name in the report, the style, and the options it changes."""

    name: str
    style: str
    stability: float | None = None     # None: the CLI's default blend
    model: str = "auto"

    def command(self, src: Path, dst: Path, size: int | None, start: float, duration: float | None,
                device: str = "auto", shared_dir=None) -> list[str]:
        cmd = [sys.executable, "-m", "livestyle", "video", str(src), str(dst), "--style", self.style,
               "--model", self.model, "--device", device, "--no-progress", "--overwrite"]
        for option, value in (("--stability", self.stability), ("--size", size), ("--duration", duration),
                              ("--shared-dir", shared_dir)):
            if value is not None:
                cmd += [option, str(value)]
        return cmd + (["--start", str(start)] if start else [])


def stage_candidate(checkpoint: Path, style: str, folder: Path, shared: Path | None = None) -> str:
    """Put a trained checkpoint in ``style``'s place in a scratch copy of ``exported/``, as if it
    shipped: the net is exported (with its parity check) under ``style`` or ``style``_fast, as its
    variant says, and the copy's manifest describes it. Point ``$LIVESTYLE_EXPORTED`` at ``folder``
    to run it; the shipped ``exported/`` is left as it is. Returns the name it took."""
    import shutil

    from ..checkpoints import load_checkpoint
    from ..export.johnson import publish_checkpoint
    from ..paths import exported_dir

    if Path(folder).resolve() == exported_dir().resolve():
        raise InputError(f"{folder} is the shipped exported/ folder; stage a candidate in a scratch folder")
    variant = load_checkpoint(checkpoint, "johnson").get("meta", {}).get("variant", "full")
    name = registry.fast_name(style) if variant == "fast" else style
    shutil.copytree(exported_dir(), folder, dirs_exist_ok=True)
    shipped = {s.name: s for s in registry.list_styles(shared)}.get(name)
    publish_checkpoint(Path(checkpoint), Path(folder) / f"{name}.onnx", name, shared=shared,
                       licence=shipped.licence if shipped else "")
    return name


def style_painting(style: str, shared: Path) -> Path:
    """The painting a style was trained on (the Engstrom nets name theirs after the style)."""
    info = registry.resolve_style(style, shared)
    return Path(shared) / "styles" / (info.meta.get("style_image") or f"{style.removesuffix('_engstrom')}.jpg")


def render(run: Render, src, dst, *, size: int | None = None, start: float = 0.0,
           duration: float | None = None, device: str = "auto", shared_dir=None) -> Path:
    """Run the CLI exactly as a user would; the encoded file is the result."""
    done = subprocess.run(run.command(Path(src), Path(dst), size, start, duration, device, shared_dir),
                          capture_output=True, text=True)
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["no message"])[-1]
        raise InputError(f"livestyle video failed for run '{run.name}' on {src}: {last}")
    return Path(dst)


def read_frames(source, start: float = 0.0, duration: float | None = None) -> Iterator[np.ndarray]:
    """BGR uint8 frames of a video file (``duration`` seconds from ``start``), or of a folder of
    still images in name order (a lossless frame sequence)."""
    source = Path(source)
    if source.is_dir():
        for path in list_images(source):
            yield read_image(path)
        return
    with VideoReader(source, start, duration) as reader:
        for frame in reader:
            yield frame.image


def frame_count(source, start: float = 0.0, duration: float | None = None) -> int:
    """Frames the part holds by its header (a folder: its images); exact for whole MP4 files."""
    source = Path(source)
    if source.is_dir():
        return len(list_images(source))
    with VideoReader(source, start, duration) as reader:
        return reader.info.frames


def style_frame_indices(count: int, how_many: int) -> list[int]:
    """Frames scored for style: spread over the last two thirds (the blend has settled there)."""
    if how_many <= 0 or count <= 0:
        return []
    return sorted(set(np.linspace(count // 3, count - 1, how_many).round().astype(int).tolist()))


def rgb01(bgr: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(bgr[:, :, ::-1]).astype(np.float32) / 255.0


@dataclass
class RunScore:
    frames: int
    e_warp: dict[str, float]             # ruler -> mean warping error over consecutive pairs
    style: float | None = None           # mean Gram style loss of the scored frames
    style_by_layer: dict[str, float] = field(default_factory=dict)  # its terms, per VGG layer
    pair_errors: dict[str, list[float]] = field(default_factory=dict, repr=False)


def score_outputs(inputs: Iterable[np.ndarray], outputs: dict[str, Iterable[np.ndarray]],
                  rulers: Sequence[str] = tuple(RULERS), meter=None, style_at: Sequence[int] = (),
                  style_size: int = 512) -> dict[str, RunScore]:
    """Warping error of each output stream (BGR uint8, the input's size) along flows of the input.

    One pass, two frames of each stream in memory (a 720p clip of 60 frames would not fit as
    floats). Streams of different lengths are an InputError: a dropped frame shifts every pair.
    """
    for ruler in rulers:
        if ruler not in RULERS:
            raise InputError(f"unknown flow ruler '{ruler}'; use one of {', '.join(RULERS)}")
    names = list(outputs)
    counts = [0] * (len(names) + 1)
    errors = {name: {r: [] for r in rulers} for name in names}
    styles: dict[str, list[dict[str, float]]] = {name: [] for name in names}
    previous = None
    for t, frames in enumerate(itertools.zip_longest(inputs, *outputs.values())):
        for i, frame in enumerate(frames):
            counts[i] += frame is not None
        if any(frame is None for frame in frames):
            continue  # a stream ended early: keep counting the others for the message
        shapes = {frame.shape for frame in frames}
        if len(shapes) > 1:
            raise InputError(f"frame {t}: outputs differ in size from the input ({sorted(shapes)}); "
                             f"score outputs at the input's resolution")
        current = [rgb01(frame) for frame in frames]
        if previous is not None:
            for ruler in rulers:
                flow, mask = ruler_pair(current[0], previous[0], ruler)
                for name, out_t, out_prev in zip(names, current[1:], previous[1:]):
                    errors[name][ruler].append(warping_error(out_t, out_prev, flow, mask))
        if meter is not None and t in style_at:
            photo = resize_long_side(frames[0], style_size)
            for name, out in zip(names, frames[1:]):
                styles[name].append(meter.score_pair_by_layer(photo, resize_long_side(out, style_size))[0])
        previous = current
    if len(set(counts)) > 1:
        detail = ", ".join(f"'{n}' {c}" for n, c in zip(names, counts[1:]))
        raise InputError(f"frame counts differ: input {counts[0]}, {detail}")
    return {name: RunScore(counts[0], {r: float(np.nanmean(v)) if v else float("nan")
                                       for r, v in errors[name].items()},
                           float(np.mean([sum(t.values()) for t in styles[name]])) if styles[name] else None,
                           {layer: float(np.mean([t[layer] for t in styles[name]])) for layer in styles[name][0]}
                           if styles[name] else {}, errors[name])
            for name in names}


def ratios(scores: dict[str, RunScore], base: str) -> dict[str, dict[str, float]]:
    """Each run's warping error per ruler and style loss divided by run ``base``'s."""
    ref = scores[base]
    out = {}
    for name, score in scores.items():
        row = {ruler: value / ref.e_warp[ruler] for ruler, value in score.e_warp.items()}
        if score.style is not None and ref.style:
            row["style"] = score.style / ref.style
        out[name] = row
    return out


def evaluate_clip(clip: Path, runs: Sequence[Render], workdir: Path, *, size: int | None, start: float = 0.0,
                  duration: float | None = None, rulers: Sequence[str] = tuple(RULERS), meter=None,
                  style_frames: int = 6, style_size: int = 512, device: str = "auto",
                  shared_dir=None, reuse: bool = False) -> dict[str, RunScore]:
    """Render every run of ``clip`` with the CLI into ``workdir`` and score the files; ``reuse``
    keeps files an earlier call rendered there (same runs and settings: the caller's promise)."""
    workdir.mkdir(parents=True, exist_ok=True)
    files = {}
    for run in runs:
        path = workdir / f"{clip.stem}.{run.name}.mp4"
        if not (reuse and path.is_file()):
            render(run, clip, path, size=size, start=start, duration=duration, device=device, shared_dir=shared_dir)
        files[run.name] = path
    style_at = style_frame_indices(frame_count(clip, start, duration), style_frames if meter else 0)
    return score_outputs(read_frames(clip, start, duration), {n: read_frames(f) for n, f in files.items()},
                         rulers, meter, style_at, style_size)
