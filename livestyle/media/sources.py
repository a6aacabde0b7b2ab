"""Live frame sources: a camera (index or device), a stream URL, or a video file played as a camera.

A capture thread keeps only the newest frame: when stylising is slower than the camera, old frames
are dropped instead of queued, so what is shown lags the world by one inference, not by a backlog.
A video file delivers each frame when its timestamp says, as a camera would: a container's nominal
frame rate can be wrong (an AVI that says 50 fps and holds 25 fps of frames), its timestamps are not.
"""

from __future__ import annotations

import dataclasses
import glob
import statistics
import sys
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import cv2  # isort: skip - before av, see livestyle/media/video.py
import av  # isort: skip
import numpy as np

from ..errors import SourceError
from .video import VideoReader

LOST_AFTER_S = 2.0  # a camera that delivers nothing for this long is treated as unplugged
# A file's frames are delivered on their timestamps; a gap longer than this (a broken or paused
# recording) is closed up instead of waited out, and a reader this far behind starts again from
# now instead of bursting to catch up.
MAX_GAP_S = 1.0


class LatestSlot:
    """A one-item mailbox: ``put`` replaces what is there; ``take`` waits for something new."""

    def __init__(self):
        self._cond = threading.Condition()
        self._item = None
        self._fresh = False
        self._closed = False
        self.dropped = 0  # items replaced before anyone took them

    def put(self, item) -> None:
        with self._cond:
            if self._fresh:
                self.dropped += 1
            self._item, self._fresh = item, True
            self._cond.notify_all()

    def take(self, timeout: float | None = None):
        """The newest item not taken yet; ``None`` on timeout or once closed and empty."""
        with self._cond:
            self._cond.wait_for(lambda: self._fresh or self._closed, timeout)
            if not self._fresh:
                return None
            self._fresh = False
            return self._item

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify_all()

    @property
    def closed(self) -> bool:
        return self._closed


@dataclass(frozen=True)
class CapturedFrame:
    image: np.ndarray   # BGR uint8 HxWx3
    index: int          # count of frames captured, dropped ones included
    captured_at: float  # time.monotonic() when the frame arrived


@dataclass(frozen=True)
class Mode:
    width: int
    height: int
    fps: float

    def __str__(self) -> str:
        return f"{self.width}x{self.height} @ {self.fps:g} fps"


def _backend_ids(kind: str) -> list[int]:
    if kind in ("file", "url"):
        wanted = [cv2.CAP_FFMPEG, cv2.CAP_GSTREAMER, cv2.CAP_ANY]
    elif sys.platform.startswith("win"):
        wanted = [cv2.CAP_DSHOW, cv2.CAP_MSMF, cv2.CAP_ANY]
    elif sys.platform == "darwin":
        wanted = [cv2.CAP_AVFOUNDATION, cv2.CAP_ANY]
    else:
        wanted = [cv2.CAP_V4L2, cv2.CAP_GSTREAMER, cv2.CAP_ANY]
    built = set(cv2.videoio_registry.getBackends())
    return [b for b in wanted if b == cv2.CAP_ANY or b in built]


def _backend_name(api: int) -> str:
    return "ANY" if api == cv2.CAP_ANY else cv2.videoio_registry.getBackendName(api)


@contextmanager
def _quiet_opencv():
    # OpenCV logs a warning or error per failed backend; the collected error says it once, clearly.
    level = cv2.utils.logging.getLogLevel()
    cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_SILENT)
    try:
        yield
    finally:
        cv2.utils.logging.setLogLevel(level)


def _parse_spec(spec) -> tuple[str, int | str]:
    text = str(spec).strip()
    if text.isdigit():
        return "camera", int(text)
    if "://" in text:
        return "url", text
    if text.startswith("/dev/"):
        if not Path(text).exists():
            raise SourceError(f"camera device {text} does not exist; {_camera_hint()}")
        return "camera", text
    path = Path(text).expanduser()
    if not path.exists():
        raise SourceError(f"camera or video file not found: {text}; give an index such as 0, "
                          f"a device such as /dev/video2, a video file or a stream URL")
    if path.is_dir():
        raise SourceError(f"{text} is a folder; give a camera index, device, video file or URL")
    # PyAV says clearly what is wrong with a file (empty, corrupt, no pictures) where OpenCV
    # would only fail to open it, and prints FFmpeg's complaints on the way.
    VideoReader(path, what="video file").close()
    return "file", str(path)


def _camera_hint() -> str:
    if sys.platform.startswith("linux"):
        devices = sorted(glob.glob("/dev/video*"))
        found = ", ".join(devices) if devices else "none"
        return f"video devices on this machine: {found}"
    return "check the camera is connected and not used by another program"


