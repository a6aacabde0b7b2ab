"""What a batch has to do: the files behind the inputs, where each result goes, which results are
already complete, and the pieces of work (an image, a video, a chunk of a long video).

Everything here runs on the machine that starts the batch and needs no Ray: paths are resolved
to absolute ones because the workers (other processes, maybe other machines mounting the same
storage) do not share its working directory.

Completion is recorded, not guessed from a file name: beside the results, ``.livestyle-batch/``
keeps one record per finished output with the input's size and modification time, a fingerprint
of what shapes the picture (the options, the style images' content, the content of every net file
the workers may run) and the output's size, time and frame count. A rerun skips an output only
when all of those still match and the file still holds that many frames.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from .. import __version__
from ..errors import InputError, ModelError, OutputError
from ..fileio import refuse_replacing, sha256_file, write_atomically
from ..media.images import IMAGE_SUFFIXES
from ..media.video import CONTAINERS, VideoReader
from ..runtime.upsample import WORK_SIZE
from .chunks import ChunkSpan, can_join, count_frames, drop_short_tail, keyframes, plan_chunks, warmup_frames

VIDEO_SUFFIXES = frozenset(CONTAINERS)
WORK_FOLDER = ".livestyle-batch"
RECORD_VERSION = 2

# Options that change the pixels of a result; the rest (device, workers, chunking, progress)
# change how it is made. A result made with other values of these, other style images (by
# content) or other nets (by content, see net_files) is redone.
PICTURE_OPTIONS = ("style", "style_weights", "alpha", "size", "model", "preserve_color",
                   "stability", "flow", "fp16", "int8", "codec", "crf", "preset")


@dataclass(frozen=True)
class Source:
    path: Path       # absolute
    relative: Path   # its result's path inside the output folder
    kind: str        # "video", "image" or "other" (given by name, neither: fails when its turn comes)


@dataclass(frozen=True)
class WorkUnit:
    key: str                 # unique in the batch: the relative name, "#<n>" added for chunks
    kind: str                # "image", "video" or "chunk"
    source: Path
    staged: Path             # where the worker leaves its result for the driver to check and move
    frames: int              # frames expected (for the progress bar)
    span: ChunkSpan | None = None
    warmup: int = 0          # chunks: frames of history to build before the first kept frame


@dataclass
class FilePlan:
    source: Source
    output: Path
    staged: Path                              # the finished file before its move to ``output``
    frames: int                               # expected, all units together
    units: list[WorkUnit] = field(default_factory=list)
    chunks: list[WorkUnit] = field(default_factory=list)   # every chunk, the ones done before too
    rotation: int = 0

    @property
    def chunked(self) -> bool:
        return bool(self.chunks)


@dataclass
class BatchPlan:
    output_dir: Path
    work_dir: Path
    files: list[FilePlan]
    skipped: list[Source]                  # outputs already complete
    unreadable: list[tuple[Source, str]]   # inputs that failed their first look
    notices: list[str] = field(default_factory=list)
    nets: dict[str, str | None] = field(default_factory=dict)   # net_digests of the options

    @property
    def frames(self) -> int:
        return sum(f.frames for f in self.files)


# -- finding the files -------------------------------------------------------------------------


def _kind(path: Path) -> str:
    suffix = path.suffix.lower()
    return "video" if suffix in VIDEO_SUFFIXES else "image" if suffix in IMAGE_SUFFIXES else "other"


def _inside(path: Path, folder: Path) -> bool:
    return path == folder or folder in path.parents


def find_sources(inputs: list[Path], output_dir: Path) -> list[Source]:
    """Files and folders (searched recursively, hidden entries left out) -> sources with the
    names their results get. Refuses, before any work: a missing input, a folder with nothing to
    stylise, an output folder inside an input folder (a rerun would take the results for inputs)
    and two inputs that would write the same result."""
    out = Path(output_dir).resolve()
    sources: list[Source] = []
    for given in inputs:
        path = Path(given).resolve()
        if path.is_dir():
            if _inside(out, path):
                raise InputError(f"the output folder {output_dir} is inside the input folder {given}; "
                                 f"choose an output folder outside it")
            found = [p for p in sorted(path.rglob("*"))
                     if p.is_file() and _kind(p) != "other"
                     and not any(part.startswith(".") for part in p.relative_to(path).parts)]
            if not found:
                raise InputError(f"folder {given} holds no videos ({', '.join(sorted(VIDEO_SUFFIXES))}) "
                                 f"or images ({', '.join(sorted(IMAGE_SUFFIXES))})")
            sources += [Source(p, p.relative_to(path), _kind(p)) for p in found]
        elif path.is_file():
            sources.append(Source(path, Path(path.name), _kind(path)))
        else:
            raise InputError(f"input not found: {given}")
    seen: dict[Path, Path] = {}
    for s in sources:
        if s.relative in seen:
            raise InputError(f"{seen[s.relative]} and {s.path} would both be written as "
                             f"{output_dir / s.relative}; give them in separate batches")
        seen[s.relative] = s.path
    # By identity, not name: a symlink or hard link in the output folder is its input too.
    inputs = {_identity(s.path) for s in sources}
    for s in sources:
        target = out / s.relative
        if target.exists() and _identity(target) in inputs:
            raise InputError(f"the result for {s.path} would be written over the input {target}; "
                             f"choose an output folder that holds no inputs")
    return sources


def _identity(path: Path) -> tuple[int, int]:
    st = path.stat()
    return st.st_dev, st.st_ino


# -- completion records ------------------------------------------------------------------------


def picture_facts(options: dict) -> dict:
    """What shapes the picture: the options that do, the style images' content and the content of
    every net file a worker may run (a retrained net under the same name is a new style, and so
    is a repainted painting)."""
    facts = {k: options.get(k) for k in PICTURE_OPTIONS}
    facts["style_images"] = [_style_image_digest(item) for item in options.get("style_images") or []]
    facts["nets"] = net_digests(options)
    # Without --size, frames over the runtime's working size are stylised at it and enlarged:
    # a new default working size paints other strokes.
    facts["work_size"] = WORK_SIZE if options.get("size") is None else None
    # Under --model auto the device picks the full or the light net.
    facts["device"] = options.get("device") if options.get("model", "auto") == "auto" else None
    facts["livestyle"] = __version__
    return facts


def fingerprint(facts: dict) -> str:
    text = json.dumps(facts, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def net_files(options: dict) -> dict[str, Path]:
    """Every net file a worker may run for these ``create_stylizer`` options, by role (the style's
    name and what the file is), not by path, so that an install moved elsewhere is the same.

    ``--model auto`` leaves the net to the worker (the fast one for streams on a CPU, the full one
    on a GPU or for images, the light AdaIN net where the VGG-16 is missing): both are listed,
    since the machine that plans the batch cannot know where each piece runs. Files that graphs are
    built from on first use are listed too (the checkpoint that ``--fp16`` and the PyTorch backend
    run from, third-party weights), since those graphs follow them.
    """
    from ..paths import exported_dir, vgg_weights
    from ..runtime import registry

    shared = options.get("shared_dir")
    model = options.get("model") or "auto"
    full, fast = model != "fast", model != "full"
    files: dict[str, Path] = {}
    if options.get("style_images"):
        if fast:
            for part, path in (registry.adain_light_graphs(fp16=False) or {}).items():
                files[f"adain_light/{part}"] = path
            files["adain_light/checkpoint"] = registry.adain_light_checkpoint()
        if full:
            files["adain/decoder"] = exported_dir() / registry.ADAIN_DECODER_FILE
            files["adain/vgg16"] = vgg_weights(None, shared)
        return files
    name = options.get("style") or registry.default_style(shared)
    for variant in [v for v, wanted in (("full", full), ("fast", fast)) if wanted]:
        info = registry.resolve_style(name, shared, variant=variant)
        files[f"{info.name}/net"] = info.source
        try:
            weights = registry.weights_for(info)
        except ModelError:
            continue  # the worker says so where it needs them
        if weights != info.source:
            files[f"{info.name}/checkpoint"] = weights
    return files


def net_digests(options: dict) -> dict[str, str | None]:
    """sha256 of each of :func:`net_files` (None for a missing file: the worker will say so).

    The files themselves are hashed, not the manifest's ``sha256`` fields: the manifest covers
    only the shipped ONNX graphs (not their checkpoints, the third-party weights or the VGG-16),
    and a file replaced without its manifest entry would go unnoticed.
    """
    return {role: file_digest(path) for role, path in net_files(options).items()}


# sha256 by file identity: a batch hashes each net once, and a changed file (new inode, size,
# modification or change time) is hashed again.
_DIGESTS: dict[tuple, str] = {}


def file_digest(path: Path) -> str | None:
    try:
        st = Path(path).stat()
    except OSError:
        return None
    key = (str(Path(path).resolve()), st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)
    if key not in _DIGESTS:
        _DIGESTS[key] = sha256_file(path)
    return _DIGESTS[key]


def _style_image_digest(item) -> str:
    if hasattr(item, "tobytes"):  # a painting given as pixels (library use)
        return hashlib.sha256(repr(item.shape).encode() + item.tobytes()).hexdigest()
    digest = file_digest(Path(item))
    if digest is None:
        raise InputError(f"style image not found: {item}")
    return digest


class Records:
    """Records of finished outputs and finished chunks under the output folder's work folder."""

    def __init__(self, work_dir: Path, fingerprint: str):
        self.work_dir, self.fingerprint = work_dir, fingerprint

    def _done_path(self, source: Source) -> Path:
        return self.work_dir / "done" / f"{source.relative}.json"

    def _chunk_path(self, source: Source, index: int) -> Path:
        return self.work_dir / "chunks" / source.relative / f"{index:05d}.json"

    def _read(self, path: Path) -> dict | None:
        try:
            return json.loads(path.read_text())
        except (OSError, ValueError):
            return None  # missing or half-written by a crash: the work is simply redone

    def _write(self, path: Path, record: dict) -> None:
        write_atomically(path, lambda tmp: tmp.write_text(json.dumps(record, indent=1)))

    def _matches(self, record: dict | None, source: Source) -> bool:
        return (record is not None and record.get("version") == RECORD_VERSION
                and record.get("options") == self.fingerprint
                and record.get("input") == _file_facts(source.path))

    def is_complete(self, source: Source, output: Path) -> bool:
        record = self._read(self._done_path(source))
        if not self._matches(record, source) or record.get("output") != _file_facts(output):
            return False
        if source.kind != "video":
            return True
        try:
            return count_frames(output) == record.get("frames")
        except Exception:  # noqa: BLE001 - any failure to read it back means: not complete
            return False

    def wrote(self, source: Source) -> bool:
        """Whether a batch into this folder finished ``source``'s result once (with any options):
        a rerun may then redo that file, while a file of the user's under its name is theirs."""
        return self._done_path(source).is_file()

    def save_done(self, source: Source, output: Path, frames: int) -> None:
        self._write(self._done_path(source), {"version": RECORD_VERSION, "options": self.fingerprint,
                                              "input": _file_facts(source.path),
                                              "output": _file_facts(output), "frames": frames})

    def chunk_done(self, source: Source, unit: WorkUnit) -> bool:
        record = self._read(self._chunk_path(source, unit.span.index))
        if not self._matches(record, source) or record.get("span") != _span_facts(unit.span):
            return False
        return record.get("file") == _file_facts(unit.staged)

    def save_chunk(self, source: Source, unit: WorkUnit) -> None:
        self._write(self._chunk_path(source, unit.span.index),
                    {"version": RECORD_VERSION, "options": self.fingerprint, "input": _file_facts(source.path),
                     "span": _span_facts(unit.span), "file": _file_facts(unit.staged)})

    def forget_chunks(self, source: Source) -> None:
        folder = self.work_dir / "chunks" / source.relative
        if folder.is_dir():
            for item in folder.iterdir():
                item.unlink(missing_ok=True)
            folder.rmdir()


