"""Where live frames go: a window, a virtual camera, a browser (MJPEG over HTTP), a file.

Every sink has the same life: build it (cheap checks that can fail before a camera or a model is
opened), ``open(width, height, fps, controls)``, ``send(frame, meta)`` per frame, ``close()``.
``controls`` is the :class:`livestyle.pipeline.LivePipeline` that feeds the sink: keys and the web
page switch styles through its ``set_style``/``next_style``/``prev_style``/``toggle_original``/
``quit``.
"""

from __future__ import annotations

import errno
import html
import json
import os
import sys
import threading
import time
from fractions import Fraction
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import cv2
import numpy as np

from ..errors import SinkError
from .images import write_image
from .video import VideoWriter


def display_available() -> bool:
    """Whether a GUI window can open: asking OpenCV's Qt without a display aborts the process,
    which no ``except`` can turn into a message."""
    if not sys.platform.startswith("linux"):
        return True
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


def _fit(frame: np.ndarray, width: int, height: int) -> np.ndarray:
    if frame.shape[1] != width or frame.shape[0] != height:
        frame = cv2.resize(frame, (width, height), interpolation=cv2.INTER_AREA)
    return frame


class WindowSink:
    """An OpenCV window with a style/FPS/latency overlay.

    Keys: n / p next / previous style, space original <-> stylised, s snapshot, q / Esc quit.
    """

    TITLE = "livestyle"

    def __init__(self, snapshot_dir="."):
        if not display_available():
            raise SinkError("no display to open a window on (DISPLAY is not set); run with "
                            "--no-window and --serve PORT (watch in a browser) or --virtual-cam")
        self.snapshot_dir = Path(snapshot_dir)
        self.snapshots: list[Path] = []
        self._controls = None
        self._last: np.ndarray | None = None
        self._opened = False

    def open(self, width: int, height: int, fps: float, controls) -> None:
        self._controls = controls
        try:
            cv2.namedWindow(self.TITLE, cv2.WINDOW_NORMAL | cv2.WINDOW_KEEPRATIO)
            cv2.resizeWindow(self.TITLE, width, height)
        except cv2.error as exc:
            raise SinkError("this OpenCV has no GUI support (opencv-python-headless?); install "
                            "opencv-python, or use --no-window with --serve PORT or --virtual-cam") from exc
        self._opened = True

    def send(self, frame: np.ndarray, meta) -> None:
        self._last = frame
        cv2.imshow(self.TITLE, overlay(frame, meta))
        self.handle_key(cv2.waitKey(1))
        if cv2.getWindowProperty(self.TITLE, cv2.WND_PROP_VISIBLE) < 1:
            self._controls.quit()  # the user closed the window

    def handle_key(self, key: int) -> None:
        if key < 0:
            return
        key &= 0xFF
        c = self._controls
        if key in (ord("q"), 27):
            c.quit()
        elif key == ord("n"):
            c.next_style()
        elif key == ord("p"):
            c.prev_style()
        elif key == ord(" "):
            c.toggle_original()
        elif key == ord("s") and self._last is not None:
            stamp = time.strftime("%Y%m%d-%H%M%S")
            path = self.snapshot_dir / f"livestyle-{stamp}-{len(self.snapshots):03d}.png"
            self.snapshots.append(write_image(path, self._last))

    def close(self) -> None:
        if self._opened:
            cv2.destroyWindow(self.TITLE)
            cv2.waitKey(1)  # lets the GUI thread actually remove the window
            self._opened = False


def overlay(frame: np.ndarray, meta) -> np.ndarray:
    """Style name, FPS and capture-to-display latency in the top-left corner."""
    label = "original" if meta.original else meta.style
    text = f"{label}  {meta.fps:4.1f} fps  {meta.latency_ms:3.0f} ms"
    out = frame.copy()
    scale = max(0.4, frame.shape[0] / 720)
    origin = (int(10 * scale), int(28 * scale))
    cv2.putText(out, text, origin, cv2.FONT_HERSHEY_SIMPLEX, scale, (0, 0, 0), max(3, int(4 * scale)), cv2.LINE_AA)
    cv2.putText(out, text, origin, cv2.FONT_HERSHEY_SIMPLEX, scale, (255, 255, 255), max(1, int(scale * 1.5)),
                cv2.LINE_AA)
    return out


