"""``livestyle cam`` and the live pieces: newest-frame capture, the live pipeline, the sinks.

A generated video file stands in for the camera (CameraSource paces files like a camera), so all
of this runs headless; the browser test drives a real headless Chromium against ``--serve``.
"""

from __future__ import annotations

import json
import os
import select
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from fractions import Fraction
from pathlib import Path

import cv2
import numpy as np
import pytest

from livestyle.cli.main import main
from livestyle.errors import SinkError, SourceError
from livestyle.media.sinks.virtualcam import VirtualCamSink
from livestyle.media.sinks.web import MJPEGServerSink
from livestyle.media.sinks.window import WindowSink
from livestyle.media.sources import CameraSource, LatestSlot
from livestyle.media.video import VideoWriter
from livestyle.pipeline.adaptive import SizeController, working_dims
from livestyle.pipeline.live import LivePipeline
from livestyle.pipeline.styles import StyleBank

sys.path.insert(0, str(Path(__file__).resolve().parent))
from test_video import (Invert, cli_process, finish, pattern, probe, real_create_stylizer,  # noqa: E402,F401
                        stand_in)

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser") or "/usr/bin/chromium"


def camera_clip(path: Path, frames: int = 12, size=(64, 48), fps=Fraction(24)) -> Path:
    with VideoWriter(path, *size, fps, crf=30, preset="ultrafast") as writer:
        for i in range(frames):
            writer.write(pattern(i, *size))
    return path


@pytest.fixture
def cam_clip(tmp_path) -> Path:
    return camera_clip(tmp_path / "cam.mp4")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Collect:
    """A sink that keeps what it gets and can poke the controls at a given frame."""

    def __init__(self, at: dict | None = None):
        self.frames, self.metas, self.at = [], [], at or {}
        self.opened = self.closed = None

    def open(self, width, height, fps, controls):
        self.opened, self.controls = (width, height, fps), controls

    def send(self, frame, meta):
        self.frames.append(frame)
        self.metas.append(meta)
        if meta.index in self.at:
            self.at[meta.index](self.controls)

    def close(self):
        self.closed = True


# -- newest-frame capture ------------------------------------------------------------------


def test_latest_slot_keeps_only_the_newest():
    slot = LatestSlot()
    for i in range(3):
        slot.put(i)
    assert slot.take(0) == 2 and slot.dropped == 2
    assert slot.take(0.01) is None
    slot.close()
    assert slot.take() is None and slot.closed


def test_file_as_camera_is_paced_and_reports_its_end(cam_clip):
    t0 = time.monotonic()
    with CameraSource(str(cam_clip)) as source:
        assert (source.mode.width, source.mode.height, round(source.mode.fps)) == (64, 48, 24)
        assert source.kind == "file" and "FFMPEG" in source.describe()
        got = []
        while (frame := source.read(timeout=2)) is not None:
            got.append(frame)
        assert source.ended and source.end_reason == "end of video"
    assert len(got) == 12 and [f.index for f in got] == list(range(12))
    assert got[0].image.shape == (48, 64, 3) and got[0].image.dtype == np.uint8
    assert time.monotonic() - t0 >= 0.35  # 12 frames at 24 fps play in about half a second


def mislabelled_clip(path: Path, frames: int = 20, says: int = 50, step: int = 2) -> Path:
    """A clip whose container says ``says`` fps while its timestamps are ``step`` ticks of
    1/``says`` s apart (``says / step`` fps of real frames): the AVI that claims 50 fps and
    holds 25."""
    import av

    with av.open(str(path), "w") as out:
        v = out.add_stream("mpeg4" if path.suffix == ".avi" else "libx264", rate=says)
        v.width, v.height, v.pix_fmt = 64, 48, "yuv420p"
        v.time_base = v.codec_context.time_base = Fraction(1, says)
        for i in range(frames):
            frame = av.VideoFrame.from_ndarray(pattern(i, 64, 48), format="bgr24")
            frame.pts, frame.time_base = i * step, Fraction(1, says)
            for packet in v.encode(frame):
                out.mux(packet)
        for packet in v.encode():
            out.mux(packet)
    return path


