"""Video files through PyAV: frames in as BGR uint8 with their timestamps, frames out with the
source's timing and audio kept.

Outputs: MP4, MKV, MOV and AVI (H.264 by default), WebM (VP9 with Opus sound) and animated GIF
(no sound; a palette made for each frame, the long side capped at :data:`GIF_LONG_SIDE`, a
rotated clip turned upright in its pixels, since GIF has no rotation flag).

Timing is carried as integer pts in the source stream's time base (never re-derived from a float
fps), so 30000/1001 clips keep their frame count and length, and variable-rate clips their cadence.
:class:`VideoReader` decodes (and probes the file once, on opening); :func:`check_video_output`
vets an output before any work; :class:`VideoWriter` encodes, with the source audio carried by its
:class:`~livestyle.media.audio.AudioMuxer`.
"""

from __future__ import annotations

import errno
import functools
import io
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
from .audio import AudioCopy, AudioMuxer
from .images import check_writable

log = logging.getLogger(__name__)

CONTAINERS = {".mp4": "mp4", ".m4v": "mp4", ".mov": "mov", ".mkv": "matroska", ".avi": "avi"}
# The web's sharing formats, written only: batch and chunk joining work on CONTAINERS.
OUTPUT_CONTAINERS = {**CONTAINERS, ".webm": "webm", ".gif": "gif"}
DEFAULT_CODECS = {"webm": "libvpx-vp9", "gif": "gif"}   # every other container: libx264
CRF_CODECS = {"libx264", "libx265", "libvpx-vp9", "libaom-av1", "libsvtav1"}
DEFAULT_CRF = 18  # x264's "visually lossless": stylised frames are full of fine texture
# VP9 and AV1 count CRF on a 0-63 scale; 31 is what libvpx's and SVT-AV1's guides start from.
DEFAULT_CRFS = {"libvpx-vp9": 31, "libaom-av1": 31, "libsvtav1": 31}
# --preset names mapped to libvpx's cpu-used (0 slowest ... 5 fastest in its "good" mode).
VP9_SPEED = {"ultrafast": 5, "superfast": 5, "veryfast": 5, "faster": 4, "fast": 3, "medium": 2,
             "slow": 1, "slower": 0, "veryslow": 0}
# x264 keeps input frames of its own for its lookahead, and fed from another thread (as the
# video pipeline does) it held several times the lookahead's length: at 4K with the presets'
# 10-frame lookahead about a GB of frames (docs/sizes.md). Frames larger than 1080p get a short
# lookahead instead: the same picture at the same --crf, a slightly larger file.
LARGE_FRAME_PIXELS = 1920 * 1088
LARGE_FRAME_LOOKAHEAD = 5
# GIFs are for sharing: full-HD GIFs run to hundreds of MB, and each frame has 256 colours anyway.
GIF_LONG_SIDE = 480


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


@dataclass(frozen=True)
class VideoTarget:
    """An output file found writable, with the container and the video encoder it will get."""

    path: Path
    container: str
    codec: str


@functools.cache
def _codecs_in(container: str) -> frozenset[str]:
    with av.open(io.BytesIO(), "w", format=container) as probe:
        return frozenset(probe.supported_codecs)


def check_video_output(path, codec: str | None = None) -> VideoTarget:
    """Fail early on an output that cannot be written: before a model loads or a camera opens.
    ``codec`` unset: the container's usual one (H.264; VP9 for WebM, GIF for GIF)."""
    path = check_writable(path)
    container = OUTPUT_CONTAINERS.get(path.suffix.lower())
    if container is None:
        raise OutputError(f"cannot write video with extension '{path.suffix}'; "
                          f"use one of {', '.join(sorted(OUTPUT_CONTAINERS))}")
    usual = DEFAULT_CODECS.get(container, "libx264")
    codec = codec or usual
    try:
        is_video = av.codec.Codec(codec, "w").type == "video"
    except (av.FFmpegError, ValueError):
        is_video = False
    if not is_video:
        raise OutputError(f"'{codec}' is not a video encoder in this FFmpeg; use --codec {usual}")
    if codec not in _codecs_in(container):
        raise OutputError(f"{path.suffix} files cannot hold {codec} video; use --codec {usual} "
                          f"or another extension")
    return VideoTarget(path, container, codec)


