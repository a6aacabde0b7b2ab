"""Frame in, frame out: BGR uint8 HxWx3 at the boundary, any size, optional colour preservation.

Pre-processing, the engine run and post-processing are separate pure steps. Frames are resized
to ``size`` (long side) when one is given; without one, frames larger than the working size
(:data:`~livestyle.runtime.upsample.WORK_SIZE`) are brought down to it, so that memory stays
bounded and strokes keep a painting's scale. Frames smaller than the nets can take are stretched
up (:data:`MIN_SIDE`), reflection-padded to the graph's multiple of 4 (reflection, not zeros, so
no dark border seeps in), stylised, cropped back and returned at the input size: enlarged with
the photo's own detail (``upsample.py``), shrunk by averaging.

:class:`Stylizer` is the contract every stylisation family codes against; :class:`GraphStylizer`
runs one graph (the fixed-style nets). Two-graph families live in ``split.py`` and ``adain.py``,
and ``factory.py`` builds whichever a command asks for: this module imports none of them.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Protocol

import cv2
import numpy as np

from ..color import apply_preserve_color, parse_preserve_color
from ..errors import InputError
from ..imageops import resize_long_side, to_bgr
from .engine import Engine
from .memory import check_fits
from .upsample import WORK_SIZE, detail_upsample

SIZE_MULTIPLE = 4
# ONNX Runtime refuses a reflection pad that is not smaller than the side it pads. The Johnson and
# VGG nets pad at their coarsest resolution (1/4, 1/8), the light nets put a 32 px border around the
# frame: smaller frames are stretched up to this before the graph and shrunk back after it.
MIN_SIDE = 64


@dataclass(frozen=True)
class Prepared:
    """A frame made ready for the graph, plus what is needed to undo the preparation."""

    tensor: np.ndarray          # [3, H', W'] float32 RGB 0..255, H', W' multiples of 4
    work_hw: tuple[int, int]    # size before padding
    input_hw: tuple[int, int]   # size of the frame the caller gave
    work_bgr: np.ndarray | None = None   # the frame as the net sees it (BGR uint8, work_hw)


def bgr_frame(frame: np.ndarray) -> np.ndarray:
    """Any image a caller hands in, as the BGR uint8 HxWx3 frame stylizers work on."""
    if not isinstance(frame, np.ndarray) or frame.ndim not in (2, 3) or frame.size == 0:
        raise InputError(f"expected an image array HxWx3, got {getattr(frame, 'shape', type(frame))}")
    if frame.ndim == 3 and frame.shape[2] == 3 and frame.dtype == np.uint8:
        return frame
    return to_bgr(frame)


def work_long_side(hw: tuple[int, int], size: int | None, max_size: int | None) -> int | None:
    """The long side a frame of ``hw`` is stylised at: ``size`` when given (shrinking or
    enlarging), else ``max_size`` for frames larger than that; None: the frame's own size."""
    if size:
        return size
    return max_size if max_size and max(hw) > max_size else None


def prepare(frame_bgr: np.ndarray, size: int | None, multiple: int = SIZE_MULTIPLE,
            min_side: int = MIN_SIDE, max_size: int | None = None) -> Prepared:
    """``size``: the long side to stylise at; without it, ``max_size`` caps the long side."""
    frame_bgr = bgr_frame(frame_bgr)
    h, w = frame_bgr.shape[:2]
    long_side = work_long_side((h, w), size, max_size)
    work = resize_long_side(frame_bgr, long_side, enlarge=cv2.INTER_LINEAR) if long_side else frame_bgr
    if min(work.shape[:2]) < min_side:
        # Each short side on its own, not the aspect: a 1x4000 strip grows to 32x4000, not 32x128000.
        grown = (max(work.shape[1], min_side), max(work.shape[0], min_side))
        work = cv2.resize(work, grown, interpolation=cv2.INTER_LINEAR)
    wh_, work_bgr = work.shape[:2], work
    pad_h, pad_w = (-wh_[0]) % multiple, (-wh_[1]) % multiple
    if pad_h or pad_w:
        # BORDER_REFLECT_101 needs the image to be larger than the pad; tiny frames fall back.
        mode = cv2.BORDER_REFLECT_101 if min(wh_) > max(pad_h, pad_w) else cv2.BORDER_REPLICATE
        work = cv2.copyMakeBorder(work, 0, pad_h, 0, pad_w, mode)
    # Plane by plane: one strided float conversion of the interleaved frame is many times
    # slower, and this runs on every frame of video and cam.
    rgb = np.empty((3, *work.shape[:2]), np.float32)
    for c, plane in enumerate(reversed(cv2.split(work))):
        rgb[c] = plane
    return Prepared(rgb, wh_, (h, w), work_bgr)