@pytest.mark.parametrize("suffix", [".avi", ".mkv"])
def test_file_camera_is_paced_by_its_timestamps_not_its_nominal_rate(tmp_path, suffix):
    clip = mislabelled_clip(tmp_path / f"says50{suffix}")
    with CameraSource(str(clip)) as source:
        assert round(source.mode.fps) == 25
        assert any("says 50 fps" in n and "25 fps" in n for n in source.notices), source.notices
        shown_at = []
        while (frame := source.read(timeout=2)) is not None:
            shown_at.append(time.monotonic())
    span = 19 / 25   # the timestamps' span; at the nominal 50 fps it would play in 0.38 s
    assert len(shown_at) == 20 and source.dropped == 0
    assert 0.9 * span <= shown_at[-1] - shown_at[0] <= span + 0.5


def test_slow_reader_gets_fresh_frames_not_a_backlog(cam_clip):
    with CameraSource(str(cam_clip)) as source:
        seen = []
        while (frame := source.read(timeout=2)) is not None:
            seen.append(frame.index)
            time.sleep(0.12)  # three camera frames per read
    assert len(seen) < 8 and source.dropped > 0
    assert max(np.diff(seen)) >= 2


def test_requested_mode_on_a_file_is_reported_not_silently_ignored(cam_clip):
    with CameraSource(str(cam_clip), resolution=(1280, 720), fps=60) as source:
        assert (source.mode.width, source.mode.height) == (64, 48)
        assert any("own" in n for n in source.notices)


class UnpluggedCamera:
    """cv2.VideoCapture stand-in: a 640x480 camera that ignores size requests and dies after 5 frames."""

    def __init__(self, target, api):
        self.left = 5

    def isOpened(self):
        return True

    def set(self, prop, value):
        return False

    def get(self, prop):
        return {cv2.CAP_PROP_FRAME_WIDTH: 640, cv2.CAP_PROP_FRAME_HEIGHT: 480, cv2.CAP_PROP_FPS: 30}.get(prop, 0)

    def read(self):
        if self.left <= 0:
            return False, None
        self.left -= 1
        time.sleep(1 / 30)
        return True, pattern(self.left, 640, 480)

    def release(self):
        pass


def test_camera_that_disappears_ends_the_run_cleanly(monkeypatch):
    monkeypatch.setattr("livestyle.media.sources.cv2.VideoCapture", UnpluggedCamera)
    sink = Collect()
    with CameraSource("0", resolution=(1280, 720), fps=60, lost_after=0.3) as source:
        assert (source.mode.width, source.mode.height) == (640, 480)
        assert any("asked" in n and "1280x720" in n and "640x480" in n for n in source.notices)
        stats = LivePipeline(source, StyleBank(Invert()), [sink]).run()
    assert stats.shown_any and 1 <= stats.shown <= 5 and sink.closed
    assert "disconnected" in stats.ended_by


@pytest.mark.parametrize("spec, words", [("7", ["camera 7", "V4L2" if sys.platform.startswith("linux") else "ANY"]),
                                         ("/dev/video97", ["does not exist"]),
                                         ("nope.mp4", ["not found"])])
def test_unknown_camera_is_one_clear_error(spec, words):
    with pytest.raises(SourceError) as err:
        CameraSource(spec)
    message = str(err.value)
    assert "\n" not in message and all(w in message for w in words), message


# -- live pipeline -------------------------------------------------------------------------


def test_live_pipeline_stylizes_measures_and_closes(cam_clip):
    sink = Collect()
    with CameraSource(str(cam_clip)) as source:
        pipeline = LivePipeline(source, StyleBank(Invert()), [sink])
        stats = pipeline.run()
    assert sink.opened == (64, 48, pytest.approx(24, abs=0.1)) and sink.closed
    assert stats.shown_any and stats.shown == len(sink.frames) >= 6
    assert stats.ended_by == "end of video"
    assert np.array_equal(sink.frames[0], 255 - source_first_frame(cam_clip))
    assert 5 < stats.fps < 40 and 0 <= stats.latency_ms <= stats.latency_p95_ms < 1000
    assert pipeline.meter.run_fps == stats.fps and sink.metas[-1].fps > 0
    assert stats.work_size is None  # the stand-in has no working size to report