def _file_facts(path: Path) -> dict | None:
    try:
        st = path.stat()
    except OSError:
        return None
    return {"size": st.st_size, "mtime_ns": st.st_mtime_ns}


def _span_facts(span: ChunkSpan) -> list:
    return [span.start_pts, span.end_pts, str(span.time_base)]


# -- the plan ----------------------------------------------------------------------------------


class WorkFolderLock:
    """One batch at a time per output folder: two would redo and rename each other's files."""

    def __init__(self, work_dir: Path):
        try:
            work_dir.mkdir(parents=True, exist_ok=True)
            self._file = open(work_dir / "lock", "w")
        except OSError as exc:
            raise OutputError(f"cannot write in the output folder {work_dir.parent}: {exc.strerror}; "
                              f"choose another -o") from exc
        try:
            fcntl.flock(self._file, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            self._file.close()
            raise OutputError(f"another livestyle batch is writing to {work_dir.parent}; "
                              f"wait for it or choose another output folder") from None

    def release(self) -> None:
        self._file.close()


def plan_batch(sources: list[Source], output_dir: Path, facts: dict, *, chunk_seconds: float,
               stability: float) -> tuple[BatchPlan, Records]:
    """Look at every source once (headers and the first frame) and cut long videos into chunks.

    ``facts`` is :func:`picture_facts` of the options, ``stability`` the blend strength the workers
    will run at (for the warm-up length).
    """
    output_dir = Path(output_dir).resolve()
    try:
        output_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"cannot create the output folder {output_dir}: {exc.strerror}") from exc
    if not os.access(output_dir, os.W_OK):
        raise OutputError(f"output folder {output_dir} is not writable; choose another -o")
    work_dir = output_dir / WORK_FOLDER
    records = Records(work_dir, fingerprint(facts))
    files, skipped, unreadable = [], [], []
    for source in sources:
        output = output_dir / source.relative
        if records.is_complete(source, output):
            skipped.append(source)
            continue
        try:
            files.append(_plan_file(source, output, work_dir, records, chunk_seconds, stability))
        except InputError as exc:
            unreadable.append((source, str(exc)))
    notices = [f"{f.source.relative}: cut into {len(f.chunks)} chunks at keyframes" for f in files if f.chunked]
    return BatchPlan(output_dir, work_dir, files, skipped, unreadable, notices, facts["nets"]), records


