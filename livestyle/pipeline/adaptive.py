"""The working size a live stream stylises at, chosen from how long frames take on this machine.

Stylising costs about in proportion to the pixels the net sees, so a size that keeps up with the
camera follows from one measurement: ``new = size * sqrt(aim / time)``. :class:`SizeController`
takes the typical per-frame stylisation time at the current size (the median of the last few
frames: one frame held up by another program is not a trend) and

* shrinks at once (after a few frames) when that time is over the frame budget, straight to the
  size the measurement says fits (a stutter costs every frame until it is fixed);
* grows slowly when it stays well under the budget for about a second, by at most half
  the way to the size that would fit, so a passing lull does not buy a size that stutters later;
* does nothing in between (hysteresis: a size that fits is kept, not chased).

Sizes are long sides, in steps of :data:`STEP` pixels, never above the input (stylising more
pixels than the camera has adds nothing) nor above :data:`CEILING` (the light mosaic net paints a
fine regular diagonal hatch over flat walls and skin at larger working sizes, docs/webcam.md; a
caller that wants more passes its own ceiling), never below :data:`FLOOR` (smaller turns the
strokes into a coarse grid: a machine too slow for it shows fewer frames, not a worse picture). Nothing here runs a net or reads a clock: the pipeline feeds it timings, tests feed it
numbers.
"""

from __future__ import annotations

import math
import statistics
from collections import deque

STEP = 32         # sizes move in these steps: fewer distinct shapes, each one a few frames to settle
FLOOR = 320       # below this the strokes, a fixed size in the net's pixels, blow up into a coarse
                  # regular grid over the picture (docs/webcam.md): fewer frames are better
CEILING = 512     # above this mosaic_fast's diagonal hatch shows on flat areas at 1:1 (docs/webcam.md)
START = 448       # first guess; a wrong one costs a few frames (shrinking) or seconds (growing)

AIM = 0.80        # fraction of the frame budget a new size is chosen to take
SHRINK_OVER = 0.95    # shrink when frames take more than this fraction of the budget
GROW_UNDER = 0.60     # grow when it stays under this fraction
SHRINK_AFTER = 3      # frames measured at a size before it may shrink
GROW_AFTER_S = 1.0    # seconds of frames under GROW_UNDER before it may grow
SETTLE = 2            # frames not counted after a change: the first runs at a new shape are slow
RECENT = 5            # frames the typical time is the median of


def working_dims(input_wh: tuple[int, int], long_side: int | None) -> tuple[int, int]:
    """The (width, height) a frame of ``input_wh`` is stylised at for ``long_side`` (None: as is),
    rounded as the stylizer rounds it (``imageops.resize_long_side``)."""
    w, h = input_wh
    if not long_side or long_side == max(w, h):
        return w, h
    f = long_side / max(w, h)
    return max(1, round(w * f)), max(1, round(h * f))


class SizeController:
    """Chooses the long side to stylise at so that stylising a frame fits in ``1 / target_fps``.

    Call :meth:`record` with each frame's stylisation time (seconds, taken at :attr:`size`); it
    returns the new size when it changes one, else None.
    """

    def __init__(self, input_long: int, target_fps: float, *, start: int | None = None,
                 floor: int = FLOOR, ceiling: int | None = CEILING, step: int = STEP):
        if target_fps <= 0:
            raise ValueError(f"target_fps must be positive, got {target_fps}")
        self.target_fps = float(target_fps)
        self.budget = 1.0 / self.target_fps
        self.step = step
        self.maximum = min(input_long, ceiling) if ceiling else input_long
        self.minimum = min(floor, self.maximum)
        self.size = self._clamp(START if start is None else start)
        self.changes = 0
        self.decided_on: float | None = None   # the typical time that made the last change
        self._recent: deque[float] = deque(maxlen=RECENT)
        self._counted = 0      # frames measured at this size
        self._skip = SETTLE
        self._under = 0        # frames in a row with the typical time under GROW_UNDER

    @property
    def average(self) -> float | None:
        """Typical seconds per frame at :attr:`size` (median of the last few); None: not measured."""
        return statistics.median(self._recent) if self._recent else None

    def record(self, seconds: float) -> int | None:
        if self._skip:
            self._skip -= 1
            return None
        self._recent.append(seconds)
        self._counted += 1
        load = self.average / self.budget
        if load > SHRINK_OVER and self._counted >= SHRINK_AFTER and self.size > self.minimum:
            return self._change(min(self.size - self.step, self._fit()))
        self._under = self._under + 1 if load < GROW_UNDER else 0
        if self._under >= max(SHRINK_AFTER, GROW_AFTER_S * self.target_fps) and self.size < self.maximum:
            fit = self._fit()
            if fit > self.size:
                return self._change(self.size + max(self.step, (fit - self.size) // 2))
            self._under = 0
        return None

    def reset(self) -> None:
        """Forget the measurements, keep the size (another net runs: its timings start again)."""
        self._recent.clear()
        self._counted, self._under, self._skip = 0, 0, SETTLE

    def _fit(self) -> int:
        """The long side whose frames would take AIM of the budget, by the pixel-count model."""
        return self._snap(self.size * math.sqrt(AIM * self.budget / max(self.average, 1e-6)))

    def _snap(self, side: float) -> int:
        return int(side) // self.step * self.step

    def _clamp(self, side: int) -> int:
        # The input's own size is allowed even when it is no multiple of the step.
        snapped = side if side >= self.maximum else self._snap(side)
        return max(self.minimum, min(self.maximum, snapped))

    def _change(self, side: int) -> int | None:
        side = self._clamp(side)
        if side == self.size:
            return None
        self.size, self.changes, self.decided_on = side, self.changes + 1, self.average
        self.reset()
        return side
