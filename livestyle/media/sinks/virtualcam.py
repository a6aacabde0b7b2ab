"""Frames to a virtual webcam (pyvirtualcam) that Zoom, Meet, OBS... can select."""

from __future__ import annotations

import sys

import cv2
import numpy as np

from ...errors import SinkError
from .base import FrameMeta, LiveControls


def virtual_camera_hint() -> str:
    if sys.platform.startswith("linux"):
        return ("install v4l2loopback (e.g. 'sudo apt install v4l2loopback-dkms' then "
                "'sudo modprobe v4l2loopback devices=1 exclusive_caps=1')")
    if sys.platform == "darwin":
        return "install OBS Studio 30+ and start its Virtual Camera once"
    return "install OBS Studio (it provides the OBS Virtual Camera) or Unity Capture"


class VirtualCamSink:
    """Frames to a virtual webcam (pyvirtualcam), in BGR so nothing converts on the way.

    The pipeline paces frames (they arrive when the camera delivers), so there is no
    ``sleep_until_next_frame`` here.
    """

    def __init__(self, device: str | None = None, backend: str | None = None):
        try:
            import pyvirtualcam  # noqa: F401 - fail before the camera and the model open
        except ImportError as exc:
            raise SinkError("--virtual-cam needs the pyvirtualcam package: pip install pyvirtualcam") from exc
        self.device, self.backend = device, backend
        self._cam = None
        self.granted: str | None = None

    def open(self, width: int, height: int, fps: float, controls: LiveControls) -> None:
        import pyvirtualcam

        try:
            self._cam = pyvirtualcam.Camera(width, height, fps, fmt=pyvirtualcam.PixelFormat.BGR,
                                            device=self.device, backend=self.backend)
        except RuntimeError as exc:
            reasons = "; ".join(line.strip() for line in str(exc).splitlines() if line.strip())
            raise SinkError(f"no virtual camera available ({reasons}); {virtual_camera_hint()}") from exc
        cam = self._cam
        # What the backend granted, which can differ from what was asked (pyvirtualcam's advice).
        self.granted = f"{cam.device} ({cam.backend}) {cam.width}x{cam.height} @ {cam.fps:g} fps"

    def send(self, frame: np.ndarray, meta: FrameMeta) -> None:
        cam = self._cam
        if frame.shape[1] != cam.width or frame.shape[0] != cam.height:
            frame = cv2.resize(frame, (cam.width, cam.height), interpolation=cv2.INTER_AREA)
        cam.send(np.ascontiguousarray(frame))

    def close(self) -> None:
        if self._cam is not None:
            self._cam.close()
            self._cam = None
