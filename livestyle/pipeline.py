"""Frames through a stylizer: a video file to a video file, or a live source to live outputs.

File: decode -> stylize -> encode on three threads joined by bounded queues, so decoding and
encoding overlap inference and memory stays flat. Live: capture (newest frame only) -> inference
thread -> sinks on the calling thread (GUI toolkits want the main thread), latency before
throughput. Neither prints: progress goes through tqdm, measurements come back as stats.
"""

from __future__ import annotations

import os
import queue
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from .errors import InputError, LivestyleError
from .media.sources import CameraSource, LatestSlot
from .media.video import VideoInfo, VideoReader, VideoWriter

if TYPE_CHECKING:
    from .runtime.stylizer import Stylizer

_END = object()


class _Worker(threading.Thread):
    """A daemon thread that keeps its exception for the thread that joins it."""

    def __init__(self, name: str, target: Callable[[], None]):
        super().__init__(name=name, daemon=True)
        self._target_fn = target
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            self._target_fn()
        except BaseException as exc:  # noqa: BLE001 - handed over to the main thread, never lost
            self.error = exc


def _put(q: queue.Queue, item, stop: threading.Event, consumer: threading.Thread | None = None) -> bool:
    """Put without ever blocking forever: gives up when asked to stop or the consumer died."""
    while True:
        try:
            q.put(item, timeout=0.1)
            return True
        except queue.Full:
            if stop.is_set() or (consumer is not None and not consumer.is_alive()):
                return False


# -- video files -------------------------------------------------------------------------------


@dataclass
class VideoStats:
    frames: int          # frames written
    expected: int        # frames the input part holds (from its header)
    seconds: float       # wall time, opening to finished file
    fps: float           # frames written per second of wall time
    complete: bool       # False when interrupted: the file holds the first ``frames`` frames
    output: Path | None  # None when nothing was written
    notices: list[str] = field(default_factory=list)


def same_file(a, b) -> bool:
    a, b = Path(a), Path(b)
    if a.resolve() == b.resolve():
        return True
    try:
        return a.exists() and b.exists() and os.path.samefile(a, b)
    except OSError:
        return False


def _refuse_overwriting_input(src, dst) -> None:
    if same_file(src, dst):
        raise InputError(f"output {dst} is the input file; choose another output name")


def check_video_job(src, dst, start: float = 0.0, duration: float | None = None,
                    codec: str = "libx264") -> VideoInfo:
    """Find what is wrong with a job before a model is loaded or any file is made."""
    with VideoReader(src, start, duration) as reader:
        info = reader.info
    _refuse_overwriting_input(src, dst)
    VideoWriter.check(dst, codec)
    return info


def stylize_video(src, dst, stylizer: Stylizer, *, start: float = 0.0, duration: float | None = None,
                  codec: str = "libx264", crf: int | None = None, preset: str | None = None, batch: int = 1,
                  queue_size: int = 8, progress: bool = True) -> VideoStats:
    """Stylise ``src`` (or ``duration`` seconds of it from ``start``) into ``dst`` with its audio.

    Ctrl-C returns early with ``complete=False``; ``dst`` is then a playable file with the frames
    done so far. ``batch`` > 1 feeds ``stylizer.stylize_batch`` (worth it on GPUs).
    """
    if batch < 1:
        raise InputError(f"batch must be at least 1, got {batch}")
    t0 = time.perf_counter()
    with VideoReader(src, start, duration) as reader:
        info = reader.info
        _refuse_overwriting_input(src, dst)
        writer = VideoWriter(dst, info.width, info.height, info.fps, time_base=info.time_base,
                             codec=codec, crf=crf, preset=preset, rotation=info.rotation,
                             audio=reader.audio_copy())
        with writer:
            run = _FileRun(reader, writer, stylizer, batch, queue_size, progress)
            interrupted = run.run()
            output = writer.close(interrupted=interrupted)
    seconds = time.perf_counter() - t0
    return VideoStats(writer.frames, info.frames, seconds, writer.frames / seconds if seconds else 0.0,
                      not interrupted, output, list(writer.notices))