class Sized(Invert):
    """A stand-in whose time grows with the pixels it is given, like a net's: ``ms`` milliseconds
    for a frame of ``at`` pixels long side."""

    def __init__(self, ms: float, at: int, name: str = "sized"):
        super().__init__(name=name)
        self.ms, self.at = ms, at
        self.sizes: list[tuple[int, int]] = []

    def __call__(self, frame):
        self.sizes.append(frame.shape[1::-1])
        time.sleep(self.ms / 1000 * (max(frame.shape[:2]) / self.at) ** 2)
        return 255 - frame


def test_live_pipeline_adapts_the_working_size(tmp_path):
    # 60 ms a frame at the camera's 320 px, budget 33 ms at 30 fps: the size has to come down
    clip = camera_clip(tmp_path / "cam30.mp4", frames=45, size=(320, 180), fps=Fraction(30))
    stylizer, notices, sink = Sized(60, 320), [], Collect()
    with CameraSource(str(clip)) as source:
        control = SizeController(320, source.mode.fps, start=320, floor=64, step=16)
        stats = LivePipeline(source, StyleBank(stylizer), [sink], size_control=control,
                             on_notice=notices.append).run()
    assert stylizer.sizes[0] == (320, 180) and all(w <= 320 for w, h in stylizer.sizes)
    assert stats.size_changes >= 1 and control.size < 320 and stylizer.sizes[-1][0] < 320
    assert stats.work_size == working_dims((320, 180), control.size) == sink.metas[-1].work_size
    assert notices and notices[0].startswith("stylising at ") and "30 fps" in notices[0]
    assert all(f.shape == (180, 320, 3) for f in sink.frames)   # shown at the camera's size
    assert stats.fps > 0 and stats.latency_ms > 0 and sink.metas[-1].target_fps == 30


def test_overlay_toggle_reaches_the_views_and_never_the_frames(cam_clip):
    sink = Collect({2: lambda c: c.toggle_overlay(), 5: lambda c: c.toggle_overlay(), 7: lambda c: c.quit()})
    with CameraSource(str(cam_clip)) as source:
        pipeline = LivePipeline(source, StyleBank(Invert()), [sink], overlay=False)
        pipeline.run()
    flags = [m.overlay for m in sink.metas]
    assert flags[:3] == [False] * 3 and any(flags) and flags[-1] is False
    # frames go out as stylised: uniform halves (the overlay's text would break them up)
    assert all(f[:, :28].std(axis=(0, 1)).max() < 12 for f in sink.frames)


def test_window_draws_the_overlay_only_when_asked(monkeypatch):
    from livestyle.media.sinks.base import FrameMeta

    monkeypatch.setenv("DISPLAY", ":0")  # only for the constructor's check; no window is opened
    shown = []
    monkeypatch.setattr("livestyle.media.sinks.window.cv2.imshow", lambda title, image: shown.append(image))
    monkeypatch.setattr("livestyle.media.sinks.window.cv2.waitKey", lambda delay: -1)
    monkeypatch.setattr("livestyle.media.sinks.window.cv2.getWindowProperty", lambda *a: 1.0)
    sink, frame = WindowSink(), np.full((360, 640, 3), 90, np.uint8)
    for on in (True, False):
        sink.send(frame, FrameMeta(0, "mosaic", False, 29.7, 71.0, 0.0, work_size=(448, 252), overlay=on))
    assert not np.array_equal(shown[0], frame) and np.array_equal(shown[1], frame)
    assert np.array_equal(sink.last_frame, frame) and (frame == 90).all()   # snapshots stay clean
    meta = FrameMeta(0, "mosaic", False, 29.7, 71.0, 0.0, work_size=(448, 252))
    assert meta.summary() == "mosaic  29.7 fps   71 ms  448x252"


def source_first_frame(clip: Path) -> np.ndarray:
    cap = cv2.VideoCapture(str(clip))
    ok, frame = cap.read()
    cap.release()
    assert ok
    return frame


