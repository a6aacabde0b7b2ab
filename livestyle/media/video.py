"""Video files through PyAV: frames in as BGR uint8 with their timestamps, frames out with the
source's timing and audio kept.

Timing is carried as integer pts in the source stream's time base (never re-derived from a float
fps), so 30000/1001 clips keep their frame count and length, and variable-rate clips their cadence.
"""

from __future__ import annotations

import itertools
import logging
import math
import os
from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

# cv2 before av, always: PyAV's wheel bundles its own libxcb, and when that one loads first
# OpenCV's Qt windows hang or abort (seen with av 18 / opencv-python 5).
import cv2  # isort: skip
import av  # isort: skip
import numpy as np

from ..errors import InputError, OutputError
from .images import check_writable

log = logging.getLogger(__name__)

CONTAINERS = {".mp4": "mp4", ".m4v": "mp4", ".mov": "mov", ".mkv": "matroska", ".avi": "avi"}
CRF_CODECS = {"libx264", "libx265", "libvpx-vp9", "libaom-av1", "libsvtav1"}
DEFAULT_CRF = 18  # x264's "visually lossless": stylised frames are full of fine texture


@dataclass(frozen=True)
class AudioInfo:
    index: int
    codec: str
    sample_rate: int
    channels: int
    duration: float | None


@dataclass(frozen=True)
class VideoInfo:
    path: Path
    width: int
    height: int
    codec: str
    fps: Fraction
    time_base: Fraction
    frames: int        # frames the reader will yield (exact from the header when reading it all)
    duration: float   # seconds the reader will cover
    rotation: int      # display-matrix rotation in degrees, counter-clockwise; frames stay as coded
    start: float       # where the part starts in the source, seconds from its first frame
    origin: float      # that point on the source's own clock (what the writer trims audio against)
    audio: AudioInfo | None


@dataclass(frozen=True)
class DecodedFrame:
    image: np.ndarray  # BGR uint8 HxWx3
    pts: int           # in VideoInfo.time_base, counted from the part's start (>= 0)
    time: float        # seconds from the part's start


@dataclass(frozen=True)
class AudioCopy:
    """Which source audio a writer carries: packets from ``start`` to ``end`` on the source's clock
    (``None``: from its beginning / to its end), moved back by ``shift`` seconds so that they line
    up with video timestamps counted from the part's start."""

    path: Path
    index: int
    shift: float
    start: float | None = None
    end: float | None = None


def _open_input(path: Path, what: str) -> av.container.InputContainer:
    if not path.exists():
        raise InputError(f"{what} not found: {path}")
    if path.is_dir():
        raise InputError(f"{what} {path} is a folder; give a video file")
    if path.stat().st_size == 0:
        raise InputError(f"{what} {path} is empty (0 bytes)")
    try:
        return av.open(str(path), "r")
    except (av.FFmpegError, UnicodeDecodeError) as exc:
        raise InputError(f"{what} {path} is not a readable video (corrupt or unsupported format); "
                         f"re-encode it as MP4 (H.264)") from exc


def _seconds(value: int | None, time_base: Fraction | None) -> float | None:
    return float(value * time_base) if value is not None and time_base else None


