"""``livestyle video`` and the PyAV reader/writer under it: timing, audio, trimming, Ctrl-C, bad input.

Clips are generated tiny (64x48, a second or less) so the whole file runs in seconds on a CPU.
Also home of the helpers test_cam.py shares (stand-in stylizer, clip maker, CLI runner).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import types
from fractions import Fraction
from pathlib import Path

import cv2  # isort: skip - before av, see livestyle/media/video.py
import av  # isort: skip
import numpy as np
import pytest

from clips import write_clip
from livestyle.cli.main import main
from livestyle.media.video import VideoReader, VideoWriter
from livestyle.paths import shared_dir
from livestyle.pipeline.file import stylize_video

REPO = Path(__file__).resolve().parents[1]
CLIPS = shared_dir() / "videos" / "clips"


# -- helpers shared with test_cam.py ---------------------------------------------------------


class Invert:
    """Cheap deterministic stand-in for the real Stylizer: inverts colours."""

    def __init__(self, name: str = "invert", delay: float = 0.0, interrupt_at: int | None = None):
        self.name, self.delay, self.interrupt_at = name, delay, interrupt_at
        self.calls = 0
        self.resets = 0

    def __call__(self, frame: np.ndarray) -> np.ndarray:
        self.calls += 1
        if self.interrupt_at is not None and self.calls >= self.interrupt_at:
            raise KeyboardInterrupt  # what Ctrl-C raises in the main thread
        if self.delay:
            time.sleep(self.delay)
        return 255 - frame

    def stylize_batch(self, frames: list[np.ndarray]) -> list[np.ndarray]:
        return [self(f) for f in frames]

    def reset(self) -> None:
        self.resets += 1


def pattern(i: int, w: int, h: int) -> np.ndarray:
    """Left half red, right half blue, green ramping with the frame index: easy to check after
    inversion and lossy coding."""
    img = np.zeros((h, w, 3), np.uint8)
    img[:, : w // 2, 2] = 220
    img[:, w // 2:, 0] = 220
    img[:, :, 1] = (i * 7) % 200
    return img


def make_clip(path: Path, frames: int = 20, size=(64, 48), fps=Fraction(24), audio: str | None = "aac",
              rotation: int = 0) -> Path:
    """A tiny H.264 clip with a sine-tone soundtrack as long as the video."""
    w, h = size
    return write_clip(path, (pattern(i, w, h) for i in range(frames)), fps, audio=audio, rotation=rotation)


def probe(path: Path) -> dict:
    """Decode everything and report what a player would see."""
    with av.open(str(path)) as c:
        v = c.streams.video[0]
        a = c.streams.audio[0] if c.streams.audio else None
        pts, apts, first, rotation = [], [], None, 0
        for packet in c.demux(*c.streams.video[:1], *c.streams.audio[:1]):
            if packet.stream.type == "audio":
                if packet.pts is not None:
                    apts.append((packet.pts, packet.duration))
                continue
            for frame in packet.decode():
                pts.append(frame.pts)
                if first is None:
                    first, rotation = frame.to_ndarray(format="bgr24"), frame.rotation
        facts = dict(frames=len(pts), fps=v.average_rate, width=v.width, height=v.height, first=first,
                     rotation=int(rotation) % 360, audio=None, audio_duration=None,
                     duration=float((max(pts) - min(pts)) * v.time_base + 1 / v.average_rate))
        if a is not None:
            facts["audio"] = a.codec_context.name
            end = max(p + d for p, d in apts)
            facts["audio_duration"] = float((end - min(p for p, _ in apts)) * a.time_base)
        return facts


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if ".part" in p.name)


RUNNER = """
import os, sys, types
import cv2  # before av (test_video imports it): see livestyle/media/video.py
sys.path[:0] = [{tests!r}, {repo!r}]
from test_video import Invert
module = types.ModuleType("livestyle.runtime.factory")
module.create_stylizer = lambda **kw: Invert(delay=float(os.environ.get("STAND_IN_DELAY", "0")))
sys.modules["livestyle.runtime.factory"] = module
from livestyle.cli.main import main
sys.exit(main(sys.argv[1:]))
""".format(tests=str(Path(__file__).resolve().parent), repo=str(REPO))


def cli_process(*args, delay: float = 0.0, env: dict | None = None) -> subprocess.Popen:
    """``livestyle ARGS`` in a child process with the inverting stand-in as the stylizer."""
    env = {**os.environ, "STAND_IN_DELAY": str(delay), "PYTHONUNBUFFERED": "1", **(env or {})}
    return subprocess.Popen([sys.executable, "-c", RUNNER, *map(str, args)], env=env, cwd=REPO,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def finish(proc: subprocess.Popen, timeout: float = 60) -> tuple[str, str]:
    """Wait for a child; one that hangs is killed rather than left behind."""
    try:
        return proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate()
        raise


@pytest.fixture
def stand_in(monkeypatch):
    """Route the CLI's create_stylizer to the stand-in; the list records every call's options."""
    calls: list[dict] = []
    module = types.ModuleType("livestyle.runtime.factory")

    def create_stylizer(**kwargs):
        calls.append(kwargs)
        return Invert(name=kwargs.get("style") or "invert")

    module.create_stylizer = create_stylizer
    monkeypatch.setitem(sys.modules, "livestyle.runtime.factory", module)
    return calls


def real_create_stylizer():
    try:
        from livestyle.runtime.factory import create_stylizer
    except ImportError as exc:
        pytest.skip(f"livestyle.runtime.factory.create_stylizer not importable yet ({exc})")
    return create_stylizer


@pytest.fixture
def clip(tmp_path) -> Path:
    return make_clip(tmp_path / "clip.mp4")


def close_to(a: float, b: float, fps) -> bool:
    return abs(a - b) <= 1 / float(fps) + 1e-6


# -- reader --------------------------------------------------------------------------------


def test_reader_reports_stream_facts(clip):
    with VideoReader(clip) as reader:
        info = reader.info
        frames = list(reader)
    assert isinstance(info.fps, Fraction) and info.fps == 24
    assert (info.width, info.height, info.frames, info.rotation) == (64, 48, 20, 0)
    assert info.duration == pytest.approx(20 / 24, abs=1e-3)
    assert info.audio is not None and info.audio.codec == "aac" and info.audio.sample_rate == 48000
    assert len(frames) == 20
    assert all(f.image.dtype == np.uint8 and f.image.shape == (48, 64, 3) for f in frames)
    assert [f.pts for f in frames] == sorted(f.pts for f in frames) and frames[0].pts == 0
    assert frames[-1].time == pytest.approx(19 / 24, abs=1e-3)


def test_reader_seeks_to_start_and_stops_after_duration(tmp_path):
    path = make_clip(tmp_path / "long.mp4", frames=48, audio=None)
    with VideoReader(path, start=0.5, duration=0.75) as reader:
        frames = list(reader)
        assert reader.info.frames == 18
    assert len(frames) == 18
    assert frames[0].pts == 0
    # frame 12 (0.5 s in) is the first one: its green level says which frame it was
    assert int(frames[0].image[:, :, 1].mean()) == pytest.approx(12 * 7, abs=4)


def test_reader_reads_rotation(tmp_path):
    with VideoReader(make_clip(tmp_path / "r.mp4", rotation=90, audio=None)) as reader:
        assert reader.info.rotation == 90


# -- video command: timing and audio -----------------------------------------------------------


@pytest.mark.parametrize("fps, suffix", [(Fraction(24), ".mp4"), (Fraction(30000, 1001), ".mp4"),
                                         (Fraction(30000, 1001), ".mkv"), (Fraction(24), ".mov")])
def test_video_keeps_frames_rate_length_and_audio(tmp_path, stand_in, capsys, fps, suffix):
    src = make_clip(tmp_path / "in.mp4", frames=20, fps=fps)
    dst = tmp_path / f"out{suffix}"
    assert main(["video", str(src), str(dst), "--no-progress"]) == 0
    got, want = probe(dst), probe(src)
    assert got["frames"] == want["frames"] == 20
    assert got["fps"] == fps
    assert close_to(got["duration"], want["duration"], fps)
    assert got["audio"] == want["audio"] == "aac"
    assert close_to(got["audio_duration"], want["audio_duration"], fps)
    inverted = 255 - pattern(0, 64, 48).astype(int)
    assert np.abs(got["first"].astype(int) - inverted).mean() < 12
    assert leftovers(tmp_path) == []
    assert "20 frames" in capsys.readouterr().out


def _gif_delays(path: Path) -> list[float]:
    """Seconds each frame of a GIF is shown (what a browser reads, not FFmpeg's rate guess)."""
    with av.open(str(path)) as c:
        stream = c.streams.video[0]
        return [float(p.duration * stream.time_base) for p in c.demux(stream) if p.pts is not None]


@pytest.mark.parametrize("fps, rate", [(Fraction(24), 48000), (Fraction(30000, 1001), 44100)])
def test_webm_keeps_frames_rate_length_and_audio_as_opus(tmp_path, stand_in, capsys, fps, rate):
    src = make_clip(tmp_path / "in.mp4", frames=20, fps=fps)
    if rate != 48000:  # Opus takes 48 kHz, not 44.1: the sound must be resampled, not dropped
        src = _with_audio_rate(src, tmp_path / "in441.mp4", rate)
    dst = tmp_path / "out.webm"
    assert main(["video", str(src), str(dst), "--no-progress"]) == 0
    got, want = probe(dst), probe(src)
    assert got["frames"] == want["frames"] == 20 and got["fps"] == fps
    assert close_to(got["duration"], want["duration"], fps)
    assert got["audio"] == "opus" and close_to(got["audio_duration"], want["audio_duration"], fps)
    with av.open(str(dst)) as c:
        assert c.streams.video[0].codec_context.name == "vp9"
    inverted = 255 - pattern(0, 64, 48).astype(int)
    assert np.abs(got["first"].astype(int) - inverted).mean() < 12
    assert leftovers(tmp_path) == []


def _with_audio_rate(src: Path, dst: Path, rate: int) -> Path:
    """``src`` with its video copied and its sound resampled to ``rate`` as AAC."""
    with av.open(str(src)) as inp, av.open(str(dst), "w") as out:
        v = out.add_stream_from_template(inp.streams.video[0])
        a = out.add_stream("aac", rate=rate)
        a.layout = "stereo"
        for packet in inp.demux(inp.streams.video[0]):
            if packet.dts is not None:
                packet.stream = v
                out.mux(packet)
        inp.seek(0)
        for frame in inp.decode(inp.streams.audio[0]):
            frame.pts = None
            out.mux(a.encode(frame))
        out.mux(a.encode(None))
    return dst


def test_gif_keeps_frames_and_timing_in_a_palette_at_a_shareable_size(tmp_path, stand_in, capsys):
    fps = Fraction(24)
    src = make_clip(tmp_path / "in.mp4", frames=12, size=(640, 360), fps=fps)
    dst = tmp_path / "out.gif"
    assert main(["video", str(src), str(dst), "--no-progress"]) == 0
    got = probe(dst)
    assert got["frames"] == 12 and got["audio"] is None
    assert (got["width"], got["height"]) == (480, 270)  # long side capped, aspect kept
    delays = _gif_delays(dst)
    assert len(delays) == 12 and abs(sum(delays) - 12 / 24) <= 0.01  # centiseconds: 4 or 5 each
    assert max(delays) - min(delays) <= 0.011
    # per-frame palette: flat inverted colours come back within a few grey levels
    inverted = 255 - pattern(0, 480, 270).astype(int)
    assert np.abs(got["first"].astype(int) - inverted).mean() < 8
    err = capsys.readouterr().err
    assert "GIF holds no sound" in err and "480x270" in err
    assert leftovers(tmp_path) == []


def test_gif_size_follows_size_and_rotation_is_turned_into_pixels(tmp_path, stand_in):
    src = make_clip(tmp_path / "in.mp4", frames=6, size=(64, 48), rotation=90, audio=None)
    dst = tmp_path / "out.gif"
    assert main(["video", str(src), str(dst), "--size", "32", "--no-progress"]) == 0
    got = probe(dst)
    assert (got["width"], got["height"], got["frames"]) == (24, 32, 6)
    upright = np.rot90(255 - pattern(0, 64, 48), 1)  # what a player shows for rotation 90
    small = cv2.resize(upright, (24, 32), interpolation=cv2.INTER_AREA)
    assert np.abs(got["first"].astype(int) - small.astype(int)).mean() < 12


def test_audio_is_copied_bit_for_bit(tmp_path, clip):
    dst = tmp_path / "out.mp4"
    with VideoReader(clip) as reader, VideoWriter(dst, 64, 48, reader.info.fps, time_base=reader.info.time_base,
                                                  audio=reader.audio_copy()) as writer:
        for frame in reader:
            writer.write(frame.image, frame.pts)

    def payloads(path):
        with av.open(str(path)) as c:
            return [bytes(p) for p in c.demux(c.streams.audio[0]) if p.size]

    assert payloads(dst) == payloads(clip)


def test_audio_reencoded_when_container_cannot_hold_it(tmp_path, caplog):
    src = make_clip(tmp_path / "in.mkv", audio="libopus")
    with caplog.at_level("INFO", logger="livestyle.media.video"):
        stats = stylize_video(src, tmp_path / "out.avi", Invert(), progress=False)
    assert any("re-encoding" in n and "opus" in n for n in stats.notices)
    assert any("re-encoding" in r.getMessage() for r in caplog.records)
    got = probe(tmp_path / "out.avi")
    assert got["frames"] == 20 and got["fps"] == 24 and got["audio"] == "aac"


def test_rotation_metadata_survives(tmp_path, stand_in):
    src = make_clip(tmp_path / "in.mp4", rotation=90)
    assert main(["video", str(src), str(tmp_path / "out.mp4"), "--no-progress"]) == 0
    assert probe(tmp_path / "out.mp4")["rotation"] == 90


def test_odd_frame_size_is_padded_for_yuv420p(tmp_path):
    src = make_clip(tmp_path / "in.mkv", size=(64, 48), audio=None)

    class Crop(Invert):
        def __call__(self, frame):
            return super().__call__(frame)[:47, :63]

    with VideoReader(src) as reader, VideoWriter(tmp_path / "out.mp4", 63, 47, reader.info.fps) as writer:
        for frame in reader:
            writer.write(Crop()(frame.image))
    assert any("even" in n for n in writer.notices)
    got = probe(tmp_path / "out.mp4")
    assert (got["width"], got["height"], got["frames"]) == (64, 48, 20)


def test_start_and_duration_trim_video_and_audio(tmp_path, stand_in):
    src = make_clip(tmp_path / "in.mp4", frames=48)
    dst = tmp_path / "part.mp4"
    assert main(["video", str(src), str(dst), "--start", "0.5", "--duration", "0.75", "--no-progress"]) == 0
    got = probe(dst)
    assert got["frames"] == 18
    assert close_to(got["duration"], 0.75, 24)
    assert got["audio"] == "aac" and close_to(got["audio_duration"], 0.75, 24)


def test_video_runs_frames_side_by_side_unless_it_batches_them(tmp_path, clip, stand_in):
    """Files may wait for their frames (unlike a camera): `video` asks for frames in flight, and
    for one at a time when --batch already puts several frames in each call."""
    from livestyle.cli.video import FRAMES_IN_FLIGHT

    assert FRAMES_IN_FLIGHT > 1
    assert main(["video", str(clip), str(tmp_path / "a.mp4"), "--no-progress"]) == 0
    assert main(["video", str(clip), str(tmp_path / "b.mp4"), "--batch", "4", "--no-progress"]) == 0
    assert [c["frames_in_flight"] for c in stand_in] == [FRAMES_IN_FLIGHT, 1]


def test_batches_go_through_stylize_batch(tmp_path, clip):
    class Counting(Invert):
        batches: list[int] = []

        def stylize_batch(self, frames):
            self.batches.append(len(frames))
            return super().stylize_batch(frames)

    stylizer = Counting()
    stats = stylize_video(clip, tmp_path / "out.mp4", stylizer, batch=8, progress=False)
    assert stats.complete and stats.frames == 20 and stats.fps > 0
    assert stylizer.batches == [8, 8, 4] and stylizer.resets == 1


def test_shared_clip_round_trip(tmp_path, stand_in):
    src = CLIPS / "big_buck_bunny_cut.mp4"
    if not src.exists():
        pytest.skip(f"shared clip {src} not found (set LIVESTYLE_SHARED)")
    dst = tmp_path / "bunny.mp4"
    assert main(["video", str(src), str(dst), "--start", "2", "--duration", "0.25", "--no-progress"]) == 0
    got = probe(dst)
    assert (got["width"], got["height"], got["fps"], got["frames"]) == (640, 360, 24, 6)
    assert got["audio"] == "aac" and close_to(got["audio_duration"], 0.25, 24)


# -- interruption ----------------------------------------------------------------------------


def test_keyboard_interrupt_leaves_a_playable_file(tmp_path):
    src = make_clip(tmp_path / "in.mp4", frames=60)
    dst = tmp_path / "out.mp4"
    stats = stylize_video(src, dst, Invert(interrupt_at=25), progress=False, queue_size=2)
    assert not stats.complete and stats.output == dst and stats.expected == 60
    got = probe(dst)
    assert got["frames"] == stats.frames and 20 <= stats.frames < 25
    # sound for the frames that are there, not for the whole clip
    assert close_to(got["audio_duration"], got["duration"], 24)
    assert leftovers(tmp_path) == []


def test_interrupt_before_any_frame_leaves_nothing(tmp_path, clip):
    stats = stylize_video(clip, tmp_path / "out.mp4", Invert(interrupt_at=1), progress=False)
    assert not stats.complete and stats.output is None and stats.frames == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["clip.mp4"]


def test_sigint_to_the_cli_leaves_a_playable_file(tmp_path):
    src = make_clip(tmp_path / "in.mp4", frames=300, audio="aac")
    dst = tmp_path / "out.mp4"
    proc = cli_process("video", src, dst, "--no-progress", delay=0.02)
    deadline = time.monotonic() + 20
    while not leftovers(tmp_path) and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.05)
    time.sleep(0.8)
    proc.send_signal(signal.SIGINT)
    out, err = finish(proc, 30)
    assert proc.returncode == 130, err
    assert "interrupted" in err and "playable" in err
    got = probe(dst)
    assert 0 < got["frames"] < 300 and got["audio"] == "aac"
    assert close_to(got["audio_duration"], got["duration"], 24)
    assert leftovers(tmp_path) == []