def test_style_switching_and_original_toggle(cam_clip):
    loaded = []

    def load_style(name):
        loaded.append(name)
        return Invert(name=name)

    poke = {2: lambda c: c.next_style(), 4: lambda c: c.toggle_original(), 6: lambda c: c.toggle_original(),
            7: lambda c: c.prev_style(), 8: lambda c: c.quit()}
    sink = Collect(poke)
    with CameraSource(str(cam_clip)) as source:
        pipeline = LivePipeline(source, StyleBank(Invert(name="a"), ["a", "b"], load_style=load_style), [sink])
        assert pipeline.set_style("nope") is False
        stats = pipeline.run()
    styles = [m.style for m in sink.metas]
    assert styles[:3] == ["a"] * 3 and "b" in styles and styles[-1] == "a"
    assert loaded == ["b"]  # loaded once, on first use
    assert any(m.original for m in sink.metas) and not sink.metas[-1].original
    assert stats.ended_by == "quit"


def test_original_frames_are_not_stylized(cam_clip):
    sink = Collect({0: lambda c: c.toggle_original(), 3: lambda c: c.quit()})
    with CameraSource(str(cam_clip)) as source:
        LivePipeline(source, StyleBank(Invert()), [sink]).run()
    shown_original = [f for f, m in zip(sink.frames, sink.metas) if m.original]
    assert shown_original
    # the stand-in inverts: an original frame keeps the red left half red (BGR channel 2 high)
    assert all(f[:, :20, 2].mean() > 150 for f in shown_original)


def test_max_frames_stops(cam_clip):
    sink = Collect()
    with CameraSource(str(cam_clip)) as source:
        stats = LivePipeline(source, StyleBank(Invert()), [sink], max_frames=3).run()
    assert stats.shown == 3 and stats.ended_by == "max-frames" and sink.closed


def test_source_that_ends_before_a_frame_shows_nothing():
    class Gone:
        mode = type("M", (), {"width": 64, "height": 48, "fps": 30.0})()
        ended, end_reason, dropped = True, "no picture for 2 s: camera disconnected?", 0

        def read(self, timeout=None):
            return None

    sink = Collect()
    stats = LivePipeline(Gone(), StyleBank(Invert()), [sink]).run()
    assert not stats.shown_any and "disconnected" in stats.ended_by and sink.closed


def test_stylizer_failure_closes_outputs_and_raises(cam_clip):
    sink = Collect()

    class Broken(Invert):
        def __call__(self, frame):
            raise RuntimeError("boom")

    with CameraSource(str(cam_clip)) as source, pytest.raises(RuntimeError, match="boom"):
        LivePipeline(source, StyleBank(Broken()), [sink]).run()
    assert sink.closed


# -- sinks ---------------------------------------------------------------------------------


def test_window_without_display_says_what_to_use_instead(monkeypatch):
    if not sys.platform.startswith("linux"):
        pytest.skip("display detection is Linux-only")
    for var in ("DISPLAY", "WAYLAND_DISPLAY"):
        monkeypatch.delenv(var, raising=False)
    with pytest.raises(SinkError, match="--serve.*--virtual-cam"):
        WindowSink()


def test_window_keys(monkeypatch, tmp_path):
    monkeypatch.setenv("DISPLAY", ":0")  # only for the constructor's check; no window is opened
    calls = []

    class Remote:
        def __getattr__(self, name):
            return lambda: calls.append(name)

    sink = WindowSink(snapshot_dir=tmp_path)
    sink.controls, sink.last_frame = Remote(), pattern(0, 64, 48)
    for key in "np is":
        sink.handle_key(ord(key))
    sink.handle_key(27)
    sink.handle_key(-1)
    assert calls == ["next_style", "prev_style", "toggle_original", "toggle_overlay", "quit"]
    assert len(sink.snapshots) == 1 and cv2.imread(str(sink.snapshots[0])).shape == (48, 64, 3)


