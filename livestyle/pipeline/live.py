"""A live source through a stylizer into live outputs (window, virtual camera, browser, file).

capture (newest frame only) -> inference thread -> sinks on the calling thread (GUI toolkits want
the main thread): latency before throughput. Which style runs comes from a
:class:`~livestyle.pipeline.styles.StyleBank`; the sinks steer the run through the
:class:`~livestyle.media.sinks.base.LiveControls` this pipeline implements. Nothing is printed:
measurements come back as :class:`LiveStats`.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from ..errors import LivestyleError
from ..media.sinks.base import FrameMeta, FrameSink
from ..media.sources import CameraSource, LatestSlot
from .styles import StyleBank
from .threads import Worker


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


class RateMeter:
    """Moving averages over the last ``window`` frames shown: frames per second and capture-to-shown
    latency (a moving average reads steadily where per-frame numbers jump)."""

    def __init__(self, window: int = 30):
        self._shown_at: deque[float] = deque(maxlen=window)
        self._latencies: deque[float] = deque(maxlen=window)

    def record(self, captured_at: float) -> None:
        now = time.monotonic()
        self._shown_at.append(now)
        self._latencies.append(now - captured_at)

    @property
    def fps(self) -> float:
        t = self._shown_at
        return (len(t) - 1) / (t[-1] - t[0]) if len(t) > 1 and t[-1] > t[0] else 0.0

    @property
    def latency_ms(self) -> float:
        return 1000.0 * sum(self._latencies) / len(self._latencies) if self._latencies else 0.0


class LivePipeline:
    """Run ``source`` through the bank's styles into ``sinks`` until the source ends or someone quits.

    The sinks' remote control (:class:`~livestyle.media.sinks.base.LiveControls`): a switch asked
    for by a key or the page takes effect on the inference thread, before the next frame, where
    the bank builds the style if it has not yet (a failure becomes a message, the old style stays).
    """

    def __init__(self, source: CameraSource, styles: StyleBank, sinks: Sequence[FrameSink], *,
                 max_frames: int | None = None, average_over: int = 30):
        self.source, self.sinks, self.max_frames = source, list(sinks), max_frames
        self.bank = styles
        self.style = styles.first.name
        self._stylizer = styles.first
        self.show_original = False
        self.messages: list[str] = []
        self.meter = RateMeter(average_over)
        self._pending: str | None = None
        self._quit = threading.Event()
        self._stop = threading.Event()

    # -- controls ------------------------------------------------------------------------------

    @property
    def styles(self) -> list[str]:
        return self.bank.names

    @property
    def accepts_style_images(self) -> bool:
        return self.bank.accepts_paintings

    def set_style(self, name: str) -> bool:
        if name not in self.bank.names:
            return False
        self._pending = name
        return True

    def add_style_image(self, name: str, image_bgr: np.ndarray) -> str:
        """Queue a painting as a new style (AdaIN); returns the style name it is listed under."""
        key = self.bank.add_painting(name, image_bgr)
        self._pending = key
        return key

    def next_style(self) -> None:
        self._step(1)

    def prev_style(self) -> None:
        self._step(-1)

    def _step(self, delta: int) -> None:
        names = self.bank.names
        current = self._pending or self.style
        self.set_style(names[(names.index(current) + delta) % len(names)])

    def toggle_original(self) -> None:
        self.show_original = not self.show_original

    def quit(self) -> None:
        self._quit.set()

    # -- running -------------------------------------------------------------------------------

    def run(self) -> LiveStats:
        """Block until the source ends, a sink or Ctrl-C quits, or ``max_frames`` were shown.

        Sinks are opened here and always closed, whatever ends the run.
        """
        slot = LatestSlot()
        inference = Worker("livestyle-infer", lambda: self._infer(slot))
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
        return LiveStats(shown, time.monotonic() - t0, self.meter.fps, self.meter.latency_ms,
                         self.source.dropped, ended_by, list(self.messages))

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
                image = captured.image if original else self._stylizer(captured.image)
                slot.put((image, captured, self.style, original))
        finally:
            slot.close()

    def _switch_if_asked(self) -> None:
        name, self._pending = self._pending, None
        if name is None or name == self.style:
            return
        try:
            stylizer = self.bank.get(name)
        except LivestyleError as exc:
            self.messages.append(f"style '{name}' could not be loaded: {exc}")
            return
        if stylizer is None:
            return
        stylizer.reset()  # its temporal history is from another moment
        self._stylizer, self.style = stylizer, name

    def _show(self, item, index: int, sinks) -> None:
        image, captured, style, original = item
        meta = FrameMeta(index, style, original, self.meter.fps, self.meter.latency_ms, captured.captured_at)
        for sink in sinks:
            sink.send(image, meta)
        self.meter.record(captured.captured_at)


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