def _plan_file(source: Source, output: Path, work_dir: Path, records: Records, chunk_seconds: float,
               stability: float) -> FilePlan:
    staged = work_dir / "staged" / source.relative
    key = str(source.relative)
    if source.kind == "image":
        plan = FilePlan(source, output, staged, 1)
        plan.units.append(WorkUnit(key, "image", source.path, staged, 1))
        return plan
    if source.kind == "other":
        raise InputError(f"{source.path.name} is neither a video ({', '.join(sorted(VIDEO_SUFFIXES))}) "
                         f"nor an image ({', '.join(sorted(IMAGE_SUFFIXES))})")
    with VideoReader(source.path) as reader:
        info = reader.info
    plan = FilePlan(source, output, staged, info.frames, rotation=info.rotation)
    spans = _chunk_spans(source, info, chunk_seconds, stability)
    if len(spans) < 2:
        plan.units.append(WorkUnit(key, "video", source.path, staged, info.frames))
        return plan
    warmup = warmup_frames(stability)
    folder = work_dir / "chunks" / source.relative
    for span in spans:
        end = span.end_pts if span.end_pts is not None else None
        seconds = span.duration if end is not None else info.duration - span.start
        frames = max(1, round(seconds * float(info.fps)))
        unit = WorkUnit(f"{key}#{span.index}", "chunk", source.path,
                        folder / f"{span.index:05d}{source.path.suffix}", frames, span, warmup)
        plan.chunks.append(unit)
        if not records.chunk_done(source, unit):
            plan.units.append(unit)
    # Chunks done by an earlier, interrupted run count as progress already made.
    plan.frames = sum(u.frames for u in plan.units)
    return plan