def test_virtual_camera(cam_clip):
    import pyvirtualcam

    try:
        probe_cam = pyvirtualcam.Camera(64, 48, 24, fmt=pyvirtualcam.PixelFormat.BGR)
    except RuntimeError:
        sink = VirtualCamSink()
        with pytest.raises(SinkError) as err:
            sink.open(64, 48, 24, None)
        message = str(err.value)
        expected = {"linux": "v4l2loopback", "darwin": "OBS"}.get(sys.platform, "OBS")
        assert expected in message and "\n" not in message
        return
    probe_cam.close()
    sink = Collect()
    virtual = VirtualCamSink()
    with CameraSource(str(cam_clip)) as source:
        LivePipeline(source, StyleBank(Invert()), [sink, virtual], max_frames=5).run()
    assert virtual.granted and "64x48" in virtual.granted


def test_recorder_keeps_every_frame_and_reports_an_encoder_failure(tmp_path, monkeypatch):
    from livestyle.media.sinks.base import FrameMeta
    from livestyle.media.sinks.recorder import RecorderSink

    def meta(i):
        return FrameMeta(i, "a", False, 0.0, 0.0, 100.0 + i / 24)

    recorder = RecorderSink(tmp_path / "all.mp4")
    recorder.open(64, 48, 24, None)
    for i in range(30):   # more than the encoder's backlog: the display waits, nothing is lost
        recorder.send(pattern(i, 64, 48), meta(i))
    recorder.close()
    assert probe(recorder.saved)["frames"] == 30

    written = []

    def failing_write(self, image, pts=None):
        if len(written) == 2:
            raise OSError(28, "No space left on device")
        written.append(pts)

    monkeypatch.setattr("livestyle.media.sinks.recorder.VideoWriter.write", failing_write)
    recorder = RecorderSink(tmp_path / "full.mp4")
    recorder.open(64, 48, 24, None)
    with pytest.raises(OSError, match="No space"):
        for i in range(200):
            recorder.send(pattern(i, 64, 48), meta(i))
            time.sleep(0.005)
    recorder.close()   # returns: the failure was told once, on the display thread
    assert written == [0, 42]


def test_server_port_in_use_is_a_clear_error():
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(SinkError, match=f"port {port}.*in use"):
            MJPEGServerSink("127.0.0.1", port)


def _get(url: str, data: bytes | None = None):
    try:
        with urllib.request.urlopen(urllib.request.Request(url, data=data), timeout=5) as r:
            return r.status, r.headers.get("Content-Type"), r.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.headers.get("Content-Type"), exc.read()


def test_server_page_stream_and_style_picker(cam_clip):
    server = MJPEGServerSink("127.0.0.1", 0)
    url = server.url
    seen = {}

    def visit(controls):
        seen["page"] = _get(url)
        seen["clean"] = _get(url + "?clean")
        seen["styles"] = _get(url + "styles")
        seen["switch"] = _get(url + "style?name=b", data=b"")
        seen["unknown"] = _get(url + "style?name=zzz")
        seen["stats"] = _get(url + "stats")
        seen["overlay"] = _get(url + "overlay", data=b"")
        with urllib.request.urlopen(url + "stream.mjpg", timeout=5) as r:
            seen["stream_type"] = r.headers.get("Content-Type")
            seen["boundary"] = r.readline().strip()
            part = dict(line.decode().strip().split(": ", 1) for line in iter(r.readline, b"\r\n"))
            seen["jpeg"] = r.read(int(part["Content-Length"]))

    sink = Collect({1: visit})
    with CameraSource(str(cam_clip)) as source:
        LivePipeline(source, StyleBank(Invert(name="a"), ["a", "b"], load_style=lambda n: Invert(name=n)),
                     [server, sink]).run()

    status, ctype, page = seen["page"]
    assert status == 200 and ctype.startswith("text/html")
    assert b'<img id="live" src="/stream.mjpg"' in page and b'<option value="b"' in page
    assert b"<select" not in seen["clean"][2]
    assert b'id="overlay"' in page and b'fetch("/stats")' in page    # the stats button and the poll
    assert b"/stats" not in seen["clean"][2]                          # OBS gets the stream alone
    stats = json.loads(seen["stats"][2])
    assert stats["overlay"] is True and stats["fps"] >= 0 and stats["latency_ms"] > 0
    assert stats["style"] == "a" and stats["work_size"] is None       # the stand-in has no working size
    assert json.loads(seen["overlay"][2]) == {"overlay": False}
    assert sink.metas[-1].overlay is False
    assert json.loads(seen["styles"][2]) == {"styles": ["a", "b"], "style": "a"}
    assert seen["switch"][0] == 200 and seen["unknown"][0] == 404
    assert "b" in [m.style for m in sink.metas]
    assert seen["stream_type"].startswith("multipart/x-mixed-replace")
    assert seen["boundary"] == b"--livestyleframe"
    frame = cv2.imdecode(np.frombuffer(seen["jpeg"], np.uint8), cv2.IMREAD_COLOR)
    assert frame.shape == (48, 64, 3) and frame[:, :20, 0].mean() > 150  # inverted red: cyan
    # closed with the pipeline: nothing listens any more
    with pytest.raises(urllib.error.URLError):
        urllib.request.urlopen(url, timeout=2)


