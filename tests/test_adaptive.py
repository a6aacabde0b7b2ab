"""The live working-size controller (``livestyle.pipeline.adaptive``), fed simulated timings.

A stand-in machine takes a time that grows with the pixels stylised; the controller has to find
a size that holds the frame rate, keep it, and stay between its floor and the input's own size.
"""

from __future__ import annotations

import random

import pytest

from livestyle.pipeline.adaptive import CEILING, FLOOR, STEP, SizeController, working_dims


def machine(ms_at_720p: float, overhead_ms: float = 2.0, jitter: float = 0.0, seed: int = 0):
    """Seconds to stylise a 16:9 frame of long side ``size``: in proportion to its pixels."""
    rng = random.Random(seed)

    def seconds(size: int) -> float:
        t = overhead_ms + ms_at_720p * (size / 1280) ** 2
        return t * (1 + rng.uniform(-jitter, jitter)) / 1000

    return seconds


def run(control: SizeController, seconds, frames: int) -> list[int]:
    sizes = []
    for _ in range(frames):
        control.record(seconds(control.size))
        sizes.append(control.size)
    return sizes


@pytest.mark.parametrize("ms_at_720p", [120.0, 250.0, 400.0])
def test_converges_to_a_size_that_holds_the_rate_and_stays_there(ms_at_720p):
    control = SizeController(1280, 30.0)
    sizes = run(control, machine(ms_at_720p, jitter=0.15), 600)   # 20 s at 30 fps
    final, budget, exact = sizes[-1], 1 / 30, machine(ms_at_720p)
    assert exact(final) <= 0.95 * budget                 # holds the rate
    assert exact(final + STEP) > 0.6 * budget            # and leaves little on the table
    assert len(set(sizes[-300:])) == 1, "still changing after 10 s: no hysteresis"
    assert control.changes <= 4
    assert all(s % STEP == 0 and FLOOR <= s <= 1280 for s in sizes)


def test_shrinks_within_a_few_frames_and_grows_slowly():
    control = SizeController(1280, 30.0, start=640)
    first = run(control, machine(600.0), 10)
    assert first[-1] < 640, "an overloaded size must go within a third of a second"
    # the machine gets faster (another program stopped): about a second between steps up
    grown = run(control, machine(60.0), 300)
    steps = [i for i in range(len(grown)) if grown[i] != (grown[i - 1] if i else first[-1])]
    assert steps and grown[-1] > first[-1] and all(s > 0 for s in grown[1:])
    assert steps[0] >= 25 and all(b - a >= 25 for a, b in zip(steps, steps[1:]))


def test_never_above_the_input_nor_below_the_floor():
    tiny_input = SizeController(300, 30.0)
    sizes = run(tiny_input, machine(1.0), 300)   # a machine far faster than needed
    assert max(sizes) == 300 and tiny_input.size == 300

    hopeless = SizeController(1280, 30.0)
    sizes = run(hopeless, machine(50_000.0), 100)   # nothing fits: the floor, not less
    assert min(sizes) == FLOOR and hopeless.size == FLOOR

    below_floor = SizeController(120, 30.0)
    assert run(below_floor, machine(50_000.0), 20)[-1] == 120   # never enlarged past the input


def test_ceiling_caps_a_fast_machine_unless_lifted():
    capped = SizeController(1920, 30.0)
    assert run(capped, machine(1.0), 600)[-1] == CEILING
    free = SizeController(1920, 30.0, ceiling=None)
    assert run(free, machine(1.0), 900)[-1] == 1920


def test_reset_keeps_the_size_and_forgets_the_timings():
    control = SizeController(1280, 30.0, start=384)
    run(control, machine(120.0), 20)
    size = control.size
    control.reset()
    assert control.size == size and control.average is None


def test_rejects_a_target_of_zero():
    with pytest.raises(ValueError):
        SizeController(1280, 0)


@pytest.mark.parametrize("wh, side, expected", [((1280, 720), 448, (448, 252)), ((1280, 720), None, (1280, 720)),
                                                ((720, 1280), 320, (180, 320)), ((640, 480), 640, (640, 480))])
def test_working_dims(wh, side, expected):
    assert working_dims(wh, side) == expected
