"""A video file through a stylizer into a video file, with its audio, timing and rotation kept.

decode -> stylize -> encode on three threads joined by bounded queues, so decoding and encoding
overlap inference and memory stays flat. Progress goes through tqdm; nothing is printed.

A :class:`VideoJob` is checked before any model loads (``livestyle video`` opens it first): the
input is opened and probed once and stays open for the run, the output is vetted once.
"""

from __future__ import annotations

import queue
import threading
import time
from collections import deque
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import InputError
from ..fileio import refuse_overwriting_inputs
from ..media.video import VideoInfo, VideoReader, VideoWriter, check_video_output
from .threads import END, Worker, put

if TYPE_CHECKING:
    from ..runtime.stylizer import Stylizer


# Decoded and stylised frames wait between the threads at full size: eight of them per queue
# would be 1.6 GB at 8K (100 MB a frame). Each queue holds at most this much (and at least two
# frames, so that decoding and encoding still overlap inference); 1080p keeps all eight.
QUEUE_BYTES = 64 * 2**20


def queue_frames(width: int, height: int, most: int) -> int:
    """Frames a queue between the threads holds for frames of width x height (at most ``most``)."""
    return max(2, min(most, QUEUE_BYTES // max(1, width * height * 3)))


@dataclass
class VideoStats:
    frames: int          # frames written
    expected: int        # frames the input part holds (from its header)
    seconds: float       # wall time, first frame decoded to finished file
    fps: float           # frames written per second of wall time
    complete: bool       # False when interrupted: the file holds the first ``frames`` frames
    output: Path | None  # None when nothing was written
    notices: list[str] = field(default_factory=list)


class VideoJob:
    """``src`` (or ``duration`` seconds of it from ``start``) to ``dst``, checked up front.

    Opening finds what is wrong with the job before a model is loaded or any file is made; the
    input stays open until :meth:`close` (``with contextlib.closing(VideoJob(...))``).
    """

    def __init__(self, src, dst, start: float = 0.0, duration: float | None = None, codec: str | None = None):
        self.reader = VideoReader(src, start, duration)
        try:
            refuse_overwriting_inputs(dst, [src])
            self.target = check_video_output(dst, codec)
        except BaseException:
            self.reader.close()
            raise

    @property
    def info(self) -> VideoInfo:
        return self.reader.info

    def run(self, stylizer: Stylizer, *, crf: int | None = None, preset: str | None = None, batch: int = 1,
            queue_size: int = 8, progress: bool = True, gif_long_side: int | None = None) -> VideoStats:
        """Stylise the whole part into the output (once per job: the input is read as it goes).

        Ctrl-C returns early with ``complete=False``; the output is then a playable file with the
        frames done so far. ``batch`` > 1 feeds ``stylizer.stylize_batch`` (worth it on GPUs).
        ``gif_long_side``: a GIF's long side (default :data:`~livestyle.media.video.GIF_LONG_SIDE`).
        """
        if batch < 1:
            raise InputError(f"batch must be at least 1, got {batch}")
        t0 = time.perf_counter()
        info = self.info
        writer = VideoWriter(self.target, info.width, info.height, info.fps, time_base=info.time_base,
                             crf=crf, preset=preset, rotation=info.rotation, audio=self.reader.audio_copy(),
                             gif_long_side=gif_long_side)
        with writer:
            frames = queue_frames(info.width, info.height, queue_size)
            interrupted = _FileRun(self.reader, writer, stylizer, batch, frames, progress).run()
            output = writer.close(interrupted=interrupted)
        seconds = time.perf_counter() - t0
        return VideoStats(writer.frames, info.frames, seconds, writer.frames / seconds if seconds else 0.0,
                          not interrupted, output, list(writer.notices))

    def close(self) -> None:
        self.reader.close()


def stylize_video(src, dst, stylizer: Stylizer, *, start: float = 0.0, duration: float | None = None,
                  codec: str | None = None, crf: int | None = None, preset: str | None = None, batch: int = 1,
                  queue_size: int = 8, progress: bool = True) -> VideoStats:
    """:class:`VideoJob` opened and run in one call (for callers with the stylizer at hand)."""
    if batch < 1:
        raise InputError(f"batch must be at least 1, got {batch}")
    with closing(VideoJob(src, dst, start, duration, codec)) as job:
        return job.run(stylizer, crf=crf, preset=preset, batch=batch, queue_size=queue_size, progress=progress)


class _FileRun:
    def __init__(self, reader: VideoReader, writer: VideoWriter, stylizer, batch: int, queue_size: int,
                 progress: bool):
        self.reader, self.writer, self.stylizer, self.batch = reader, writer, stylizer, batch
        self.stop = threading.Event()
        self.decoded: queue.Queue = queue.Queue(maxsize=queue_size)
        # Its items are lists of ``batch`` frames: as many frames wait here as in ``decoded``.
        self.stylized: queue.Queue = queue.Queue(maxsize=max(2, queue_size // batch))
        self.progress = progress

    def run(self) -> bool:
        """Process everything; returns whether it was interrupted (Ctrl-C)."""
        from tqdm import tqdm

        bar = tqdm(total=self.reader.info.frames, unit="frame", desc=self.writer.path.name,
                   disable=not self.progress, dynamic_ncols=True)
        decoder = Worker("livestyle-decode", self._decode)
        encoder = Worker("livestyle-encode", lambda: self._encode(bar))
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
            put(self.stylized, END, threading.Event(), encoder)
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
                if not put(self.decoded, frame, self.stop):
                    return
        finally:
            put(self.decoded, END, self.stop)

    def _infer(self, decoder: Worker, encoder: Worker) -> None:
        self.stylizer.reset()
        if self.batch == 1:
            self._infer_stream(decoder, encoder)
            return
        done = False
        while not done:
            frames, done = self._take(decoder)
            if not frames:
                continue
            outputs = self.stylizer.stylize_batch([f.image for f in frames])
            if not put(self.stylized, list(zip(outputs, (f.pts for f in frames))), self.stop, encoder):
                return  # the encoder failed; run() re-raises its error

    def _infer_stream(self, decoder: Worker, encoder: Worker) -> None:
        """One frame at a time through the stylizer's pipelined stream (CPU: the default)."""
        times: deque = deque()

        def images():
            done = False
            while not done:
                frames, done = self._take(decoder)
                for f in frames:
                    times.append(f.pts)
                    yield f.image

        from ..runtime.stylizer import stream_frames

        for output in stream_frames(self.stylizer, images()):
            if not put(self.stylized, [(output, times.popleft())], self.stop, encoder):
                return  # the encoder failed; run() re-raises its error

    def _take(self, decoder: Worker) -> tuple[list, bool]:
        frames = []
        while len(frames) < self.batch:
            try:
                item = self.decoded.get(timeout=0.1)
            except queue.Empty:
                if not decoder.is_alive() and self.decoded.empty():
                    return frames, True
                continue
            if item is END:
                return frames, True
            frames.append(item)
        return frames, False

    def _encode(self, bar) -> None:
        while True:
            item = self.stylized.get()
            if item is END:
                return
            for image, pts in item:
                self.writer.write(image, pts)
                bar.update(1)
