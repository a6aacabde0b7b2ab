"""Test clips written with straight PyAV, so the code under test does not make its own fixtures."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path
from typing import Iterable

import cv2  # noqa: F401  isort: skip - before av, see livestyle/media/video.py
import av  # isort: skip
import numpy as np


def write_clip(path: Path, frames: Iterable[np.ndarray], fps: Fraction, audio: str | None = "aac",
               rotation: int = 0, gop: int | None = None) -> Path:
    """H.264 from BGR frames, with a 440 Hz stereo tone as long as the video when ``audio`` names
    a codec (e.g. aac, mp3, opus)."""
    frames = list(frames)
    h, w = frames[0].shape[:2]
    with av.open(str(path), "w") as out:
        v = out.add_stream("libx264", rate=fps, options={"preset": "ultrafast"})
        v.width, v.height, v.pix_fmt = w, h, "yuv420p"
        if gop:
            v.codec_context.gop_size = gop
        if rotation:
            v.set_display_rotation(rotation)
        a = None
        if audio:
            a = out.add_stream(audio, rate=48000)
            a.layout = "stereo"
        for i, image in enumerate(frames):
            frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(image), format="bgr24")
            frame.pts = i
            for packet in v.encode(frame):
                out.mux(packet)
        for packet in v.encode():
            out.mux(packet)
        if a is not None:
            total = int(48000 * len(frames) / fps)
            tone = (0.2 * np.sin(2 * np.pi * 440 * np.arange(total) / 48000)).astype(np.float32)
            planar = a.codec_context.codec.audio_formats[0].name == "fltp"
            for k in range(0, total, 960):
                chunk = np.ascontiguousarray(np.tile(tone[k:k + 960], (2, 1)))
                if planar:
                    af = av.AudioFrame.from_ndarray(chunk, format="fltp", layout="stereo")
                else:
                    af = av.AudioFrame.from_ndarray(chunk.T.reshape(1, -1).copy(), format="flt", layout="stereo")
                af.sample_rate, af.pts = 48000, k
                for packet in a.encode(af):
                    out.mux(packet)
            for packet in a.encode():
                out.mux(packet)
    return path