def _chunk_spans(source: Source, info, chunk_seconds: float, stability: float) -> list[ChunkSpan]:
    if chunk_seconds <= 0 or info.duration < 2 * chunk_seconds:
        return []
    if not can_join(source.path.suffix):
        return []
    # A warm-up longer than the chunk itself (a blend that forgets slowly, or very short chunks)
    # would more than double the work: such a file runs in one piece.
    if warmup_frames(stability) > chunk_seconds * float(info.fps):
        return []
    keys, origin, tb = keyframes(source.path)
    spans = plan_chunks(keys, origin, tb, chunk_seconds)
    end_pts = origin + round(info.duration / tb)
    return drop_short_tail(spans, end_pts, chunk_seconds)


@contextmanager
def planned_job(inputs: list[Path], output_dir: Path, options: dict, chunk_seconds: float,
                overwrite: bool = False) -> Iterator[tuple[BatchPlan, Records]]:
    """Find the sources, lock the output folder for this batch, clear what crashed workers left
    in its work folder and plan the work; the lock is held until the ``with`` block ends. A file
    under a result's name that no batch wrote is refused first, unless ``overwrite``."""
    sources = find_sources(inputs, output_dir)
    facts = picture_facts(options)  # an unknown style or a missing painting fails before any write
    output_dir = Path(output_dir).resolve()
    work_dir = output_dir / WORK_FOLDER
    earlier = Records(work_dir, fingerprint(facts))
    refuse_replacing([output_dir / s.relative for s in sources
                      if (output_dir / s.relative).exists() and not earlier.wrote(s)], overwrite, "output folder")
    lock = WorkFolderLock(work_dir)
    try:
        _clear_leftovers(work_dir)
        yield plan_batch(sources, output_dir, facts, chunk_seconds=chunk_seconds,
                         stability=blend_stability(options))
        _clear_leftovers(work_dir)
    finally:
        lock.release()


def blend_stability(options: dict) -> float:
    """The blend strength video workers will run at: what ``create_stylizer`` makes of the options."""
    from ..runtime.temporal import DEFAULT_STABILITY

    stability = options.get("stability")
    return DEFAULT_STABILITY if stability is None else float(stability)


def _clear_leftovers(work_dir: Path) -> None:
    """Half-written files of workers that died (``VideoWriter``'s and ``write_atomically``'s
    hidden temporary names). Only this batch writes here: it holds the lock."""
    for folder in (work_dir / "staged", work_dir / "chunks"):
        if not folder.is_dir():
            continue
        for path in folder.rglob(".*"):
            if path.is_file():
                path.unlink(missing_ok=True)
        # Deepest first, so a folder emptied by its children's removal goes too.
        for path in sorted((p for p in folder.rglob("*") if p.is_dir()), key=lambda p: -len(p.parts)):
            if not any(path.iterdir()):
                path.rmdir()