# -- the cam command -------------------------------------------------------------------------


@pytest.fixture
def x_display(tmp_path):
    """A private Xvfb display, so the real OpenCV window code runs headless."""
    xvfb = shutil.which("Xvfb")
    if xvfb is None:
        # CI installs it (.ci/run): a landing must exercise the real window code, not skip it.
        pytest.fail("Xvfb not installed (apt-get install xvfb): the window sink needs an X display")
    # -displayfd: Xvfb picks a free display itself and writes its number once it accepts clients,
    # so neither a display left over by another process nor a slow start can race the test.
    read_end, write_end = os.pipe()
    server = subprocess.Popen([xvfb, "-displayfd", str(write_end), "-screen", "0", "640x480x24",
                               "-nolisten", "tcp"], pass_fds=(write_end,),
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    os.close(write_end)
    # Read up to the newline, and keep the pipe open while the server runs: Xvfb may write the
    # number and the newline separately and dies if the pipe has closed in between.
    reply, deadline = b"", time.monotonic() + 20
    while not reply.endswith(b"\n") and time.monotonic() < deadline:
        ready, _, _ = select.select([read_end], [], [], max(0.0, deadline - time.monotonic()))
        chunk = os.read(read_end, 16) if ready else b""
        if not chunk:
            break
        reply += chunk
    number = reply.decode().strip()
    if not reply.endswith(b"\n") or not number.isdigit():
        server.kill()
        os.close(read_end)
        pytest.fail("Xvfb did not start")
    yield f":{number}"
    server.terminate()
    server.wait(timeout=10)
    os.close(read_end)


def test_cam_window_and_recording(tmp_path, x_display):
    # A live source drops frames the pipeline is too busy to take (by design); at 6 fps the child
    # has 1/6 s per frame for the window and the encoder, so a loaded test machine still shows six.
    clip = camera_clip(tmp_path / "cam6fps.mp4", fps=Fraction(6))
    out = tmp_path / "rec.mp4"
    proc = cli_process("cam", "--camera", clip, "--window", "--record", out, "--max-frames", "6",
                       env={"DISPLAY": x_display})
    stdout, stderr = finish(proc, 60)
    assert proc.returncode == 0, stderr
    assert "shown 6 frames" in stdout and f"recorded {out}" in stderr, (stdout, stderr)
    got = probe(out)
    assert got["frames"] == 6 and (got["width"], got["height"]) == (64, 48)
    # the window had the overlay (on by default); the recording has none: uniform halves
    assert got["first"][:, :28].std(axis=(0, 1)).max() < 12
    assert "capture-to-display" in stdout and "fps" in stdout


BAD_CAM = {
    "unknown camera index": (["--camera", "7", "--no-window", "--record", "{tmp}/r.mp4"], "cannot open camera 7"),
    "nothing to show": (["--camera", "{clip}", "--no-window"], "nothing to show"),
    "record folder missing": (["--camera", "{clip}", "--record", "{tmp}/no/r.mp4"], "does not exist"),
    "corrupt camera file": (["--camera", "{junk}", "--record", "{tmp}/r.mp4"], "not a readable video"),
    "size and fps target": (["--camera", "{clip}", "--record", "{tmp}/r.mp4", "--size", "256", "--fps-target", "20"],
                            "give one of them"),
}


@pytest.mark.parametrize("case", list(BAD_CAM))
def test_cam_bad_input(tmp_path, cam_clip, stand_in, capsys, case):
    (tmp_path / "junk.mp4").write_bytes(b"this is not a video\n" * 100)  # fixed: random bytes can probe as MP3
    args, expected = BAD_CAM[case]
    args = [a.format(tmp=tmp_path, clip=cam_clip, junk=tmp_path / "junk.mp4") for a in args]
    assert main(["cam", *args]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("livestyle cam: error:") and expected in err[-1], err
    assert stand_in == [] and not (tmp_path / "r.mp4").exists()


def test_cam_without_display(monkeypatch, cam_clip, stand_in, capsys):
    if not sys.platform.startswith("linux"):
        pytest.skip("display detection is Linux-only")
    for var in ("DISPLAY", "WAYLAND_DISPLAY"):
        monkeypatch.delenv(var, raising=False)
    assert main(["cam", "--camera", str(cam_clip)]) == 2
    assert "--serve" in capsys.readouterr().err and stand_in == []


def test_cam_port_in_use(cam_clip, stand_in, capsys):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        assert main(["cam", "--camera", str(cam_clip), "--no-window", "--serve", str(port)]) == 2
    assert "in use" in capsys.readouterr().err and stand_in == []


def test_cam_missing_virtual_camera_backend(cam_clip, stand_in, capsys):
    import pyvirtualcam

    try:
        pyvirtualcam.Camera(64, 48, 24).close()
        pytest.skip("a virtual camera backend exists here")
    except RuntimeError:
        pass
    assert main(["cam", "--camera", str(cam_clip), "--no-window", "--virtual-cam"]) == 2
    err = capsys.readouterr().err
    assert "no virtual camera" in err and ("v4l2loopback" in err or "OBS" in err)


def test_browser_shows_the_stylized_stream(tmp_path):
    """A real headless Chromium loads the --serve page; its screenshot must show inverted colours:
    the clip is red | blue (green varies by frame), so the stand-in's output is blue-ish | red-ish."""
    if not Path(CHROMIUM).exists():
        pytest.fail("chromium not installed (apt-get install chromium; .ci/run does)")
    # 60 s of clip: on a loaded machine Chromium has taken over 20 s to start, and the cam must
    # still be streaming when the test stops it
    clip = camera_clip(tmp_path / "cam.mp4", frames=900, size=(320, 180), fps=Fraction(15))
    port = free_port()
    cam = cli_process("cam", "--camera", clip, "--no-window", "--serve", port)
    try:
        _wait_for_server(cam, port)
        shot = tmp_path / "shot.png"
        browser = subprocess.run(
            [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             f"--user-data-dir={tmp_path / 'chromium'}", f"--screenshot={shot}", "--window-size=640,360",
             f"http://127.0.0.1:{port}/"], capture_output=True, text=True, timeout=60)
        assert shot.exists(), browser.stderr[-2000:]
        keep = os.environ.get("LIVESTYLE_KEEP_SCREENSHOT")
        if keep:
            shutil.copy(shot, keep)
        image = cv2.imread(str(shot))
        h, w = image.shape[:2]
        left = image[h // 3: 2 * h // 3, w // 8: 3 * w // 8].reshape(-1, 3).mean(0)
        right = image[h // 3: 2 * h // 3, 5 * w // 8: 7 * w // 8].reshape(-1, 3).mean(0)
        assert left[0] > 180 and left[2] < 80, left     # inverted red: blue high, red low (BGR)
        assert right[0] < 80 and right[2] > 180, right  # inverted blue: red high, blue low
    finally:
        cam.send_signal(signal.SIGINT)  # Ctrl-C after frames were shown: a normal exit
        stdout, stderr = finish(cam, 30)
    assert cam.returncode == 0, stderr
    assert "ended: interrupted" in stdout


def test_uploaded_painting_claiming_gigapixels_is_refused_unread(tmp_path):
    """A PNG of a few KB whose header claims 50000x70000 pixels gets a 400 with the reason,
    before anything is decoded; a real painting still becomes a style."""
    from test_bad_input import bomb_png

    class Controls:
        styles, style, accepts_style_images = ["a"], "a", True
        added: list = []

        def add_style_image(self, name, image):
            self.added.append(image.shape)
            return f"image:{name}"

    server = MJPEGServerSink("127.0.0.1", 0)
    controls = Controls()
    server.open(64, 48, 24.0, controls)
    try:
        bomb = bomb_png(tmp_path / "bomb.png").read_bytes()
        request = urllib.request.Request(server.url + "style-image?name=big", data=bomb, method="POST")
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(request, timeout=5)
        assert refused.value.code == 400
        assert "50000x70000 pixels" in json.loads(refused.value.read())["error"]
        painting = cv2.imencode(".png", np.full((40, 40, 3), 90, np.uint8))[1].tobytes()
        request = urllib.request.Request(server.url + "style-image?name=ok", data=painting, method="POST")
        assert json.loads(urllib.request.urlopen(request, timeout=5).read()) == {"style": "image:ok"}
        assert controls.added == [(40, 40, 3)]
    finally:
        server.close()


def test_viewers_leaving_mid_reply_print_no_traceback(tmp_path):
    """Viewers that close the tab while a reply is on its way (the stream, the page, a frame;
    with a clean close or a reset) are normal: the cam's console shows no traceback for them."""
    import struct

    clip = camera_clip(tmp_path / "cam.mp4", frames=300, size=(160, 120), fps=Fraction(15))
    port = free_port()
    cam = cli_process("cam", "--camera", clip, "--no-window", "--serve", port)
    try:
        _wait_for_server(cam, port)
        for path in ("/stream.mjpg", "/stream.mjpg", "/", "/frame.jpg"):
            for reset in (False, True):
                viewer = socket.create_connection(("127.0.0.1", port), timeout=5)
                viewer.sendall(f"GET {path} HTTP/1.1\r\nHost: localhost\r\n\r\n".encode())
                if path == "/stream.mjpg":
                    assert b"--livestyleframe" in viewer.recv(4096) + viewer.recv(4096)
                if reset:  # linger 0: the close sends RST, so the server's next write fails at once
                    viewer.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                viewer.close()
        time.sleep(1.0)  # the stream threads notice on their next frame
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/styles", timeout=5) as still_there:
            assert still_there.status == 200
    finally:
        cam.send_signal(signal.SIGINT)
        stdout, stderr = finish(cam, 30)
    assert cam.returncode == 0, stderr
    assert "Traceback" not in stderr and "Exception occurred" not in stderr, stderr
    assert len(stderr.strip().splitlines()) <= 4, stderr  # the cam's own notes, nothing per viewer


def _wait_for_server(proc: subprocess.Popen, port: int, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"cam exited early: {finish(proc)[1]}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/frame.jpg", timeout=2) as r:
                if r.status == 200:
                    return
        except OSError:
            time.sleep(0.1)
    raise AssertionError("cam --serve did not come up")


def test_cam_end_to_end_with_the_real_stylizer(tmp_path, cam_clip):
    real_create_stylizer()
    out = tmp_path / "rec.mp4"
    assert main(["cam", "--camera", str(cam_clip), "--no-window", "--record", str(out), "--max-frames", "4",
                 "--size", "64", "--device", "cpu"]) == 0
    assert probe(out)["frames"] == 4


def test_cam_adapts_by_default_and_reports_its_size_fps_and_latency(tmp_path, cam_clip, capsys):
    real_create_stylizer()
    out = tmp_path / "rec.mp4"
    assert main(["cam", "--camera", str(cam_clip), "--no-window", "--record", str(out), "--max-frames", "6",
                 "--fps-target", "12", "--device", "cpu"]) == 0
    captured = capsys.readouterr()
    # a 64x48 camera is below the smallest working size: stylised at its own size, never enlarged
    assert "stylising at 64x48 to start; the size adapts to hold 12 fps" in captured.err, captured.err
    summary = captured.out.strip().splitlines()[-1]
    assert summary.startswith("shown 6 frames") and "fps" in summary and "stylised at 64x48" in summary
    assert "ms capture-to-display (median; 95% within" in summary
    assert probe(out)["frames"] == 6