def virtual_camera_hint() -> str:
    if sys.platform.startswith("linux"):
        return ("install v4l2loopback (e.g. 'sudo apt install v4l2loopback-dkms' then "
                "'sudo modprobe v4l2loopback devices=1 exclusive_caps=1')")
    if sys.platform == "darwin":
        return "install OBS Studio 30+ and start its Virtual Camera once"
    return "install OBS Studio (it provides the OBS Virtual Camera) or Unity Capture"


class VirtualCamSink:
    """Frames to a virtual webcam (pyvirtualcam) that Zoom, Meet, OBS... can select.

    The pipeline paces frames (they arrive when the camera delivers), so there is no
    ``sleep_until_next_frame`` here.
    """

    def __init__(self, device: str | None = None, backend: str | None = None):
        try:
            import pyvirtualcam  # noqa: F401 - fail before the camera and the model open
        except ImportError as exc:
            raise SinkError("--virtual-cam needs the pyvirtualcam package: pip install pyvirtualcam") from exc
        self.device, self.backend = device, backend
        self._cam = None
        self.granted: str | None = None

    def open(self, width: int, height: int, fps: float, controls) -> None:
        import pyvirtualcam

        try:
            self._cam = pyvirtualcam.Camera(width, height, fps, fmt=pyvirtualcam.PixelFormat.BGR,
                                            device=self.device, backend=self.backend)
        except RuntimeError as exc:
            reasons = "; ".join(line.strip() for line in str(exc).splitlines() if line.strip())
            raise SinkError(f"no virtual camera available ({reasons}); {virtual_camera_hint()}") from exc
        cam = self._cam
        self.granted = f"{cam.device} ({cam.backend}) {cam.width}x{cam.height} @ {cam.fps:g} fps"

    def send(self, frame: np.ndarray, meta) -> None:
        self._cam.send(np.ascontiguousarray(_fit(frame, self._cam.width, self._cam.height)))

    def close(self) -> None:
        if self._cam is not None:
            self._cam.close()
            self._cam = None


class RecorderSink:
    """Record what is shown to a video file; the timing follows capture times, so dropped frames
    leave the recording at real speed instead of fast-forwarding."""

    def __init__(self, path, codec: str = "libx264", crf: int | None = None):
        self.path, _ = VideoWriter.check(path, codec)  # now, not after the camera has opened
        self.codec, self.crf = codec, crf
        self._writer: VideoWriter | None = None
        self.notices: list[str] = []
        self.saved: Path | None = None
        self._t0: float | None = None

    def open(self, width: int, height: int, fps: float, controls) -> None:
        rate = Fraction(fps).limit_denominator(1001)
        # veryfast: encoding shares the display thread with everything else live
        self._writer = VideoWriter(self.path, width, height, rate, time_base=Fraction(1, 1000),
                                   codec=self.codec, crf=self.crf, preset="veryfast")

    def send(self, frame: np.ndarray, meta) -> None:
        if self._t0 is None:
            self._t0 = meta.captured_at
        self._writer.write(frame, round((meta.captured_at - self._t0) * 1000))

    def close(self) -> None:
        if self._writer is not None:
            writer, self._writer = self._writer, None
            self.saved = writer.close()
            self.notices += writer.notices


