"""A long video cut into chunks that several workers stylise at once, and joined back into one file.

Cuts fall on keyframes: decoding can start there without the frames before, and every frame keeps
its source timestamp, so the joined file has the frame count, rate and length of a one-pass run.

The temporal blend gives each frame the history of the frames before it. A chunk that started
cold would show a jump where it meets the previous chunk (its first frame stylised alone), so a
chunk first runs a warm-up: the frames just before its first kept frame go through the stylizer
and are thrown away, which leaves the blender with nearly the history a one-pass run would have.
Each frame keeps at most ``stability`` of the history (less where the flow check fails), so after
n warm-up frames what a cold start got wrong weighs at most stability**n; the warm-up is long
enough to bring that under half a grey level.

The chunks are encoded separately with the same encoder settings and joined by copying their
packets (no second encode); the soundtrack comes from the source in one piece, through the same
:class:`~livestyle.media.audio.AudioMuxer` a one-pass file uses, so it has no seams at all.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

# cv2 before av, always (see livestyle/media/video.py).
import cv2  # noqa: F401  isort: skip
import av  # isort: skip

from ..errors import InputError, OutputError
from ..media.audio import AudioMuxer
from ..media.video import CONTAINERS, VideoReader

# Containers whose H.264/H.265 packets carry their parameter sets out of band (avcC/hvcC), so
# packets from one chunk file can be copied into another file of the same kind unchanged. AVI
# wants Annex B streams and fixed-rate timing: AVI outputs are stylised in one piece.
JOINABLE_CONTAINERS = {"mp4", "mov", "matroska"}

WORK_NOTE = "the output folder's .livestyle-batch/chunks"

# What a cold start may leave in the output, in grey levels (the warm-up length follows from it).
WARMUP_RESIDUAL_GREY = 0.5


@dataclass(frozen=True)
class ChunkSpan:
    """Frames with source pts in [start_pts, end_pts) (``end_pts`` None: to the end of the file)."""

    index: int
    start_pts: int       # a keyframe's pts on the source stream's clock
    end_pts: int | None
    origin_pts: int      # pts of the stream's first frame: the output clock's zero
    time_base: Fraction

    @property
    def start(self) -> float:
        """Seconds from the first frame (what ``VideoReader`` and ``stylize_video`` take)."""
        return float((self.start_pts - self.origin_pts) * self.time_base)

    @property
    def duration(self) -> float | None:
        return None if self.end_pts is None else float((self.end_pts - self.start_pts) * self.time_base)

    @property
    def offset(self) -> Fraction:
        """Where the chunk's first frame sits in the joined file, exact seconds."""
        return (self.start_pts - self.origin_pts) * self.time_base


def keyframes(path: Path) -> tuple[list[int], int, Fraction]:
    """Keyframe pts of the first video stream, its first pts and its time base (packets only, no
    decoding: reading a long file's headers costs a fraction of a second per minute)."""
    try:
        with av.open(str(path)) as container:
            stream = container.streams.video[0]
            found = [p.pts for p in container.demux(stream) if p.is_keyframe and p.pts is not None]
            tb = Fraction(stream.time_base)
            origin = stream.start_time if stream.start_time is not None else (min(found) if found else 0)
    except (av.FFmpegError, IndexError) as exc:
        raise InputError(f"{path} cannot be scanned for keyframes ({exc}); the file is damaged") from exc
    return sorted(set(found)), origin, tb


def plan_chunks(keyframe_pts: list[int], origin_pts: int, time_base: Fraction, chunk_seconds: float) -> list[ChunkSpan]:
    """Cut at the first keyframe at least ``chunk_seconds`` after the previous cut.

    A last piece shorter than half a chunk is added to the chunk before it rather than left as a
    chunk of its own: a chunk's fixed costs (warm-up, seek, worker round trip) would dominate it.
    """
    if chunk_seconds <= 0:
        raise InputError(f"chunk length must be more than 0 seconds, got {chunk_seconds}")
    step = Fraction(chunk_seconds).limit_denominator(1000) / time_base
    cuts = [origin_pts]
    for pts in keyframe_pts:
        if pts - cuts[-1] >= step:
            cuts.append(pts)
    return [ChunkSpan(i, start, cuts[i + 1] if i + 1 < len(cuts) else None, origin_pts, time_base)
            for i, start in enumerate(cuts)]


def drop_short_tail(spans: list[ChunkSpan], end_pts: int, chunk_seconds: float) -> list[ChunkSpan]:
    """``plan_chunks`` with a last chunk under half ``chunk_seconds`` (to ``end_pts``) merged back."""
    if len(spans) < 2:
        return spans
    last = spans[-1]
    if (end_pts - last.start_pts) * last.time_base >= Fraction(chunk_seconds) / 2:
        return spans
    before = spans[-2]
    merged = ChunkSpan(before.index, before.start_pts, None, before.origin_pts, before.time_base)
    return [*spans[:-2], merged]


def warmup_frames(stability: float) -> int:
    """Frames a chunk runs before its first kept one so a cold start leaves under
    ``WARMUP_RESIDUAL_GREY`` (a full-range miss decays as stability**n). 0 without blending;
    ``math.inf`` when the blend never forgets (stability 1), which cannot be chunked."""
    if stability <= 0:
        return 0
    if stability >= 1:
        return math.inf  # type: ignore[return-value]
    return math.ceil(math.log(WARMUP_RESIDUAL_GREY / 255.0) / math.log(stability))