class VideoReader:
    """Decode one video stream of ``path``, optionally only ``duration`` seconds from ``start``.

    Opening decodes the first frame, so a file that cannot be decoded fails here, before any output
    exists, and rotation (which FFmpeg attaches to frames) is known up front.
    """

    def __init__(self, path, start: float = 0.0, duration: float | None = None, what: str = "video"):
        if start < 0 or (duration is not None and duration <= 0):
            raise InputError(f"--start must be >= 0 and --duration > 0 (got {start}, {duration})")
        self.path = Path(path)
        self._container = _open_input(self.path, what)
        try:
            self.info = self._probe(start, duration, what)
        except BaseException:
            self._container.close()
            raise

    def _probe(self, start: float, duration: float | None, what: str) -> VideoInfo:
        c = self._container
        if not c.streams.video:
            raise InputError(f"{what} {self.path} has no video stream (audio or data only); "
                             f"give a file with pictures")
        stream = c.streams.video[0]
        stream.thread_type = "AUTO"
        self._stream = stream
        tb = stream.time_base or Fraction(1, 90000)
        fps = stream.average_rate or stream.guessed_rate or stream.base_rate
        if not fps or fps <= 0:
            raise InputError(f"{what} {self.path} has no usable frame rate; re-encode it as MP4 (H.264)")
        zero = _seconds(stream.start_time, tb) or 0.0
        total = _seconds(stream.duration, tb) or (c.duration / 1e6 if c.duration else None)
        origin = zero + start
        if start > 0:
            if total is not None and start >= total:
                raise InputError(f"--start {start:g} s is past the end of {self.path} ({total:.2f} s)")
            # Seek to the keyframe before the start and decode forward: frame-exact without
            # decoding everything that precedes it.
            c.seek(int(origin / tb), stream=stream, backward=True, any_frame=False)
        self._origin_pts = round(origin / tb)
        # Frames decoded from the seek keyframe up to the start belong to the part before it.
        self._begin = float(self._origin_pts * tb) - 1e-9
        self._end = origin + duration - 1e-9 if duration is not None else math.inf
        self._frames = self._decode()
        try:
            first = next(self._frames)
        except StopIteration:
            raise InputError(f"{what} {self.path} has no decodable frames in the requested part") from None
        except av.FFmpegError as exc:
            raise InputError(f"{what} {self.path} cannot be decoded ({exc}); the file is corrupt") from exc
        self._first = first
        rotation = int(round(first.rotation or 0)) % 360
        span = total - start if total is not None else None
        if duration is not None:
            span = min(duration, span) if span is not None else duration
        if span is None:
            span = 0.0
        if start == 0 and duration is None and stream.frames > 0:
            frames = stream.frames
        else:
            frames = max(1, round(span * fps))
        audio = None
        if c.streams.audio:
            a = c.streams.audio[0]
            audio = AudioInfo(a.index, a.codec_context.name, a.codec_context.sample_rate or 0,
                              a.codec_context.channels or 0, _seconds(a.duration, a.time_base))
        return VideoInfo(self.path, stream.codec_context.width, stream.codec_context.height,
                         stream.codec_context.name, Fraction(fps), Fraction(tb), frames, span,
                         rotation, start, origin, audio)

    def _decode(self) -> Iterator[av.VideoFrame]:
        tb = self._stream.time_base
        for frame in self._container.decode(self._stream):
            if frame.pts is None:
                continue  # undatable frame: keeping it would break the timing of everything after
            t = float(frame.pts * tb)
            if t < self._begin:
                continue
            if t >= self._end:
                return
            yield frame

    def audio_copy(self) -> AudioCopy | None:
        """The source audio matching this part, for :class:`VideoWriter`."""
        info = self.info
        if info.audio is None:
            return None
        start = info.origin if info.start > 0 else None
        end = None if self._end == math.inf else self._end
        return AudioCopy(self.path, info.audio.index, info.origin, start, end)

    def __iter__(self) -> Iterator[DecodedFrame]:
        tb = self.info.time_base
        try:
            for frame in itertools.chain([self._first], self._frames):
                pts = frame.pts - self._origin_pts
                yield DecodedFrame(frame.to_ndarray(format="bgr24"), pts, float(pts * tb))
        except av.FFmpegError as exc:
            raise InputError(f"{self.path} stopped decoding ({exc}); the file is damaged") from exc

    def close(self) -> None:
        self._container.close()

    def __enter__(self) -> VideoReader:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _even(n: int) -> int:
    return n + (n & 1)