class MJPEGServerSink:
    """Serve the stylised stream at http://HOST:PORT/ (an OBS Browser Source works too).

    ``/`` page with the stream and a style picker (``/?clean`` without the picker), ``/stream.mjpg``
    the stream, ``/frame.jpg`` one frame, ``/styles`` JSON, ``/style?name=NAME`` (GET or POST)
    switches. The port is bound here, so "port in use" fails before anything else starts.
    """

    def __init__(self, host: str = "127.0.0.1", port: int = 8080, quality: int = 85):
        self.quality = quality
        self._cond = threading.Condition()
        self._frame: np.ndarray | None = None
        self._seq = 0
        self._jpeg: tuple[int, bytes] | None = None
        self._closed = False
        self._controls = None
        try:
            self._server = ThreadingHTTPServer((host, port), _handler_for(self))
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                raise SinkError(f"port {port} on {host} is already in use; choose another with "
                                f"--serve PORT (or stop what is using it)") from exc
            raise SinkError(f"cannot serve on {host}:{port}: {exc.strerror or exc}") from exc
        # Browsers hold idle keep-alive connections open; closing must not wait for them.
        self._server.block_on_close = False
        self.host, self.port = self._server.server_address[:2]
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host = "localhost" if self.host in ("0.0.0.0", "::") else self.host
        return f"http://{host}:{self.port}/"

    def open(self, width: int, height: int, fps: float, controls) -> None:
        self._controls = controls
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.2},
                                        name="livestyle-mjpeg", daemon=True)
        self._thread.start()

    def send(self, frame: np.ndarray, meta) -> None:
        with self._cond:
            self._frame, self._seq = frame, self._seq + 1
            self._cond.notify_all()

    def next_jpeg(self, after: int, timeout: float = 1.0) -> tuple[int, bytes] | None:
        """The first frame newer than ``after`` as (seq, JPEG); ``None`` on timeout or close.

        Encoding happens here, once per frame and only when someone is watching, not on the
        pipeline's thread.
        """
        with self._cond:
            ready = self._cond.wait_for(
                lambda: (self._frame is not None and self._seq > after) or self._closed, timeout)
            if not ready or self._closed:
                return None
            seq, frame, cached = self._seq, self._frame, self._jpeg
        if cached is not None and cached[0] == seq:
            return cached
        ok, data = cv2.imencode(".jpg", frame, [cv2.IMWRITE_JPEG_QUALITY, self.quality])
        self._jpeg = (seq, data.tobytes())
        return self._jpeg

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify_all()
        if self._thread is not None:
            self._server.shutdown()
        self._server.server_close()


BOUNDARY = "livestyleframe"
MAX_UPLOAD_BYTES = 20 << 20

PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><title>livestyle</title>
<style>
html,body{{margin:0;height:100%;background:#000;overflow:hidden}}
#live{{width:100%;height:100%;object-fit:contain;display:block}}
#picker{{position:fixed;top:8px;left:8px;font:14px sans-serif;color:#fff;background:rgba(0,0,0,.55);
padding:6px 8px;border-radius:6px;opacity:.75}}
#picker:hover{{opacity:1}}
</style></head><body>
<img id="live" src="/stream.mjpg" alt="livestyle stream">
{picker}
</body></html>
"""

PICKER = """<form id="picker" method="post" action="/style">
<label>style <select name="name" onchange="fetch('/style?name='+encodeURIComponent(this.value),
{{method:'POST'}});">{options}</select></label>
<noscript><button>switch</button></noscript>{upload}</form>"""

# Any painting becomes the style (AdaIN): the file is POSTed as-is, then the page reloads its list.
UPLOAD = """ <label>painting <input type="file" accept="image/*" onchange="if(this.files[0])
fetch('/style-image?name='+encodeURIComponent(this.files[0].name.replace(/\\.[^.]*$/,'')),
{method:'POST',body:this.files[0]}).then(()=>location.reload());"></label>"""


def _page(controls, clean: bool) -> bytes:
    if clean or controls is None:
        return PAGE.format(picker="").encode()
    options = "".join(
        f'<option value="{html.escape(n)}"{" selected" if n == controls.style else ""}>{html.escape(n)}</option>'
        for n in controls.styles)
    upload = UPLOAD if getattr(controls, "accepts_style_images", False) else ""
    return PAGE.format(picker=PICKER.format(options=options, upload=upload)).encode()


