"""Record what is shown live to a video file."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import numpy as np

from ..video import VideoWriter, check_video_output
from .base import FrameMeta, LiveControls


class RecorderSink:
    """Record what is shown to a video file; the timing follows capture times, so dropped frames
    leave the recording at real speed instead of fast-forwarding."""

    def __init__(self, path, codec: str | None = None, crf: int | None = None):
        self.target = check_video_output(path, codec)  # now, not after the camera has opened
        self.path = self.target.path
        self.crf = crf
        self._writer: VideoWriter | None = None
        self.notices: list[str] = []
        self.saved: Path | None = None
        self._t0: float | None = None

    def open(self, width: int, height: int, fps: float, controls: LiveControls) -> None:
        rate = Fraction(fps).limit_denominator(1001)
        # veryfast: encoding shares the display thread with everything else live
        self._writer = VideoWriter(self.target, width, height, rate, time_base=Fraction(1, 1000),
                                   crf=self.crf, preset="veryfast")

    def send(self, frame: np.ndarray, meta: FrameMeta) -> None:
        if self._t0 is None:
            self._t0 = meta.captured_at
        self._writer.write(frame, round((meta.captured_at - self._t0) * 1000))

    def close(self) -> None:
        if self._writer is not None:
            writer, self._writer = self._writer, None
            self.saved = writer.close()
            self.notices += writer.notices
