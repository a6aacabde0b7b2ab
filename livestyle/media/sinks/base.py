"""The contract between the live pipeline and the places its frames go.

A sink codes against :class:`FrameSink` and :class:`LiveControls` only, never against the pipeline
itself, so a new output (an RTMP stream, an NDI source) is one class here and nothing elsewhere.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np


@dataclass(frozen=True)
class FrameMeta:
    """What a sink may show beside a frame."""

    index: int           # frames shown so far
    style: str
    original: bool       # True while the unstylised picture is shown
    fps: float           # moving average of frames shown per second
    latency_ms: float    # moving average, capture to shown
    captured_at: float   # time.monotonic() of capture
    work_size: tuple[int, int] | None = None   # (w, h) the frame was stylised at; None: not known
    overlay: bool = True                       # whether views that can show the figures should
    target_fps: float | None = None            # the rate the working size adapts to hold, if it does

    def summary(self) -> str:
        """One line for an overlay: style, frame rate, latency and the size stylised at."""
        label = "original" if self.original else self.style
        text = f"{label}  {self.fps:4.1f} fps  {self.latency_ms:3.0f} ms"
        if self.work_size and not self.original:
            text += f"  {self.work_size[0]}x{self.work_size[1]}"
        return text


class LiveControls(Protocol):
    """The remote control a sink gets when it opens: keys and the web page drive the run with it."""

    @property
    def styles(self) -> list[str]:
        """Names a picker offers, in order."""

    @property
    def style(self) -> str:
        """The style being shown (or about to be, once switched)."""

    @property
    def accepts_style_images(self) -> bool:
        """Whether :meth:`add_style_image` can load a painting as a new style."""

    def set_style(self, name: str) -> bool:
        """Switch to ``name``; False when it is not one of :attr:`styles`."""

    def add_style_image(self, name: str, image_bgr: np.ndarray) -> str:
        """Load a painting as a style and switch to it; returns the name it is listed under."""

    def next_style(self) -> None: ...

    def prev_style(self) -> None: ...

    def toggle_original(self) -> None: ...

    @property
    def overlay(self) -> bool:
        """Whether the window and the page show the frame rate and latency (recordings never do)."""

    def toggle_overlay(self) -> None: ...

    def quit(self) -> None: ...


class FrameSink(Protocol):
    """Every sink's life: built (cheap checks that can fail before a camera or a model is opened),
    :meth:`open` once, :meth:`send` per frame on the pipeline's display thread, :meth:`close` once,
    whatever ended the run."""

    def open(self, width: int, height: int, fps: float, controls: LiveControls) -> None: ...

    def send(self, frame: np.ndarray, meta: FrameMeta) -> None: ...

    def close(self) -> None: ...