class CameraSource:
    """Open ``spec`` (0, "/dev/video2", "clip.mp4", "rtsp://...") and capture on a thread.

    ``resolution``/``fps`` are requests; cameras grant what they can, and :attr:`mode` says what
    that was. Video files deliver each frame at its timestamp so they behave like a camera, and
    their :attr:`mode` has the rate the timestamps give.
    """

    def __init__(self, spec=0, *, resolution: tuple[int, int] | None = None, fps: float | None = None,
                 first_frame_timeout: float = 10.0, lost_after: float = LOST_AFTER_S):
        self.spec = str(spec)
        self.kind, target = _parse_spec(spec)
        self.notices: list[str] = []
        self.end_reason: str | None = None
        self._lost_after = lost_after
        self._slot = LatestSlot()
        self._stop = threading.Event()
        self._pending_first: CapturedFrame | None = None
        # A file plays from its first read, not from open: loading a model must not skip its start.
        self._playing = threading.Event()
        self._play_started: float | None = None
        self._thread: threading.Thread | None = None
        self.backend: str | None = None
        self._cap, self.backend = self._open(target, resolution, fps)
        self.mode = self._negotiated(resolution, fps)
        if self.kind == "file":
            self.mode = self._timestamped_mode(target)
        self._thread = threading.Thread(target=self._capture, name="livestyle-capture", daemon=True)
        self._thread.start()
        first = self._slot.take(first_frame_timeout)
        if first is None:
            reason = self.end_reason or f"no frame within {first_frame_timeout:g} s"
            self.close()
            raise SourceError(f"{self.describe()} opened but delivered no picture ({reason}); "
                              f"is another program using it?")
        self._pending_first = first
        h, w = first.image.shape[:2]
        if (w, h) != (self.mode.width, self.mode.height):
            self.mode = Mode(w, h, self.mode.fps)

    def _open(self, target, resolution, fps) -> tuple[cv2.VideoCapture, str]:
        failures = []
        with _quiet_opencv():
            for api in _backend_ids(self.kind):
                name = _backend_name(api)
                try:
                    cap = cv2.VideoCapture(target, api)
                except cv2.error as exc:
                    failures.append(f"{name}: {str(exc).strip().splitlines()[-1]}")
                    continue
                if cap.isOpened():
                    self._request(cap, resolution, fps)
                    return cap, name
                cap.release()
                failures.append(f"{name}: could not open it")
        what = {"camera": "camera", "file": "video file", "url": "stream"}[self.kind]
        hint = _camera_hint() if self.kind == "camera" else "check the path or URL and that it plays"
        raise SourceError(f"cannot open {what} {self.spec} ({'; '.join(failures)}); {hint}")

    def _request(self, cap: cv2.VideoCapture, resolution, fps) -> None:
        if self.kind == "camera":
            cap.set(cv2.CAP_PROP_BUFFERSIZE, 1)  # drivers that honour it stop queueing stale frames
        if self.kind == "file":
            return  # a file's size and rate are what they are
        if resolution:
            cap.set(cv2.CAP_PROP_FRAME_WIDTH, resolution[0])
            cap.set(cv2.CAP_PROP_FRAME_HEIGHT, resolution[1])
        if fps:
            cap.set(cv2.CAP_PROP_FPS, fps)

    def _negotiated(self, resolution, fps) -> Mode:
        got = Mode(int(self._cap.get(cv2.CAP_PROP_FRAME_WIDTH)), int(self._cap.get(cv2.CAP_PROP_FRAME_HEIGHT)),
                   float(self._cap.get(cv2.CAP_PROP_FPS)) or float(fps or 30.0))
        asked_size = resolution and tuple(resolution) != (got.width, got.height)
        asked_fps = fps and abs(fps - got.fps) > 0.5
        if self.kind == "file" and (resolution or fps):
            self.notices.append(f"{self.spec} is a file: it plays at its own {got}; "
                                f"--resolution/--fps apply to cameras")
        elif asked_size or asked_fps:
            ask = Mode(*(resolution or (got.width, got.height)), fps or got.fps)
            self.notices.append(f"asked {self.describe()} for {ask}, it gives {got}")
        return got

    def _timestamped_mode(self, path: str) -> Mode:
        """The file's mode with the frame rate its timestamps give, saying so when the container
        claims another one."""
        rate = timestamped_rate(path)
        if rate is None or abs(rate - self.mode.fps) <= 0.02 * rate:
            return self.mode
        self.notices.append(f"{self.spec} says {self.mode.fps:g} fps, its frames are timestamped at "
                            f"{rate:.3g} fps: it plays at {rate:.3g}")
        return Mode(self.mode.width, self.mode.height, rate)

    def _capture(self) -> None:
        pace = _TimestampPacer(1.0 / self.mode.fps) if self.kind == "file" else None
        last_ok = time.monotonic()
        index = 0
        while not self._stop.is_set():
            ok, image = self._cap.read()
            now = time.monotonic()
            if not ok or image is None:
                if self.kind == "file":
                    self.end_reason = "end of video"
                    break
                if now - last_ok > self._lost_after:
                    self.end_reason = f"no picture for {self._lost_after:g} s: camera disconnected?"
                    break
                time.sleep(0.01)
                continue
            if pace is not None:
                stamp = self._cap.get(cv2.CAP_PROP_POS_MSEC) / 1000.0
                if index == 1:
                    while not self._playing.wait(0.05):
                        if self._stop.is_set():
                            break
                if index == 0:
                    pace.first(stamp)   # handed out when play starts (read)
                else:
                    self._stop.wait(pace.delay(stamp, self._play_started or now, time.monotonic()))
                now = time.monotonic()
            last_ok = now
            self._slot.put(CapturedFrame(image, index, now))
            index += 1
        if self.end_reason is None:
            self.end_reason = "stopped"
        self._slot.close()

    def read(self, timeout: float | None = None) -> CapturedFrame | None:
        """The newest frame not read yet (waiting for one); ``None`` once the source has ended
        or on timeout (tell them apart with :attr:`ended`)."""
        if self._play_started is None:
            self._play_started = time.monotonic()
        self._playing.set()
        first, self._pending_first = self._pending_first, None
        if first is not None:
            if self.kind == "file":
                # A file starts playing now: its first frame is captured now, not when it was opened.
                return dataclasses.replace(first, captured_at=self._play_started)
            newer = self._slot.take(0)   # a camera's first frame is stale once a newer one is there
            return newer if newer is not None else first
        return self._slot.take(timeout)

    @property
    def ended(self) -> bool:
        return self._slot.closed

    @property
    def dropped(self) -> int:
        return self._slot.dropped

    def describe(self) -> str:
        what = {"camera": "camera", "file": "video", "url": "stream"}[self.kind]
        return f"{what} {self.spec}" + (f" ({self.backend})" if self.backend else "")

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=2.0)
        self._cap.release()

    def __enter__(self) -> CameraSource:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class _TimestampPacer:
    """When each frame of a file is due, from its timestamp: the first frame when play starts,
    each later one ``stamp - first stamp`` after it.

    A timestamp that does not move forward (some files and backends give none) is taken as one
    nominal ``period`` after the last. A gap over :data:`MAX_GAP_S` is closed up rather than waited
    out, and a reader more than two frames behind (decoding slower than real time) goes on from
    now rather than bursting to catch up: a camera drops frames, it never hurries.
    """

    def __init__(self, period: float):
        self.period = period
        self._anchor: tuple[float, float] | None = None   # (stamp, the time that frame is due)
        self._last: float | None = None

    def first(self, stamp: float) -> None:
        """The first frame's timestamp: the one the others are timed from."""
        self._last = stamp

    def delay(self, stamp: float, start: float, now: float) -> float:
        """Seconds to wait before delivering the frame stamped ``stamp`` (media seconds), ``start``
        being when the first frame was delivered and ``now`` the time."""
        last = stamp - self.period if self._last is None else self._last
        if not stamp > last:
            stamp = last + self.period
        if self._anchor is None:
            self._anchor = (last, start)
        elif stamp - last > MAX_GAP_S:
            self._anchor = (stamp, now)
        self._last = stamp
        due = self._anchor[1] + (stamp - self._anchor[0])
        if now - due > max(2 * self.period, 0.05):
            self._anchor, due = (stamp, now), now
        return max(0.0, due - now)


def timestamped_rate(path, frames: int = 48) -> float | None:
    """Frames per second from the spacing of a video file's first ``frames`` packet timestamps
    (their median, so a missing or doubled frame does not count); None when it has none."""
    try:
        with av.open(str(path)) as container:
            stream = container.streams.video[0]
            stamps = []
            for packet in container.demux(stream):
                if packet.pts is not None and packet.size:
                    stamps.append(packet.pts)
                if len(stamps) >= frames:
                    break
    except (av.FFmpegError, IndexError, OSError):
        return None
    steps = [b - a for a, b in zip(sorted(stamps), sorted(stamps)[1:]) if b > a]
    if not steps or not stream.time_base:
        return None
    return float(1 / (statistics.median(steps) * stream.time_base))