class _Timeline:
    """Frame timestamps: the caller's pts (in ``time_base``) to the encoder's time base, which AVI
    counts in whole frames; encoders reject repeated or backwards timestamps, so none are made."""

    def __init__(self, fps: Fraction, time_base: Fraction, encoder_time_base: Fraction):
        self.time_base, self.encoder_time_base = time_base, encoder_time_base
        self.frame_ticks = (1 / fps) / time_base
        self.last_pts: int | None = None
        self._last_encoded: int | None = None

    def stamp(self, pts: int | None) -> int:
        """The encoder pts of the next frame; ``pts=None``: one frame after the last."""
        if pts is None:
            pts = 0 if self.last_pts is None else self.last_pts + max(1, round(self.frame_ticks))
        encoded = round(pts * self.time_base / self.encoder_time_base)
        if self._last_encoded is not None and encoded <= self._last_encoded:
            encoded = self._last_encoded + 1
        self.last_pts, self._last_encoded = pts, encoded
        return encoded

    def end(self) -> float:
        """Seconds of output up to the end of the last frame stamped."""
        return float((self.last_pts + self.frame_ticks) * self.time_base)


class VideoWriter:
    """Encode BGR frames to ``output`` (container chosen by its extension), copying source audio.

    ``output`` is a path, checked here, or the :class:`VideoTarget` a caller checked already. The
    file is built under a hidden temporary name in the same folder and renamed on :meth:`close`,
    so the final name only ever holds a finished, playable file. Leaving the ``with`` block
    through Ctrl-C finalises what was written (the user chose to stop; the frames are good);
    through any other exception (disk full, a damaged input) the file is discarded, so that a
    failed run never leaves a short video under the name of a finished one. A file with no
    frames is discarded too. Things the caller should know (audio re-encoded, size padded) are logged
    and collected in :attr:`notices`.
    """

    def __init__(self, output, width: int, height: int, fps: Fraction, *, time_base: Fraction | None = None,
                 codec: str | None = None, crf: int | None = None, preset: str | None = None,
                 pix_fmt: str | None = None, rotation: int = 0, audio: AudioCopy | None = None,
                 gif_long_side: int | None = None):
        self.target = output if isinstance(output, VideoTarget) else check_video_output(output, codec)
        self.path = self.target.path
        self.notices: list[str] = []
        self.frames = 0
        self.width, self.height = int(width), int(height)
        self.fps = Fraction(fps)
        self.time_base = Fraction(time_base) if time_base else 1 / self.fps
        self._out = None
        self._file = None
        self._closed = False
        self._tmp = self.path.with_name(f".{self.path.stem}.part{os.getpid()}{self.path.suffix}")
        self._gif = self.target.container == "gif"
        self._palette: _GifPalette | None = None
        self._turns = 0   # quarter turns counter-clockwise given to the pixels themselves
        if self._gif:
            # GIF has no display rotation: a phone's portrait clip is turned upright here.
            self._turns, rotation = (rotation // 90) % 4, 0
            if self._turns % 2:
                self.width, self.height = self.height, self.width
            self._cap_gif_size(gif_long_side or GIF_LONG_SIDE)
            if audio is not None:
                self._note("GIF holds no sound; the audio was left out")
                audio = None
        pix_fmt = pix_fmt or ("pal8" if self._gif else "yuv420p")
        self._audio = AudioMuxer(audio) if audio is not None else None
        try:
            self._open(crf, preset, pix_fmt, rotation)
        except BaseException:
            self._close_audio()
            raise

    # -- opening -------------------------------------------------------------------------------

    def _open(self, crf, preset, pix_fmt, rotation) -> None:
        """Open the container with copied audio; where the container turns the source's codec down
        (FFmpeg only says so when the header is written), once more with re-encoded audio."""
        for copy_audio in (True, False):
            try:
                # Written through a Python file: FFmpeg's own writer only reports a full disk when
                # the file is closed, after the whole video was stylised for nothing.
                self._file = open(self._tmp, "wb", buffering=0)  # FFmpeg buffers already
                self._out = av.open(self._file, "w", format=self.target.container)
            except (av.FFmpegError, OSError) as exc:
                self._discard()
                raise OutputError(f"cannot create {self.path}: {getattr(exc, 'strerror', None) or exc}") from exc
            copying = False
            try:
                self._add_video(crf, preset, pix_fmt, rotation)
                if self._audio is not None:
                    copying = self._audio.attach(self._out, copy_audio)
                    if copy_audio and not copying:
                        self._note(self._reencoding_notice())
                # Writing the header now surfaces codec/container mismatches before any frame is spent.
                self._out.start_encoding()
                return
            except av.FFmpegError as exc:
                self._discard()
                if copying:
                    self._note(self._reencoding_notice())
                    continue
                raise OutputError(f"cannot write {self.target.codec} into {self.path.suffix}: {exc}") from exc
            except BaseException:
                self._discard()
                raise

    def _cap_gif_size(self, long_side: int) -> None:
        w, h = self.width, self.height
        if max(w, h) > long_side:
            f = long_side / max(w, h)
            self.width, self.height = max(1, round(w * f)), max(1, round(h * f))
            self._note(f"GIF scaled from {w}x{h} to {self.width}x{self.height} (long side {long_side} px)")
        if self.fps > 50:
            self._note(f"GIF players show more than 50 frames/s slower than {float(self.fps):g}; "
                       f"WebM plays at the right speed")

    def _reencoding_notice(self) -> str:
        return f"{self.path.suffix} cannot hold {self._audio.codec} audio as is; re-encoding it"

    def _add_video(self, crf, preset, pix_fmt, rotation) -> None:
        codec = self.target.codec
        w, h = self.width, self.height
        if pix_fmt in ("yuv420p", "nv12") and (w % 2 or h % 2):
            w, h = _even(w), _even(h)
            self._note(f"padded {self.width}x{self.height} to {w}x{h}: {pix_fmt} needs even sizes")
        self._size = (w, h)
        # AVI has no per-frame timestamps, only a fixed rate: time it in whole frames. GIF counts
        # frame delays in hundredths of a second.
        container = self._out.format.name
        enc_tb = 1 / self.fps if container == "avi" else Fraction(1, 100) if self._gif else self.time_base
        self._timeline = _Timeline(self.fps, self.time_base, enc_tb)
        v = self._out.add_stream(codec, rate=self.fps)
        v.width, v.height, v.pix_fmt = w, h, pix_fmt
        v.time_base = enc_tb
        v.codec_context.time_base = enc_tb
        v.codec_context.framerate = self.fps
        options = {}
        if codec in CRF_CODECS:
            options["crf"] = str(DEFAULT_CRFS.get(codec, DEFAULT_CRF) if crf is None else crf)
        elif crf is not None:
            self._note(f"--crf applies to {', '.join(sorted(CRF_CODECS))}; ignored for {codec}")
        if preset and codec in {"libx264", "libx265"}:
            options["preset"] = preset
        if codec == "libx264" and w * h > LARGE_FRAME_PIXELS:
            options["rc-lookahead"] = str(LARGE_FRAME_LOOKAHEAD)
        if codec == "libvpx-vp9":
            # b=0 makes the CRF a constant quality rather than a cap on a default bitrate;
            # row-mt lets VP9 use every core the net leaves free.
            options.update({"b": "0", "row-mt": "1", "deadline": "good",
                            "cpu-used": str(VP9_SPEED.get(preset or "", 4))})
        if codec == "libsvtav1":
            os.environ.setdefault("SVT_LOG", "1")  # errors only: it prints its whole setup otherwise
        v.options = options
        if self._gif:
            self._palette = _GifPalette(w, h, enc_tb)
        if rotation:
            v.set_display_rotation(rotation)
        self._video = v

    # -- writing -------------------------------------------------------------------------------

    def write(self, image_bgr: np.ndarray, pts: int | None = None) -> None:
        """Append one frame; ``pts`` in :attr:`time_base` (default: the next frame at ``fps``)."""
        frame = av.VideoFrame.from_ndarray(self._fit(image_bgr), format="bgr24")
        frame.pts, frame.time_base = self._timeline.stamp(pts), self._timeline.encoder_time_base
        try:
            self._encode(frame)
            if self._audio is not None:
                self._audio.mux_until(self._timeline.end())
        except (av.FFmpegError, OSError) as exc:  # OSError: a full disk, a storage that went away
            raise self._failure(exc) from exc
        self.frames += 1

    def _fit(self, image: np.ndarray) -> np.ndarray:
        if self._turns:
            image = np.rot90(image, self._turns)
        h, w = image.shape[:2]
        if (w, h) != (self.width, self.height):
            image = cv2.resize(image, (self.width, self.height), interpolation=cv2.INTER_AREA)
        pw, ph = self._size[0] - self.width, self._size[1] - self.height
        if pw or ph:
            image = cv2.copyMakeBorder(image, 0, ph, 0, pw, cv2.BORDER_REPLICATE)
        return np.ascontiguousarray(image, dtype=np.uint8)

    def _encode(self, frame: av.VideoFrame | None) -> None:
        """One frame (``None``: the end) through the GIF palette, if any, and the encoder."""
        if self._palette is not None:
            for paletted in self._palette.convert(frame):
                self._mux(self._video.encode(paletted))
            if frame is not None:
                return
        self._mux(self._video.encode(frame))

    def _mux(self, packets) -> None:
        for packet in packets:
            self._out.mux(packet)

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
            self._encode(None)
            if self._audio is not None:
                self._audio.mux_until(self._timeline.end() if interrupted else math.inf)
                self._audio.finish()
            self._out.close()
            self._file.close()
            os.replace(self._tmp, self.path)
        except (av.FFmpegError, OSError) as exc:
            self._discard()
            raise self._failure(exc) from exc
        finally:
            self._close_audio()
        return self.path

    def _failure(self, exc: Exception) -> OutputError:
        """A failed write as one line; the caller's ``with`` block (or :meth:`close`) discards the
        temporary file."""
        full = getattr(exc, "errno", None) == errno.ENOSPC
        return OutputError(f"writing {self.path} failed: {getattr(exc, 'strerror', None) or exc}; nothing "
                           f"was kept ({'free some space or ' if full else ''}choose another output)")

    def _discard(self) -> None:
        out, self._out = self._out, None
        if out is not None:
            try:
                out.close()
            except (av.FFmpegError, OSError):
                pass  # already failing; the temporary file goes either way
        file, self._file = self._file, None
        if file is not None:
            file.close()
        self._tmp.unlink(missing_ok=True)

    def _close_audio(self) -> None:
        if self._audio is not None:
            self._audio.close()

    def _note(self, message: str) -> None:
        log.info(message)
        self.notices.append(message)

    def __enter__(self) -> VideoWriter:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        try:
            if self._closed:
                pass
            elif exc_type is None or issubclass(exc_type, KeyboardInterrupt):
                self.close(interrupted=exc_type is not None)
            else:
                self._closed = True
                self._discard()
        finally:
            self._close_audio()
            if self._tmp.exists():
                self._tmp.unlink(missing_ok=True)


class _GifPalette:
    """BGR frames -> 256-colour frames, each with a palette made for it (FFmpeg's palettegen and
    paletteuse): one fixed palette for a whole clip bands the gradients stylisation paints."""

    def __init__(self, width: int, height: int, time_base: Fraction):
        graph = av.filter.Graph()
        source = graph.add_buffer(width=width, height=height, format="bgr24", time_base=time_base)
        split = graph.add("split")
        palette = graph.add("palettegen", "stats_mode=single")
        use = graph.add("paletteuse", "new=1:dither=sierra2_4a")
        sink = graph.add("buffersink")
        source.link_to(split)
        split.link_to(use, 0, 0)
        split.link_to(palette, 1, 0)
        palette.link_to(use, 0, 1)
        use.link_to(sink)
        graph.configure()
        self._graph = graph

    def convert(self, frame: av.VideoFrame | None) -> list[av.VideoFrame]:
        """Frames ready for the GIF encoder; ``None`` flushes what the filters still hold."""
        self._graph.push(frame)
        out = []
        while True:
            try:
                out.append(self._graph.pull())
            except (av.BlockingIOError, av.EOFError):
                return out