# -- bad input -----------------------------------------------------------------------------


def _audio_only(path: Path) -> Path:
    with av.open(str(path), "w") as out:
        a = out.add_stream("aac", rate=48000)
        a.layout = "stereo"
        frame = av.AudioFrame.from_ndarray(np.zeros((2, 1024), np.float32), format="fltp", layout="stereo")
        frame.sample_rate, frame.pts = 48000, 0
        for packet in [*a.encode(frame), *a.encode()]:
            out.mux(packet)
    return path


def _file(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def _truncated(path: Path, keep: int) -> Path:
    return _file(path, path.read_bytes()[:keep])


BAD = {
    "missing": (lambda d: (d / "nope.mp4", d / "out.mp4"), "not found"),
    "zero-length": (lambda d: (_file(d / "empty.mp4", b""), d / "out.mp4"), "empty"),
    # Fixed bytes, not random ones: FFmpeg's probe now and then reads random bytes as an MP3 stream.
    "corrupt": (lambda d: (_file(d / "junk.mp4", b"this is not a video\n" * 200), d / "out.mp4"), "not a readable video"),
    "truncated": (lambda d: (_truncated(make_clip(d / "cut.mp4"), 2048), d / "out.mp4"), "not a readable video"),
    "no video stream": (lambda d: (_audio_only(d / "sound.m4a"), d / "out.mp4"), "no video stream"),
    "missing output folder": (lambda d: (make_clip(d / "in.mp4"), d / "nowhere" / "out.mp4"), "does not exist"),
    "output is input": (lambda d: (make_clip(d / "in.mp4"), d / "." / "in.mp4"), "is also an input"),
    "unknown extension": (lambda d: (make_clip(d / "in.mp4"), d / "out.flv"), "extension"),
    "unknown codec": (lambda d: (make_clip(d / "in.mp4"), d / "out.mp4", "--codec", "nosuch264"), "codec"),
    "codec the container cannot hold": (lambda d: (make_clip(d / "in.mp4"), d / "out.webm", "--codec", "libx264"),
                                        "cannot hold libx264"),
    "start past the end": (lambda d: (make_clip(d / "in.mp4"), d / "out.mp4", "--start", "5"), "past the end"),
}


@pytest.mark.parametrize("case", list(BAD))
def test_bad_input_is_one_line_and_writes_nothing(tmp_path, stand_in, capsys, case):
    make, expected = BAD[case]
    args = [str(a) for a in make(tmp_path)]
    before = sorted(p.name for p in tmp_path.rglob("*"))
    assert main(["video", *args, "--no-progress"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("livestyle video: error:") and "\n" not in err and expected in err, err
    assert sorted(p.name for p in tmp_path.rglob("*")) == before
    assert stand_in == []  # refused before the model was loaded


@pytest.mark.skipif(hasattr(os, "geteuid") and os.geteuid() == 0, reason="root can write to read-only folders")
def test_unwritable_output_folder(tmp_path, clip, stand_in, capsys):
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        assert main(["video", str(clip), str(locked / "out.mp4"), "--no-progress"]) == 2
    finally:
        locked.chmod(0o700)
    assert "not writable" in capsys.readouterr().err


# -- with the real stylizer ------------------------------------------------------------------


def test_end_to_end_with_the_real_stylizer(tmp_path, clip):
    real_create_stylizer()
    dst = tmp_path / "styled.mp4"
    assert main(["video", str(clip), str(dst), "--size", "64", "--device", "cpu", "--no-progress"]) == 0
    got = probe(dst)
    assert got["frames"] == 20 and got["fps"] == 24 and got["audio"] == "aac"
