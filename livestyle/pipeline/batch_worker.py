"""One batch worker: builds its stylizers once and runs pieces of work (an image, a video, a chunk)
with them, leaving each result under the piece's staged name.

Plain Python, no Ray: ``batch.py`` makes it a Ray actor, and tests can run it in-process. A piece
never raises; what went wrong comes back in its :class:`UnitResult`, so one bad file cannot take
a worker (and with it the model it loaded) down.
"""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import LivestyleError, ModelError
from .batch_plan import WorkUnit, net_digests
from .chunks import continuing, warm_up

# Test hook: "exit-once:<marker file>" makes the first worker to get that far die in the middle of
# a video (os._exit, as a crash or the OOM killer would), once per marker file. Read by the
# driver and handed over in the worker's settings, so it reaches workers on every node.
FAULT_ENV = "LIVESTYLE_BATCH_FAULT"
FAULT_AFTER_FRAMES = 3

# How often a worker reports frames done; more often only adds messages.
REPORT_EVERY_S = 0.5


@dataclass(frozen=True)
class WorkerSettings:
    video_options: dict            # create_stylizer keyword arguments for videos (streaming)
    image_options: dict            # ... and for images
    codec: str | None = None       # None: the container's usual encoder, as in livestyle video
    crf: int | None = None
    preset: str | None = None
    batch: int = 1
    fault: str | None = None
    nets: dict | None = None       # net_digests the batch was planned with; None: not checked


@dataclass(frozen=True)
class UnitResult:
    key: str
    frames: int = 0                   # frames written; 0 when it failed
    seconds: float = 0.0              # wall time of the piece, model loading included
    load_seconds: float = 0.0         # model loading this piece paid for (first use on a worker)
    error: str | None = None          # why it failed, one line
    setup_error: bool = False         # the stylizer could not be built: every piece would fail
    notices: tuple[str, ...] = field(default_factory=tuple)

    @property
    def ok(self) -> bool:
        return self.error is None


class BatchWorker:
    def __init__(self, settings: WorkerSettings, report: Callable[[str, int], None] | None = None):
        self.settings = settings
        self._report = report
        self._stylizers: dict[str, object] = {}
        self._last_report = 0.0

    def run(self, unit: WorkUnit) -> UnitResult:
        t0 = time.perf_counter()
        kind = "image" if unit.kind == "image" else "video"
        load_seconds = 0.0
        try:
            if kind not in self._stylizers:
                load_seconds = self._load(kind)
        except LivestyleError as exc:
            return UnitResult(unit.key, error=str(exc), setup_error=True)
        try:
            frames, notices = self._run(unit, self._stylizers[kind])
        except LivestyleError as exc:
            return UnitResult(unit.key, seconds=time.perf_counter() - t0, load_seconds=load_seconds,
                              error=str(exc))
        except Exception as exc:  # noqa: BLE001 - one file's surprise must not end the worker
            return UnitResult(unit.key, seconds=time.perf_counter() - t0, load_seconds=load_seconds,
                              error=f"{type(exc).__name__}: {exc}")
        return UnitResult(unit.key, frames, time.perf_counter() - t0, load_seconds, notices=tuple(notices))

    def _load(self, kind: str) -> float:
        from ..runtime.factory import create_stylizer

        t0 = time.perf_counter()
        if not self._stylizers:
            self._check_nets()
        options = self.settings.video_options if kind == "video" else self.settings.image_options
        self._stylizers[kind] = create_stylizer(**options)
        return time.perf_counter() - t0

    def _check_nets(self) -> None:
        """The nets on this worker's machine must be the ones the records will name: a node with
        another livestyle install (or another LIVESTYLE_EXPORTED) would write other pictures
        under the same fingerprint."""
        expected = self.settings.nets
        if expected is None:
            return
        here = net_digests(self.settings.video_options)
        differ = sorted(role for role in expected.keys() | here.keys() if expected.get(role) != here.get(role))
        if differ:
            raise ModelError(f"the nets on {socket.gethostname()} differ from the ones on the machine that "
                             f"planned the batch ({', '.join(differ)}); give every node the same livestyle "
                             f"install and models")

    def _run(self, unit: WorkUnit, stylizer) -> tuple[int, list[str]]:
        unit.staged.parent.mkdir(parents=True, exist_ok=True)
        if unit.kind == "image":
            from ..media.images import read_image, write_image

            write_image(unit.staged, stylizer(read_image(unit.source)))
            self._tell(unit.key, 1)
            return 1, []
        from .file import stylize_video

        s = self.settings
        counted = _Counting(stylizer, lambda frames: self._frame_done(unit.key, frames))
        if unit.kind == "chunk":
            stylizer.reset()
            warm_up(unit.source, stylizer, unit.span, unit.warmup)
            counted = continuing(counted)
        span = unit.span
        stats = stylize_video(unit.source, unit.staged, counted,
                              start=span.start if span else 0.0, duration=span.duration if span else None,
                              codec=s.codec, crf=s.crf, preset=s.preset, batch=s.batch, progress=False)
        if not stats.complete or stats.output is None:
            raise LivestyleError(f"stopped after {stats.frames} of {stats.expected} frames")
        self._tell(unit.key, stats.frames)
        return stats.frames, list(stats.notices)

    def _frame_done(self, key: str, frames: int) -> None:
        fault = self.settings.fault
        if fault and fault.startswith("exit-once:") and frames >= FAULT_AFTER_FRAMES:
            _exit_once(Path(fault.split(":", 1)[1]))
        now = time.monotonic()
        if now - self._last_report >= REPORT_EVERY_S:
            self._last_report = now
            self._tell(key, frames)

    def _tell(self, key: str, frames: int) -> None:
        if self._report is not None:
            self._report(key, frames)


def _exit_once(marker: Path) -> None:
    try:
        fd = os.open(marker, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
    except FileExistsError:
        return
    os.write(fd, str(os.getpid()).encode())
    os.close(fd)
    os._exit(70)


class _Counting:
    """The stylizer, telling ``frame_done`` the running count after every frame."""

    def __init__(self, stylizer, frame_done: Callable[[int], None]):
        self._stylizer, self._frame_done = stylizer, frame_done
        self.frames = 0

    def __call__(self, frame):
        out = self._stylizer(frame)
        self._count(1)
        return out

    def stylize_batch(self, frames):
        out = self._stylizer.stylize_batch(frames)
        self._count(len(frames))
        return out

    def stylize_stream(self, frames):
        from ..runtime.stylizer import stream_frames

        for out in stream_frames(self._stylizer, frames):
            self._count(1)
            yield out

    def _count(self, n: int) -> None:
        self.frames += n
        self._frame_done(self.frames)

    def reset(self) -> None:
        self._stylizer.reset()

    def __getattr__(self, name):
        return getattr(self._stylizer, name)