class _FileRun:
    def __init__(self, reader: VideoReader, writer: VideoWriter, stylizer, batch: int, queue_size: int,
                 progress: bool):
        self.reader, self.writer, self.stylizer, self.batch = reader, writer, stylizer, batch
        self.stop = threading.Event()
        self.decoded: queue.Queue = queue.Queue(maxsize=queue_size)
        self.stylised: queue.Queue = queue.Queue(maxsize=queue_size)
        self.progress = progress

    def run(self) -> bool:
        """Process everything; returns whether it was interrupted (Ctrl-C)."""
        from tqdm import tqdm

        bar = tqdm(total=self.reader.info.frames, unit="frame", desc=self.writer.path.name,
                   disable=not self.progress, dynamic_ncols=True)
        decoder = _Worker("livestyle-decode", self._decode)
        encoder = _Worker("livestyle-encode", lambda: self._encode(bar))
        decoder.start()
        encoder.start()
        interrupted = False
        try:
            self._infer(decoder, encoder)
        except KeyboardInterrupt:
            interrupted = True
        finally:
            self.stop.set()
            # Frames already stylised still go into the file: the work is done, keep it.
            _put(self.stylised, _END, threading.Event(), encoder)
            encoder.join()
            decoder.join(timeout=5.0)
            bar.close()
        for worker in (encoder, decoder):
            if worker.error is not None:
                raise worker.error
        return interrupted

    def _decode(self) -> None:
        try:
            for frame in self.reader:
                if not _put(self.decoded, frame, self.stop):
                    return
        finally:
            _put(self.decoded, _END, self.stop)

    def _infer(self, decoder: _Worker, encoder: _Worker) -> None:
        self.stylizer.reset()
        done = False
        while not done:
            frames, done = self._take(decoder)
            if not frames:
                continue
            images = [f.image for f in frames]
            if self.batch > 1:
                outputs = self.stylizer.stylize_batch(images)
            else:
                outputs = [self.stylizer(images[0])]
            if not _put(self.stylised, list(zip(outputs, (f.pts for f in frames))), self.stop, encoder):
                return  # the encoder failed; run() re-raises its error

    def _take(self, decoder: _Worker) -> tuple[list, bool]:
        frames = []
        while len(frames) < self.batch:
            try:
                item = self.decoded.get(timeout=0.1)
            except queue.Empty:
                if not decoder.is_alive() and self.decoded.empty():
                    return frames, True
                continue
            if item is _END:
                return frames, True
            frames.append(item)
        return frames, False

    def _encode(self, bar) -> None:
        while True:
            item = self.stylised.get()
            if item is _END:
                return
            for image, pts in item:
                self.writer.write(image, pts)
                bar.update(1)


# -- live --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class FrameMeta:
    index: int           # frames shown so far
    style: str
    original: bool       # True while the unstylised picture is shown
    fps: float           # moving average of frames shown per second
    latency_ms: float    # moving average, capture to shown
    captured_at: float   # time.monotonic() of capture


@dataclass
class LiveStats:
    shown: int
    seconds: float
    fps: float
    latency_ms: float
    dropped: int         # captured frames never stylised (the pipeline was busy)
    ended_by: str        # "quit", "max-frames", "interrupted" or the source's reason
    messages: list[str] = field(default_factory=list)  # style switches that failed, and why

    @property
    def shown_any(self) -> bool:
        return self.shown > 0