def _handler_for(sink: MJPEGServerSink):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        server_version = "livestyle"

        def log_message(self, *args) -> None:
            pass  # the library does not print; a browser polling would flood the terminal

        def do_GET(self) -> None:
            url = urlsplit(self.path)
            query = parse_qs(url.query, keep_blank_values=True)
            if url.path in ("/", "/index.html"):
                self._reply(200, "text/html; charset=utf-8", _page(sink._controls, "clean" in query))
            elif url.path == "/stream.mjpg":
                self._stream()
            elif url.path == "/frame.jpg":
                got = sink.next_jpeg(after=sink._seq - 1, timeout=5.0)
                if got is None:
                    self._reply(503, "text/plain", b"no frame yet\n")
                else:
                    self._reply(200, "image/jpeg", got[1])
            elif url.path == "/styles":
                c = sink._controls
                body = {"styles": list(c.styles), "style": c.style} if c else {"styles": [], "style": None}
                self._reply(200, "application/json", json.dumps(body).encode())
            elif url.path == "/style":
                self._switch(query)
            else:
                self._reply(404, "text/plain", b"not found\n")

        def do_POST(self) -> None:
            url = urlsplit(self.path)
            query = parse_qs(url.query, keep_blank_values=True)
            length = int(self.headers.get("Content-Length") or 0)
            if length and url.path != "/style-image":
                query.update(parse_qs(self.rfile.read(min(length, 4096)).decode("utf-8", "replace")))
            if url.path == "/style":
                self._switch(query)
            elif url.path == "/style-image":
                self._add_style_image(query, length)
            else:
                self._reply(404, "text/plain", b"not found\n")

        def _add_style_image(self, query, length: int) -> None:
            """POST the painting's bytes (JPEG/PNG) as the body; ``?name=`` labels it."""
            c = sink._controls
            if c is None or not getattr(c, "accepts_style_images", False):
                self._reply(409, "application/json", b'{"error": "this stream cannot load style images"}')
                return
            if not 0 < length <= MAX_UPLOAD_BYTES:
                self._reply(413, "application/json", json.dumps(
                    {"error": f"send one image of at most {MAX_UPLOAD_BYTES >> 20} MB"}).encode())
                return
            data = np.frombuffer(self.rfile.read(length), np.uint8)
            image = cv2.imdecode(data, cv2.IMREAD_COLOR)
            if image is None or min(image.shape[:2]) < 32:
                self._reply(400, "application/json", b'{"error": "not a readable image of at least 32 px"}')
                return
            name = (query.get("name") or ["upload"])[0][:64] or "upload"
            self._reply(200, "application/json", json.dumps({"style": c.add_style_image(name, image)}).encode())

        def _switch(self, query) -> None:
            name = (query.get("name") or [""])[0]
            c = sink._controls
            if c is None or not c.set_style(name):
                known = ", ".join(c.styles) if c else ""
                self._reply(404, "application/json",
                            json.dumps({"error": f"unknown style '{name}'", "styles": known}).encode())
                return
            self._reply(200, "application/json", json.dumps({"style": name}).encode())

        def _reply(self, code: int, ctype: str, body: bytes) -> None:
            self.send_response(code)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Cache-Control", "no-store")
            self.end_headers()
            self.wfile.write(body)

        def _stream(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", f"multipart/x-mixed-replace; boundary={BOUNDARY}")
            self.send_header("Cache-Control", "no-store")
            self.send_header("Connection", "close")
            self.end_headers()
            self.close_connection = True
            seq = sink._seq - 1  # start with the frame already there, if any
            try:
                while not sink._closed:
                    got = sink.next_jpeg(seq)
                    if got is None:
                        continue
                    seq, data = got
                    self.wfile.write(f"--{BOUNDARY}\r\nContent-Type: image/jpeg\r\n"
                                     f"Content-Length: {len(data)}\r\n\r\n".encode() + data + b"\r\n")
                    self.wfile.flush()
            except (BrokenPipeError, ConnectionResetError):
                pass  # the viewer went away

    return Handler
