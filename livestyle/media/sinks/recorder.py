"""Record what is shown live to a video file."""

from __future__ import annotations

import queue
import threading
from fractions import Fraction
from pathlib import Path

import numpy as np

from ..video import VideoWriter, check_video_output
from .base import FrameMeta, LiveControls

# Frames waiting for the encoder. Encoding runs on a thread of its own, so the display thread
# hands a frame over and goes back to showing; a recording keeps every frame shown, so when the
# encoder falls this far behind the display waits for it rather than the file losing frames.
BACKLOG = 8
_END = object()


class RecorderSink:
    """Record what is shown to a video file, without the overlay; the timing follows capture
    times, so dropped frames leave the recording at real speed instead of fast-forwarding."""

    def __init__(self, path, codec: str | None = None, crf: int | None = None, preset: str = "superfast"):
        self.target = check_video_output(path, codec)  # now, not after the camera has opened
        self.path = self.target.path
        self.crf, self.preset = crf, preset
        self._writer: VideoWriter | None = None
        self.notices: list[str] = []
        self.saved: Path | None = None
        self._t0: float | None = None
        self._queue: queue.Queue = queue.Queue(BACKLOG)
        self._encoder: threading.Thread | None = None
        self._error: BaseException | None = None

    def open(self, width: int, height: int, fps: float, controls: LiveControls) -> None:
        rate = Fraction(fps).limit_denominator(1001)
        # superfast: the encoder shares the cores with capture and stylisation, and every
        # millisecond it takes is one the working size cannot have; slower presets buy a smaller
        # file at the same quality, not a better picture (docs/webcam.md)
        self._writer = VideoWriter(self.target, width, height, rate, time_base=Fraction(1, 1000),
                                   crf=self.crf, preset=self.preset)
        self._encoder = threading.Thread(target=self._encode, args=(self._writer,), name="livestyle-record",
                                         daemon=True)
        self._encoder.start()

    def send(self, frame: np.ndarray, meta: FrameMeta) -> None:
        if self._t0 is None:
            self._t0 = meta.captured_at
        self._hand_over((frame, round((meta.captured_at - self._t0) * 1000)))

    def _hand_over(self, item) -> None:
        """Queue ``item`` for the encoder, waiting while the backlog is full; an encoder that
        failed raises its error here, on the display thread, instead of taking frames."""
        while True:
            self._raise_failure()
            try:
                self._queue.put(item, timeout=0.1)
                return
            except queue.Full:
                continue

    def _encode(self, writer: VideoWriter) -> None:
        try:
            while (item := self._queue.get()) is not _END:
                writer.write(*item)
        except BaseException as exc:  # noqa: BLE001 - raised on the display thread
            self._error = exc

    def _raise_failure(self) -> None:
        error, self._error = self._error, None
        if error is not None:
            raise error

    def close(self) -> None:
        if self._writer is None:
            return
        writer, self._writer = self._writer, None
        encoder = self._encoder
        if encoder is not None and encoder.is_alive():
            while encoder.is_alive():   # the backlog is written before the file is finished
                try:
                    self._queue.put(_END, timeout=0.1)
                    break
                except queue.Full:
                    continue
            encoder.join()
        self.saved = writer.close()
        self.notices += writer.notices
        self._raise_failure()