def to_work_bgr(output_rgb: np.ndarray, prepared: Prepared) -> np.ndarray:
    """[3, H', W'] float RGB 0..255 -> BGR uint8 at the working size (padding cropped off)."""
    h, w = prepared.work_hw
    planes = np.clip(output_rgb[:, :h, :w], 0, 255)
    np.rint(planes, out=planes)
    planes = planes.astype(np.uint8)
    return cv2.merge([planes[2], planes[1], planes[0]])   # much faster than a strided transpose


def restore_size(out: np.ndarray, prepared: Prepared, frame_bgr: np.ndarray | None = None) -> np.ndarray:
    """A working-size result (BGR uint8) at the caller's size. Enlarging with ``frame_bgr`` (the
    caller's frame as BGR uint8) adds back the photo's detail the working size could not hold
    (``upsample.detail_upsample``); without it the result is only interpolated."""
    h, w = out.shape[:2]
    ih, iw = prepared.input_hw
    if (h, w) == (ih, iw):
        return out
    if ih < h or iw < w:   # averaging, so a tiny result is the mean of what was painted
        return cv2.resize(out, (iw, ih), interpolation=cv2.INTER_AREA)
    if frame_bgr is not None and prepared.work_bgr is not None:
        return detail_upsample(out, prepared.work_bgr, frame_bgr)
    return cv2.resize(out, (iw, ih), interpolation=cv2.INTER_LINEAR)


def finish(output_rgb: np.ndarray, prepared: Prepared, frame_bgr: np.ndarray | None = None) -> np.ndarray:
    """[3, H', W'] float RGB 0..255 -> BGR uint8 at the caller's size (see :func:`restore_size`)."""
    return restore_size(to_work_bgr(output_rgb, prepared), prepared, frame_bgr)


def stream_frames(stylizer, frames: Iterable[np.ndarray]) -> Iterator[np.ndarray]:
    """Frames through any stylizer in order: its pipelined ``stylize_stream`` where it has one,
    else one call per frame (stand-ins in tests, wrappers)."""
    stream = getattr(stylizer, "stylize_stream", None)
    return stream(frames) if stream is not None else map(stylizer, frames)


class FrameBlender(Protocol):
    """Temporal blending (``runtime/temporal.py``): values of a frame mixed with the history."""

    def __call__(self, values: np.ndarray, image: np.ndarray) -> np.ndarray:
        """values [C, h, w] computed from ``image`` [3, H, W] (RGB 0..255) -> blended values."""

    def motion(self, image: np.ndarray):
        """What the blend needs from the input frame alone (flow, reliability)."""

    def apply(self, values: np.ndarray, motion) -> np.ndarray:
        """``__call__`` with the motion already estimated."""

    def reset(self) -> None:
        """Forget the history (new clip, new style)."""