def can_join(suffix: str) -> bool:
    """Whether chunks written as ``suffix`` files can be joined by copying their packets."""
    return CONTAINERS.get(suffix.lower()) in JOINABLE_CONTAINERS


class _KeepHistory:
    """The stylizer with the first ``reset`` ignored: ``stylize_video`` forgets the history at a
    file's start, but a chunk's history is what its warm-up built."""

    def __init__(self, stylizer):
        self._stylizer = stylizer
        self._armed = True

    def __call__(self, frame):
        return self._stylizer(frame)

    def stylize_batch(self, frames):
        return self._stylizer.stylize_batch(frames)

    def reset(self) -> None:
        if self._armed:
            self._armed = False
            return
        self._stylizer.reset()

    def __getattr__(self, name):
        return getattr(self._stylizer, name)


def continuing(stylizer):
    """``stylizer`` for ``stylize_video`` over a chunk: the history of the warm-up is kept."""
    return _KeepHistory(stylizer)


def warm_up(src: Path, stylizer, span: ChunkSpan, frames: int) -> int:
    """Run the ``frames`` frames before ``span`` through ``stylizer`` and drop the results, so its
    blend starts the chunk with history. Returns how many there were (fewer at the file's start)."""
    if not frames or span.start <= 0:
        return 0
    with VideoReader(src) as reader:
        fps = float(reader.info.fps)
    begin = max(0.0, span.start - frames / fps)
    done = 0
    with VideoReader(src, begin, span.start - begin) as reader:
        for frame in reader:
            stylizer(frame.image)
            done += 1
    return done


def join_chunks(chunks: list[tuple[Path, ChunkSpan]], src: Path, dst: Path, rotation: int = 0) -> int:
    """Copy the chunks' video packets, in order and moved to their place, and the source's audio
    into ``dst``; returns the number of video frames. ``dst`` is written in place: give it a
    temporary name and rename it when this returns."""
    with VideoReader(src) as reader:
        audio_copy = reader.audio_copy()
    inputs = [av.open(str(path)) for path, _ in chunks]
    audio = AudioMuxer(audio_copy) if audio_copy is not None else None
    try:
        out = av.open(str(dst), "w", format=CONTAINERS[dst.suffix.lower()])
        try:
            return _copy_into(out, inputs, [span for _, span in chunks], audio, rotation, dst)
        finally:
            out.close()
    except av.FFmpegError as exc:
        raise OutputError(f"joining the chunks of {dst.name} failed: {exc}") from exc
    finally:
        for container in inputs:
            container.close()
        if audio is not None:
            audio.close()


def _copy_into(out, inputs, spans: list[ChunkSpan], audio: AudioMuxer | None, rotation: int, dst: Path) -> int:
    template = inputs[0].streams.video[0]
    for other in inputs[1:]:
        if other.streams.video[0].codec_context.extradata != template.codec_context.extradata:
            raise OutputError(f"the chunks of {dst.name} were encoded with different settings; "
                              f"delete {WORK_NOTE} and run again")
    video = out.add_stream_from_template(template)
    video.time_base = template.time_base
    video.codec_context.framerate = template.average_rate  # not part of the template; Matroska needs it
    if rotation:
        video.set_display_rotation(rotation)
    if audio is not None:
        # Copied as is where the container takes the codec, else re-encoded, as VideoWriter does.
        audio.attach(out)
    out.start_encoding()
    frames = 0
    last_dts = None
    for chunk, span in zip(inputs, spans):
        stream = chunk.streams.video[0]
        tb = Fraction(stream.time_base)
        shift = None
        for packet in chunk.demux(stream):
            if packet.pts is None and packet.dts is None:
                continue  # the demuxer's end-of-stream marker
            if shift is None:
                # A chunk starts with an IDR frame, shown first: its time is the chunk's zero. That is
                # 0 in MP4/MOV (edit lists absorb the encoder delay); Matroska cannot store negative
                # times and moves the whole chunk later by the delay instead. The offset is exact
                # in MP4/MOV (the chunk keeps the source's time base); Matroska counts
                # milliseconds, where a one-pass file rounds each frame's time the same way.
                shift = round(span.offset / tb) - packet.pts
            packet.pts += shift
            if packet.dts is not None:
                packet.dts += shift
                # Every chunk starts with the same encoder delay, so decode times run on across a
                # join; a container that rounded them (Matroska's milliseconds) may tie two.
                if last_dts is not None and packet.dts <= last_dts:
                    packet.dts = last_dts + 1
                last_dts = packet.dts
            packet.stream = video
            out.mux(packet)
            frames += 1
            if audio is not None and last_dts is not None:
                # Sound up to this packet's decode time next to it: interleaved as it is written.
                audio.mux_until(float(last_dts * tb))
    if audio is not None:
        audio.mux_until(math.inf)
        audio.finish()
    return frames


def count_frames(path: Path) -> int:
    """Video packets in a finished file (one per frame): a check that reads headers, not pixels."""
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        return sum(1 for p in container.demux(stream) if p.size)
