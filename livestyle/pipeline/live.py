"""A live source through a stylizer into live outputs (window, virtual camera, browser, file).

Three threads, each handing the next one a single item that a newer one replaces: capture (the
source's thread keeps the newest frame only) -> stylisation (a worker) -> display, on the calling
thread (GUI toolkits want the main thread). A frame nobody took in time is dropped, never queued:
latency before throughput.

The pipeline decides the working size itself: each frame is brought to it (averaging), stylised
as it is, and the result stretched back to the camera's size (bilinear: a few milliseconds where
the photo-detail enlargement of stills would cost most of a frame's budget). With a
:class:`~livestyle.pipeline.adaptive.SizeController` the stylisation thread times every frame and
stylises the next one at the size the controller picks, so the stream keeps up with the camera
on whatever machine runs it; ``size`` fixes it instead.

Which style runs comes from a :class:`~livestyle.pipeline.styles.StyleBank`; the sinks steer the
run through the :class:`~livestyle.media.sinks.base.LiveControls` this pipeline implements.
Nothing is printed: measurements come back as :class:`LiveStats`, and size changes are told to
``on_notice`` as one-line messages.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import cv2
import numpy as np

from ..errors import LivestyleError
from ..media.sinks.base import FrameMeta, FrameSink
from ..media.sources import CameraSource, LatestSlot
from .adaptive import SizeController, working_dims
from .styles import StyleBank
from .threads import Worker


@dataclass
class LiveStats:
    shown: int
    seconds: float
    fps: float           # frames shown per second, first to last shown
    latency_ms: float    # capture to shown, median over the run
    dropped: int         # captured frames never stylised (the pipeline was busy)
    ended_by: str        # "quit", "max-frames", "interrupted" or the source's reason
    messages: list[str] = field(default_factory=list)  # style switches that failed, and why
    latency_p95_ms: float = 0.0
    work_size: tuple[int, int] | None = None  # (w, h) the last frame was stylised at; None: not known
    size_changes: int = 0

    @property
    def shown_any(self) -> bool:
        return self.shown > 0


class RateMeter:
    """Frames per second and capture-to-shown latency: moving averages over the last ``window``
    frames for the overlay (they read steadily where per-frame numbers jump), and the whole run's
    figures for the summary."""

    def __init__(self, window: int = 30):
        self._shown_at: deque[float] = deque(maxlen=window)
        self._latencies: deque[float] = deque(maxlen=window)
        self._all_latencies: list[float] = []
        self._first: float | None = None
        self._last: float | None = None

    def record(self, captured_at: float) -> None:
        now = time.monotonic()
        self._shown_at.append(now)
        self._latencies.append(now - captured_at)
        self._all_latencies.append(now - captured_at)
        self._first = now if self._first is None else self._first
        self._last = now

    @property
    def fps(self) -> float:
        t = self._shown_at
        return (len(t) - 1) / (t[-1] - t[0]) if len(t) > 1 and t[-1] > t[0] else 0.0

    @property
    def latency_ms(self) -> float:
        return 1000.0 * sum(self._latencies) / len(self._latencies) if self._latencies else 0.0

    @property
    def run_fps(self) -> float:
        n = len(self._all_latencies)
        return (n - 1) / (self._last - self._first) if n > 1 and self._last > self._first else 0.0

    def run_latency_ms(self, percentile: float = 50) -> float:
        if not self._all_latencies:
            return 0.0
        return 1000.0 * float(np.percentile(self._all_latencies, percentile))


class LivePipeline:
    """Run ``source`` through the bank's styles into ``sinks`` until the source ends or someone quits.

    The sinks' remote control (:class:`~livestyle.media.sinks.base.LiveControls`): a switch asked
    for by a key or the page takes effect on the inference thread, before the next frame, where
    the bank builds the style if it has not yet (a failure becomes a message, the old style stays).

    ``size_control`` adapts the working size (long side) to the measured stylisation time;
    ``size`` fixes it; with neither, frames are stylised as the stylizer's own settings say.
    ``overlay`` is whether the window and the page show the frame rate and latency at the start
    (a key and the page's button toggle it); recordings and virtual cameras never get it.
    """

    def __init__(self, source: CameraSource, styles: StyleBank, sinks: Sequence[FrameSink], *,
                 max_frames: int | None = None, average_over: int = 30,
                 size_control: SizeController | None = None, size: int | None = None,
                 overlay: bool = True, on_notice: Callable[[str], None] | None = None):
        if size_control is not None and size is not None:
            raise ValueError("give size_control (adapting) or size (fixed), not both")
        self.source, self.sinks, self.max_frames = source, list(sinks), max_frames
        self.bank = styles
        self.style = styles.first.name
        self._stylizer = styles.first
        self.show_original = False
        self.overlay = overlay
        self.messages: list[str] = []
        self.meter = RateMeter(average_over)
        self.size_control = size_control
        self._fixed_size = size
        self._on_notice = on_notice
        self._input_wh = (source.mode.width, source.mode.height)
        self._pending: str | None = None
        self._quit = threading.Event()
        self._stop = threading.Event()
        self._apply_size(self._stylizer)

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

    def toggle_overlay(self) -> None:
        self.overlay = not self.overlay

    @property
    def target_fps(self) -> float | None:
        return self.size_control.target_fps if self.size_control else None

    @property
    def work_side(self) -> int | None:
        """The long side frames are stylised at now; None: left to the stylizer."""
        return self.size_control.size if self.size_control is not None else self._fixed_size

    @property
    def work_size(self) -> tuple[int, int] | None:
        """(width, height) frames are stylised at now; None when the stylizer decides and does
        not say."""
        side = self.work_side
        if side is None:
            side = getattr(self._stylizer, "size", False)
            if side is False:
                return None
        return working_dims(self._input_wh, side)

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
        meter = self.meter
        return LiveStats(shown, time.monotonic() - t0, meter.run_fps, meter.run_latency_ms(50),
                         self.source.dropped, ended_by, list(self.messages),
                         latency_p95_ms=meter.run_latency_ms(95), work_size=self.work_size,
                         size_changes=self.size_control.changes if self.size_control else 0)

    def _infer(self, slot: LatestSlot) -> None:
        try:
            while not self._stop.is_set():
                captured = self.source.read(timeout=0.25)
                if captured is None:
                    if self.source.ended:
                        return
                    continue
                self._switch_if_asked()
                original, work_size = self.show_original, self.work_size
                if original:
                    image = captured.image
                else:
                    started = time.perf_counter()
                    image = self._stylize(captured.image)
                    self._adapt(time.perf_counter() - started)
                slot.put((image, captured, self.style, original, work_size))
        finally:
            slot.close()

    def _stylize(self, frame: np.ndarray) -> np.ndarray:
        """``frame`` stylised at the working size, returned at its own size."""
        side = self.work_side
        h, w = frame.shape[:2]
        if side is None or side == max(h, w):
            return self._stylizer(frame)
        work = working_dims((w, h), side)
        small = cv2.resize(frame, work, interpolation=cv2.INTER_AREA if side < max(h, w) else cv2.INTER_LINEAR)
        out = self._stylizer(small)
        if out.shape[:2] != (h, w):
            shrink = out.shape[0] > h
            out = cv2.resize(out, (w, h), interpolation=cv2.INTER_AREA if shrink else cv2.INTER_LINEAR)
        return out

    def _adapt(self, seconds: float) -> None:
        """One frame's stylisation time to the controller; a new size applies from the next frame."""
        control = self.size_control
        if control is None:
            return
        before = control.size
        if control.record(seconds) is None:
            return
        self._apply_size(self._stylizer)
        if self._on_notice is not None:
            old, new = working_dims(self._input_wh, before), working_dims(self._input_wh, control.size)
            self._on_notice(f"stylising at {new[0]}x{new[1]} (frames took {1000 * control.decided_on:.0f} ms "
                            f"at {old[0]}x{old[1]}; {1000 * control.budget:.0f} ms a frame holds "
                            f"{control.target_fps:.3g} fps)")

    def _apply_size(self, stylizer) -> None:
        # Frames arrive at the working size; a stylizer told that size (its ``size``, the long
        # side) leaves them as they are, whatever its own default for large frames.
        side = self.work_side
        if side is not None and hasattr(stylizer, "size"):
            stylizer.size = side

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
        self._apply_size(stylizer)
        if self.size_control is not None:
            self.size_control.reset()  # another net: its own timings
        self._stylizer, self.style = stylizer, name

    def _show(self, item, index: int, sinks) -> None:
        image, captured, style, original, work_size = item
        meta = FrameMeta(index, style, original, self.meter.fps, self.meter.latency_ms, captured.captured_at,
                         work_size=work_size, overlay=self.overlay, target_fps=self.target_fps)
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