class VideoWriter:
    """Encode BGR frames to ``path`` (container chosen by its extension), copying source audio.

    The file is built under a hidden temporary name in the same folder and renamed on
    :meth:`close`, so the final name only ever holds a finished, playable file. Leaving the ``with``
    block through an exception (Ctrl-C included) still finalises what was written; a file with no
    frames is discarded. Things the caller should know (audio re-encoded, size padded) are logged
    and collected in :attr:`notices`.
    """

    def __init__(self, path, width: int, height: int, fps: Fraction, *, time_base: Fraction | None = None,
                 codec: str = "libx264", crf: int | None = None, preset: str | None = None,
                 pix_fmt: str = "yuv420p", rotation: int = 0, audio: AudioCopy | None = None):
        self.path, fmt = self.check(path, codec)
        self.notices: list[str] = []
        self.frames = 0
        self.width, self.height = int(width), int(height)
        self.fps = Fraction(fps)
        self.time_base = Fraction(time_base) if time_base else 1 / self.fps
        self._frame_ticks = (1 / self.fps) / self.time_base
        self._last_pts: int | None = None
        self._last_enc_pts: int | None = None
        self._audio_src = audio
        self._out = None
        self._audio_in = None
        self._audio_copying = False
        self._audio_pending = None
        self._closed = False
        self._tmp = self.path.with_name(f".{self.path.stem}.part{os.getpid()}{self.path.suffix}")
        settings = dict(fmt=fmt, codec=codec, crf=crf, preset=preset, pix_fmt=pix_fmt, rotation=rotation)
        try:
            self._open(copy_audio=True, **settings)
        except _AudioCopyRefused as refused:
            self._discard()
            self._note(f"{self.path.suffix} cannot hold {refused} audio as is; re-encoding it")
            self._open(copy_audio=False, **settings)

    @staticmethod
    def check(path, codec: str = "libx264") -> tuple[Path, str]:
        """Fail early on an output that cannot be written; returns it with its container format."""
        path = check_writable(path)
        fmt = CONTAINERS.get(path.suffix.lower())
        if fmt is None:
            raise OutputError(f"cannot write video with extension '{path.suffix}'; "
                              f"use one of {', '.join(sorted(CONTAINERS))}")
        try:
            is_video = av.codec.Codec(codec, "w").type == "video"
        except (av.FFmpegError, ValueError):
            is_video = False
        if not is_video:
            raise OutputError(f"'{codec}' is not a video encoder in this FFmpeg; use --codec libx264")
        return path, fmt

    # -- opening -------------------------------------------------------------------------------

    def _open(self, fmt, codec, crf, preset, pix_fmt, rotation, copy_audio) -> None:
        try:
            self._out = av.open(str(self._tmp), "w", format=fmt)
        except (av.FFmpegError, OSError) as exc:
            raise OutputError(f"cannot create {self.path}: {exc}") from exc
        try:
            self._add_video(codec, crf, preset, pix_fmt, rotation)
            self._add_audio(copy_audio)
            # Writing the header now surfaces codec/container mismatches before any frame is spent.
            self._out.start_encoding()
        except _AudioCopyRefused:
            raise
        except av.FFmpegError as exc:
            if copy_audio and self._audio_copying:
                raise _AudioCopyRefused(self._audio_in_stream.codec_context.name) from exc
            self._discard()
            raise OutputError(f"cannot write {codec} into {self.path.suffix}: {exc}") from exc
        except BaseException:
            self._discard()
            raise

    def _add_video(self, codec, crf, preset, pix_fmt, rotation) -> None:
        w, h = self.width, self.height
        if pix_fmt in ("yuv420p", "nv12") and (w % 2 or h % 2):
            w, h = _even(w), _even(h)
            self._note(f"padded {self.width}x{self.height} to {w}x{h}: {pix_fmt} needs even sizes")
        self._size = (w, h)
        # AVI has no per-frame timestamps, only a fixed rate: time it in whole frames.
        self._enc_tb = 1 / self.fps if self._out.format.name == "avi" else self.time_base
        v = self._out.add_stream(codec, rate=self.fps)
        v.width, v.height, v.pix_fmt = w, h, pix_fmt
        v.time_base = self._enc_tb
        v.codec_context.time_base = self._enc_tb
        v.codec_context.framerate = self.fps
        options = {}
        if codec in CRF_CODECS:
            options["crf"] = str(DEFAULT_CRF if crf is None else crf)
        elif crf is not None:
            self._note(f"--crf applies to {', '.join(sorted(CRF_CODECS))}; ignored for {codec}")
        if preset and codec in {"libx264", "libx265"}:
            options["preset"] = preset
        v.options = options
        if rotation:
            v.set_display_rotation(rotation)
        self._video = v

    def _add_audio(self, copy: bool) -> None:
        self._audio_copying = False
        src = self._audio_src
        if src is None:
            return
        if self._audio_in is None:
            self._audio_in = av.open(str(src.path), "r")
            self._audio_in_stream = self._audio_in.streams[src.index]
            if src.start is not None:
                s = self._audio_in_stream
                self._audio_in.seek(int(src.start / s.time_base), stream=s, backward=True)
            self._audio_packets = self._audio_in.demux(self._audio_in_stream)
            self._audio_done = False
        template = self._audio_in_stream
        if copy and template.codec_context.name in self._out.supported_codecs:
            self._audio = self._out.add_stream_from_template(template)
            self._audio_copying = True
            return
        if copy:
            raise _AudioCopyRefused(template.codec_context.name)
        name = "aac" if "aac" in self._out.supported_codecs else self._out.default_audio_codec
        rate = template.codec_context.sample_rate or 48000
        self._audio = self._out.add_stream(name, rate=rate)
        self._audio.layout = template.codec_context.layout
        self._decode_audio = template.codec_context

    # -- writing -------------------------------------------------------------------------------

    def write(self, image_bgr: np.ndarray, pts: int | None = None) -> None:
        """Append one frame; ``pts`` in :attr:`time_base` (default: the next frame at ``fps``)."""
        if pts is None:
            pts = 0 if self._last_pts is None else self._last_pts + max(1, round(self._frame_ticks))
        enc_pts = round(pts * self.time_base / self._enc_tb)
        if self._last_enc_pts is not None and enc_pts <= self._last_enc_pts:
            enc_pts = self._last_enc_pts + 1  # encoders reject repeated or backwards timestamps
        frame = av.VideoFrame.from_ndarray(self._fit(image_bgr), format="bgr24")
        frame.pts, frame.time_base = enc_pts, self._enc_tb
        try:
            self._mux(self._video.encode(frame))
            self._copy_audio_until(float((pts + self._frame_ticks) * self.time_base))
        except av.FFmpegError as exc:
            raise OutputError(f"writing {self.path} failed: {exc}") from exc
        self._last_pts, self._last_enc_pts = pts, enc_pts
        self.frames += 1

    def _fit(self, image: np.ndarray) -> np.ndarray:
        h, w = image.shape[:2]
        if (w, h) != (self.width, self.height):
            image = cv2.resize(image, (self.width, self.height), interpolation=cv2.INTER_AREA)
        pw, ph = self._size[0] - self.width, self._size[1] - self.height
        if pw or ph:
            image = cv2.copyMakeBorder(image, 0, ph, 0, pw, cv2.BORDER_REPLICATE)
        return np.ascontiguousarray(image, dtype=np.uint8)

    def _mux(self, packets) -> None:
        for packet in packets:
            self._out.mux(packet)

    def _copy_audio_until(self, video_end: float) -> None:
        """Move source audio up to ``video_end`` (seconds of output) into the file.

        Audio follows the video as it is written, so the muxer interleaves the two without
        buffering the whole soundtrack, and an interrupted file carries sound for just its frames.
        """
        src = self._audio_src
        if src is None or self._audio_done:
            return
        limit = src.shift + video_end
        if src.end is not None:
            limit = min(limit, src.end)
        tb = self._audio_in_stream.time_base
        shift = round(src.shift / tb)
        while True:
            packet, self._audio_pending = self._audio_pending or next(self._audio_packets, None), None
            if packet is None:
                self._audio_done = True
                return
            if packet.pts is None:
                continue  # the demuxer's end-of-stream marker
            start = float(packet.pts * tb)
            if start >= limit - 1e-9:
                self._audio_pending = packet  # belongs with a later video frame
                return
            if src.start is not None and start < src.start - 1e-9:
                continue  # before the part: whole packets go, so audio is off by under one packet
            if self._audio_copying:
                packet.pts -= shift
                if packet.dts is not None:
                    packet.dts -= shift
                packet.stream = self._audio
                self._out.mux(packet)
            else:
                self._reencode(packet, shift)

    def _reencode(self, packet, shift: int) -> None:
        tb = self._audio_in_stream.time_base
        for frame in self._decode_audio.decode(packet):
            if frame.pts is None or frame.pts < shift:
                continue
            rate = frame.sample_rate
            frame.pts = round((frame.pts - shift) * tb * rate)
            frame.time_base = Fraction(1, rate)
            self._mux(self._audio.encode(frame))

    def _flush_audio_encoder(self) -> None:
        if self._audio_src is not None and not self._audio_copying:
            self._mux(self._audio.encode(None))

    # -- finishing -----------------------------------------------------------------------------

    def close(self, interrupted: bool = False) -> Path | None:
        """Finish the file and give it its final name; ``None`` when there was nothing to keep.

        A complete file gets all the source audio of its part; an ``interrupted`` one only the
        audio that goes with the frames it has.
        """
        if self._closed:
            return self.path if self.path.exists() and self.frames else None
        self._closed = True
        try:
            if self.frames == 0:
                self._discard()
                return None
            self._mux(self._video.encode(None))
            end = float((self._last_pts + self._frame_ticks) * self.time_base)
            self._copy_audio_until(end if interrupted else math.inf)
            self._flush_audio_encoder()
            self._out.close()
            os.replace(self._tmp, self.path)
        except (av.FFmpegError, OSError) as exc:
            self._discard()
            raise OutputError(f"could not finish {self.path}: {exc}") from exc
        finally:
            self._close_audio_in()
        return self.path

    def _discard(self) -> None:
        out, self._out = self._out, None
        if out is not None:
            try:
                out.close()
            except av.FFmpegError:
                pass  # already failing; the temporary file goes either way
        self._tmp.unlink(missing_ok=True)

    def _close_audio_in(self) -> None:
        if self._audio_in is not None:
            self._audio_in.close()
            self._audio_in = None

    def _note(self, message: str) -> None:
        log.info(message)
        self.notices.append(message)

    def __enter__(self) -> VideoWriter:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        try:
            if not self._closed:
                self.close(interrupted=exc_type is not None)
        finally:
            self._close_audio_in()
            if self._tmp.exists():
                self._tmp.unlink(missing_ok=True)


class _AudioCopyRefused(Exception):
    """The output container will not take the source's audio codec as is."""