class LivePipeline:
    """Run ``source`` through a stylizer into ``sinks`` until the source ends or someone quits.

    It is also the sinks' remote control (``styles``, ``style``, ``set_style``, ``next_style``,
    ``prev_style``, ``add_style_image``, ``toggle_original``, ``quit``). Styles are loaded on the
    inference thread by ``load_style(name)`` the first time they are picked, then kept; paintings
    added live (uploaded to the web page) are loaded by ``load_painting(name, image_bgr)``.
    """

    def __init__(self, source: CameraSource, stylizer: Stylizer, sinks: Sequence, *,
                 styles: Sequence[str] | None = None, load_style: Callable[[str], Stylizer] | None = None,
                 load_painting: Callable[[str, np.ndarray], Stylizer] | None = None,
                 max_frames: int | None = None, average_over: int = 30):
        self.source, self.sinks, self.max_frames = source, list(sinks), max_frames
        self.style = stylizer.name
        self.styles = list(styles or [])
        if self.style not in self.styles:
            self.styles.insert(0, self.style)
        self.show_original = False
        self.messages: list[str] = []
        self._stylizers = {self.style: stylizer}
        self._load_style = load_style
        self._load_painting = load_painting
        self._paintings: dict[str, np.ndarray] = {}
        self._pending: str | None = None
        self._quit = threading.Event()
        self._stop = threading.Event()
        self._shown_at: deque[float] = deque(maxlen=average_over)
        self._latencies: deque[float] = deque(maxlen=average_over)

    # -- controls ------------------------------------------------------------------------------

    def set_style(self, name: str) -> bool:
        if name not in self.styles:
            return False
        self._pending = name
        return True

    @property
    def accepts_style_images(self) -> bool:
        return self._load_painting is not None

    def add_style_image(self, name: str, image_bgr: np.ndarray) -> str:
        """Queue a painting as a new style (AdaIN); returns the style name it is listed under."""
        if self._load_painting is None:
            raise InputError("this stream cannot load style images")
        key = f"image:{name}"
        self._paintings[key] = image_bgr
        self._stylizers.pop(key, None)  # same name uploaded again: the new painting wins
        if key not in self.styles:
            self.styles.append(key)
        self._pending = key
        return key

    def next_style(self) -> None:
        self._step(1)

    def prev_style(self) -> None:
        self._step(-1)

    def _step(self, delta: int) -> None:
        current = self._pending or self.style
        self.set_style(self.styles[(self.styles.index(current) + delta) % len(self.styles)])

    def toggle_original(self) -> None:
        self.show_original = not self.show_original

    def quit(self) -> None:
        self._quit.set()

    # -- measurements --------------------------------------------------------------------------

    @property
    def fps(self) -> float:
        t = self._shown_at
        return (len(t) - 1) / (t[-1] - t[0]) if len(t) > 1 and t[-1] > t[0] else 0.0

    @property
    def latency_ms(self) -> float:
        return 1000.0 * sum(self._latencies) / len(self._latencies) if self._latencies else 0.0

    # -- running -------------------------------------------------------------------------------

    def run(self) -> LiveStats:
        """Block until the source ends, a sink or Ctrl-C quits, or ``max_frames`` were shown.

        Sinks are opened here and always closed, whatever ends the run.
        """
        slot = LatestSlot()
        inference = _Worker("livestyle-infer", lambda: self._infer(slot))
        opened, shown, ended_by = [], 0, None
        t0 = time.monotonic()
        try:
            mode = self.source.mode
            for sink in self.sinks:
                sink.open(mode.width, mode.height, mode.fps, self)
                opened.append(sink)
            inference.start()
            while not self._quit.is_set():
                item = slot.take(timeout=0.25)
                if item is None:
                    if slot.closed:
                        break
                    continue
                self._show(item, shown, opened)
                shown += 1
                if self.max_frames and shown >= self.max_frames:
                    ended_by = "max-frames"
                    break
        except KeyboardInterrupt:
            ended_by = "interrupted"
        finally:
            self._stop.set()
            slot.close()
            if inference.ident is not None:
                inference.join(timeout=10.0)
            _close_all(opened)
        if inference.error is not None:
            raise inference.error
        if ended_by is None:
            ended_by = "quit" if self._quit.is_set() else (self.source.end_reason or "stopped")
        return LiveStats(shown, time.monotonic() - t0, self.fps, self.latency_ms, self.source.dropped,
                         ended_by, list(self.messages))

    def _infer(self, slot: LatestSlot) -> None:
        try:
            while not self._stop.is_set():
                captured = self.source.read(timeout=0.25)
                if captured is None:
                    if self.source.ended:
                        return
                    continue
                self._switch_if_asked()
                original = self.show_original
                image = captured.image if original else self._stylizers[self.style](captured.image)
                slot.put((image, captured, self.style, original))
        finally:
            slot.close()

    def _switch_if_asked(self) -> None:
        name, self._pending = self._pending, None
        if name is None or name == self.style:
            return
        if name not in self._stylizers:
            painting = self._paintings.get(name)
            load = (lambda n: self._load_painting(n, painting)) if painting is not None else self._load_style
            if load is None:
                return
            try:
                self._stylizers[name] = load(name)
            except LivestyleError as exc:
                self.messages.append(f"style '{name}' could not be loaded: {exc}")
                return
        self._stylizers[name].reset()  # its temporal history is from another moment
        self.style = name

    def _show(self, item, index: int, sinks) -> None:
        image, captured, style, original = item
        meta = FrameMeta(index, style, original, self.fps, self.latency_ms, captured.captured_at)
        for sink in sinks:
            sink.send(image, meta)
        now = time.monotonic()
        self._shown_at.append(now)
        self._latencies.append(now - captured.captured_at)


def _close_all(sinks) -> None:
    """Close every sink even when one fails, then raise the first failure."""
    first = None
    for sink in sinks:
        try:
            sink.close()
        except Exception as exc:  # noqa: BLE001 - the others still get closed
            first = first or exc
    if first is not None:
        raise first
