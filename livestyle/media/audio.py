"""Source audio carried into a stylised video, owned by :class:`livestyle.media.video.VideoWriter`.

Packets are copied as they are where the output container takes the source's codec (no
generation loss, bit for bit), else decoded and re-encoded (AAC where the container takes it,
else Opus: WebM).
Audio follows the video as frames are written, so the muxer interleaves the two without
buffering the whole soundtrack, and an interrupted file carries sound for just its frames.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

# cv2 before av, always: see video.py.
import cv2  # noqa: F401  isort: skip
import av  # isort: skip

from ..errors import InputError


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


class AudioMuxer:
    """Moves the audio an :class:`AudioCopy` names into an output container, in step with its video.

    :meth:`attach` adds the stream to a freshly opened container (again to a new one, if the
    container refuses the copied codec when its header is written); :meth:`mux_until` is called
    after every video frame, :meth:`finish` before the container closes.
    """

    def __init__(self, source: AudioCopy):
        self.source = source
        try:
            self._in = av.open(str(source.path), "r")
        except (av.FFmpegError, OSError) as exc:
            raise InputError(f"cannot read the audio of {source.path} ({exc})") from exc
        self._in_stream = self._in.streams[source.index]
        if source.start is not None:
            self._in.seek(int(source.start / self._in_stream.time_base), stream=self._in_stream, backward=True)
        self._packets = self._in.demux(self._in_stream)
        self._pending = None      # a packet read ahead that belongs with a later video frame
        self._done = False
        self._out = None
        self._stream = None
        self.copying = False

    @property
    def codec(self) -> str:
        return self._in_stream.codec_context.name

    def attach(self, out, copy: bool = True) -> bool:
        """Add the audio stream to ``out``; returns whether packets are copied as they are (only when
        ``copy`` is asked for and ``out`` lists the source's codec) rather than re-encoded."""
        template = self._in_stream
        self._out = out
        self.copying = copy and self.codec in out.supported_codecs
        if self.copying:
            self._stream = out.add_stream_from_template(template)
            return True
        # FFmpeg's own Opus encoder is experimental (and WebM's default): libopus is preferred.
        name = next((c for c in ("aac", "libopus") if c in out.supported_codecs), out.default_audio_codec)
        rate = template.codec_context.sample_rate or 48000
        rates = av.codec.Codec(name, "w").audio_rates
        if rates and rate not in rates:
            rate = 48000 if 48000 in rates else max(rates)  # Opus: 44.1 kHz sources are resampled
        self._stream = out.add_stream(name, rate=rate)
        self._stream.layout = template.codec_context.layout
        return False

    def mux_until(self, video_end: float) -> None:
        """Move source audio up to ``video_end`` (seconds of output) into the file."""
        src = self.source
        if self._done:
            return
        limit = src.shift + video_end
        if src.end is not None:
            limit = min(limit, src.end)
        tb = self._in_stream.time_base
        shift = round(src.shift / tb)
        while True:
            packet, self._pending = self._pending or next(self._packets, None), None
            if packet is None:
                self._done = True
                return
            if packet.pts is None:
                continue  # the demuxer's end-of-stream marker
            start = float(packet.pts * tb)
            if start >= limit - 1e-9:
                self._pending = packet  # belongs with a later video frame
                return
            if src.start is not None and start < src.start - 1e-9:
                continue  # before the part: whole packets go, so audio is off by under one packet
            if self.copying:
                packet.pts -= shift
                if packet.dts is not None:
                    packet.dts -= shift
                packet.stream = self._stream
                self._out.mux(packet)
            else:
                self._reencode(packet, shift)

    def _reencode(self, packet, shift: int) -> None:
        tb = self._in_stream.time_base
        for frame in self._in_stream.codec_context.decode(packet):
            if frame.pts is None or frame.pts < shift:
                continue
            rate = frame.sample_rate
            frame.pts = round((frame.pts - shift) * tb * rate)
            frame.time_base = Fraction(1, rate)
            self._mux(self._stream.encode(frame))

    def finish(self) -> None:
        """Drain the audio encoder (re-encoding keeps a few frames of look-ahead)."""
        if not self.copying:
            self._mux(self._stream.encode(None))

    def _mux(self, packets) -> None:
        for packet in packets:
            self._out.mux(packet)

    def close(self) -> None:
        if self._in is not None:
            self._in.close()
            self._in = None