class Stylizer:
    """Stylizes BGR frames; a subclass says how its net runs (:meth:`run_graph`, :attr:`backend`).

    With a ``blender`` consecutive calls are treated as a video: each frame's decoded output is
    blended with the previous result along the optical flow (output space, the measured best;
    docs/temporal.md). Output is blended before colour preservation, which only swaps colours.
    """

    size_multiple = SIZE_MULTIPLE   # the graph's total stride: input sides are padded to it
    blend_space = "output"
    # Memory one working pixel adds on the CPU (runtime/memory.py, set by the factory per net);
    # None: not checked.
    bytes_per_pixel: int | None = None
    # Frames the net runs at once in ``stylize_stream`` (the factory sets it for video files on a
    # CPU, with the cores shared out between them). 1: frame after frame, all cores on each.
    frames_in_flight = 1
    # Long side frames are stylised at when no ``size`` is given: larger ones are brought down to
    # it and their result back up with the photo's detail (runtime/upsample.py). None: every
    # frame at its own size, however large.
    max_size: int | None = WORK_SIZE

    def __init__(self, name: str, size: int | None = None, preserve_color: str | None = None,
                 blender: FrameBlender | None = None, model_name: str | None = None):
        if size is not None and not 16 <= size <= 16384:
            raise InputError(f"--size must be between 16 and 16384 pixels, got {size}")
        self.name, self.size = name, size
        self.preserve_color = parse_preserve_color(preserve_color)
        self.blender = blender
        self.model_name = model_name   # set when another net stands in for the style (a fast variant)
        self._flow_pool: ThreadPoolExecutor | None = None
        self._fits: set[tuple] = set()   # batch shapes already known to fit

    @property
    def backend(self) -> str:
        """What runs the net, e.g. 'ort-cpu' or 'ort-cuda' (for messages and benchmarks)."""
        raise NotImplementedError

    def run_graph(self, batch: np.ndarray) -> np.ndarray:
        """[N, 3, H, W] float RGB 0..255 (sides multiples of ``size_multiple``) -> the same shape."""
        raise NotImplementedError

    def infer(self, batch: np.ndarray) -> np.ndarray:
        if self.blender is None or self.blend_space != "output":
            return self.run_graph(batch)
        # The motion depends on the input frames only, so the optical flow is estimated on a
        # second thread while the net runs (both release the GIL). Frames of a batch are
        # consecutive: each one blends with the one before it.
        blender = self.blender
        pending = self._flow_thread().submit(lambda: [blender.motion(x) for x in batch])
        output = self.run_graph(batch)
        return np.stack([blender.apply(y, m) for y, m in zip(output, pending.result())])

    def stylize_stream(self, frames: Iterable[np.ndarray]) -> Iterator[np.ndarray]:
        """Consecutive frames in, their stylised frames out in the same order: a video.

        The same results as calling the stylizer on each frame in turn, with the work pipelined:
        while the net runs on frame t, a second thread estimates frame t's motion and a third
        blends frame t-1 with the history and converts it back (``finish``, colour). On a small CPU
        the net leaves gaps the blend fills, so the stream gains frames/s (docs/performance.md).
        With ``frames_in_flight`` > 1 the net also runs on that many frames at once, each on its
        share of the cores: small convolutions scale badly over threads, frames scale well.
        """
        lanes = self.frames_in_flight if self.blend_space == "output" else 1
        net = ThreadPoolExecutor(max_workers=lanes, thread_name_prefix="livestyle-net") if lanes > 1 else None
        post = ThreadPoolExecutor(max_workers=1, thread_name_prefix="livestyle-post")
        pending: deque = deque()
        try:
            for frame in frames:
                pending.append(post.submit(self._finish_frame, *self._start_frame(frame, net, lanes)))
                while len(pending) > lanes:
                    yield pending.popleft().result()
            while pending:
                yield pending.popleft().result()
        finally:
            for future in pending:
                future.cancel()
            post.shutdown(wait=True)
            if net is not None:
                net.shutdown(wait=True, cancel_futures=True)

    def _start_frame(self, frame: np.ndarray, net: ThreadPoolExecutor | None = None, lanes: int = 1):
        """The net's output for one frame (or its future, run on ``net``), and what turns it into
        the finished frame. Motions are submitted in frame order: the blender's state needs it."""
        prepared = self.prepare(frame)
        self._check_memory(prepared.tensor.shape[1:], lanes)
        motion = None
        if self.blender is not None and self.blend_space == "output":
            motion = self._flow_thread().submit(self.blender.motion, prepared.tensor)
        batch = prepared.tensor[None]
        output = self.run_graph(batch) if net is None else net.submit(self.run_graph, batch)
        return frame, prepared, output, motion

    def _finish_frame(self, frame: np.ndarray, prepared: Prepared, output, motion) -> np.ndarray:
        output = (output.result() if isinstance(output, Future) else output)[0]
        if motion is not None:
            output = self.blender.apply(output, motion.result())
        return self._deliver(output, prepared, frame)

    def prepare(self, frame: np.ndarray) -> Prepared:
        """One frame made ready for this stylizer's graph, at its working size."""
        return prepare(frame, self.size, self.size_multiple, max_size=self.max_size)

    def _check_memory(self, hw: tuple[int, int], frames: int) -> None:
        """Refuse a frame too large for the free memory with a size that fits (once per shape:
        a video's frames all have one). GPU memory is the GPU runtime's to report."""
        if self.bytes_per_pixel is None or not self.backend.endswith("cpu") or (hw, frames) in self._fits:
            return
        check_fits(hw, frames, self.bytes_per_pixel)
        self._fits.add((hw, frames))

    def _flow_thread(self) -> ThreadPoolExecutor:
        if self._flow_pool is None:
            self._flow_pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="livestyle-flow")
        return self._flow_pool

    def __call__(self, frame_bgr: np.ndarray) -> np.ndarray:
        return self.stylize_batch([frame_bgr])[0]

    def stylize_batch(self, frames: list[np.ndarray]) -> list[np.ndarray]:
        prepared = [self.prepare(f) for f in frames]
        outputs: list[np.ndarray | None] = [None] * len(frames)
        # Frames of one size run as one batch; mixed sizes (rare) run in groups.
        groups: dict[tuple, list[int]] = {}
        for i, p in enumerate(prepared):
            groups.setdefault(p.tensor.shape, []).append(i)
        for shape, idx in groups.items():
            self._check_memory(shape[1:], len(idx))
            result = self.infer(np.stack([prepared[i].tensor for i in idx]))
            for j, i in enumerate(idx):
                outputs[i] = self._deliver(result[j], prepared[i], frames[i])
        return outputs  # type: ignore[return-value]

    def _deliver(self, output: np.ndarray, prepared: Prepared, frame: np.ndarray) -> np.ndarray:
        """The net's (blended) output as the caller's frame: size and format back, colour kept.

        Colour is kept at the working size, against the frame as the net saw it (cheaper on a
        large frame, and the detail brought back on enlarging then follows the kept colours)."""
        result = to_work_bgr(output, prepared)
        if self.preserve_color is not None:
            result = apply_preserve_color(self.preserve_color, result, prepared.work_bgr)
        return restore_size(result, prepared, bgr_frame(frame))

    def reset(self) -> None:
        """Forget temporal history (call between clips and when the style changes)."""
        if self.blender is not None:
            self.blender.reset()


class GraphStylizer(Stylizer):
    """One graph, ``image`` -> ``stylized``: the fixed-style nets (Johnson, Engstrom, fast students)."""

    def __init__(self, engine: Engine, name: str, size: int | None = None,
                 preserve_color: str | None = None, blender: FrameBlender | None = None,
                 model_name: str | None = None, size_multiple: int = SIZE_MULTIPLE):
        super().__init__(name, size=size, preserve_color=preserve_color, blender=blender,
                         model_name=model_name)
        self.engine = engine
        self.size_multiple = size_multiple

    @property
    def backend(self) -> str:
        return self.engine.backend

    def run_graph(self, batch: np.ndarray) -> np.ndarray:
        return self.engine.run({"image": batch})[0]
