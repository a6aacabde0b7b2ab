"""An OpenCV window with a style/FPS/latency/size overlay, driven by keys."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import cv2
import numpy as np

from ...errors import SinkError
from ..images import write_image
from .base import FrameMeta, LiveControls


def display_available() -> bool:
    """Whether a GUI window can open: asking OpenCV's Qt without a display aborts the process,
    which no ``except`` can turn into a message."""
    if not sys.platform.startswith("linux"):
        return True
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


class WindowSink:
    """An OpenCV window with a style/FPS/latency/size overlay.

    Keys: n / p next / previous style, space original <-> stylised, i overlay on/off, s snapshot
    (the clean frame, never the overlay), q / Esc quit.
    """

    TITLE = "livestyle"

    def __init__(self, snapshot_dir="."):
        if not display_available():
            raise SinkError("no display to open a window on (DISPLAY is not set); run with "
                            "--no-window and --serve PORT (watch in a browser) or --virtual-cam")
        self.snapshot_dir = Path(snapshot_dir)
        self.snapshots: list[Path] = []
        self.controls: LiveControls | None = None
        self.last_frame: np.ndarray | None = None   # what is on screen: the snapshot key saves it
        self._opened = False

    def open(self, width: int, height: int, fps: float, controls: LiveControls) -> None:
        self.controls = controls
        try:
            cv2.namedWindow(self.TITLE, cv2.WINDOW_NORMAL | cv2.WINDOW_KEEPRATIO)
            cv2.resizeWindow(self.TITLE, width, height)
        except cv2.error as exc:
            raise SinkError("this OpenCV has no GUI support (opencv-python-headless?); install "
                            "opencv-python, or use --no-window with --serve PORT or --virtual-cam") from exc
        self._opened = True

    def send(self, frame: np.ndarray, meta: FrameMeta) -> None:
        self.last_frame = frame
        cv2.imshow(self.TITLE, overlay(frame, meta) if meta.overlay else frame)
        self.handle_key(cv2.waitKey(1))
        if cv2.getWindowProperty(self.TITLE, cv2.WND_PROP_VISIBLE) < 1:
            self.controls.quit()  # the user closed the window

    def handle_key(self, key: int) -> None:
        if key < 0:
            return
        key &= 0xFF
        c = self.controls
        if key in (ord("q"), 27):
            c.quit()
        elif key == ord("n"):
            c.next_style()
        elif key == ord("p"):
            c.prev_style()
        elif key == ord(" "):
            c.toggle_original()
        elif key == ord("i"):
            c.toggle_overlay()
        elif key == ord("s") and self.last_frame is not None:
            stamp = time.strftime("%Y%m%d-%H%M%S")
            path = self.snapshot_dir / f"livestyle-{stamp}-{len(self.snapshots):03d}.png"
            self.snapshots.append(write_image(path, self.last_frame))

    def close(self) -> None:
        if self._opened:
            cv2.destroyWindow(self.TITLE)
            cv2.waitKey(1)  # lets the GUI thread actually remove the window
            self._opened = False


def overlay(frame: np.ndarray, meta: FrameMeta) -> np.ndarray:
    """Style name, FPS, capture-to-display latency and working size in the top-left corner, on a
    copy (the frame itself also goes to recordings)."""
    text = meta.summary()
    out = frame.copy()
    scale = max(0.4, frame.shape[0] / 720)
    origin = (int(10 * scale), int(28 * scale))
    cv2.putText(out, text, origin, cv2.FONT_HERSHEY_SIMPLEX, scale, (0, 0, 0), max(3, int(4 * scale)), cv2.LINE_AA)
    cv2.putText(out, text, origin, cv2.FONT_HERSHEY_SIMPLEX, scale, (255, 255, 255), max(1, int(scale * 1.5)),
                cv2.LINE_AA)
    return out
