"""Serve the stylised stream to browsers as MJPEG over HTTP (an OBS Browser Source works too).

``/`` the page with the stream, a style picker and the frame rate / latency overlay (``/?clean``
the stream alone, for OBS), ``/stream.mjpg`` the stream (always clean: the overlay is the page's),
``/frame.jpg`` one frame, ``/styles`` JSON, ``/stats`` JSON (frame rate, latency, working size,
whether the overlay is on), ``/overlay`` (POST) turns the overlay on or off, ``/style?name=NAME``
(GET or POST) switches, ``/style-image?name=NAME`` (POST a JPEG/PNG) adds a painting as a style.
The request handler sees the sink only through its public :attr:`MJPEGServerSink.feed` and
:attr:`MJPEGServerSink.controls`.
"""

from __future__ import annotations

import errno
import json
import logging
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import cv2
import numpy as np

from ...errors import InputError, SinkError
from ...imageops import to_bgr
from ..images import decode_image_bytes
from .base import FrameMeta, LiveControls
from .page import render_page

log = logging.getLogger(__name__)

BOUNDARY = "livestyleframe"
MAX_UPLOAD_BYTES = 20 << 20
MIN_PAINTING_SIDE = 32


class JpegFeed:
    """The newest frame, JPEG-encoded on demand: once per frame and only when someone watches,
    on the viewer's thread, never on the pipeline's."""

    def __init__(self, quality: int = 85):
        self.quality = quality
        self._cond = threading.Condition()
        self._frame: np.ndarray | None = None
        self._seq = 0
        self._jpeg: tuple[int, bytes] | None = None
        self._closed = False

    @property
    def seq(self) -> int:
        """Number of the newest frame (0 before the first)."""
        return self._seq

    @property
    def closed(self) -> bool:
        return self._closed

    def publish(self, frame: np.ndarray) -> None:
        with self._cond:
            self._frame, self._seq = frame, self._seq + 1
            self._cond.notify_all()

    def next_jpeg(self, after: int, timeout: float = 1.0) -> tuple[int, bytes] | None:
        """The first frame newer than ``after`` as (seq, JPEG); ``None`` on timeout or close."""
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


class MJPEGServerSink:
    """Serve the stylised stream at http://HOST:PORT/ (routes above).

    The port is bound here, so "port in use" fails before anything else starts.
    """

    def __init__(self, host: str = "127.0.0.1", port: int = 8080, quality: int = 85):
        self.feed = JpegFeed(quality)
        self.controls: LiveControls | None = None   # set by open(): the page's picker drives them
        self.last_meta: FrameMeta | None = None     # the newest frame's figures, for /stats
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

    def open(self, width: int, height: int, fps: float, controls: LiveControls) -> None:
        self.controls = controls
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.2},
                                        name="livestyle-mjpeg", daemon=True)
        self._thread.start()

    def send(self, frame: np.ndarray, meta: FrameMeta) -> None:
        self.last_meta = meta
        self.feed.publish(frame)

    def stats(self) -> dict:
        """What the page's overlay shows: the newest frame's figures and whether to show them."""
        m, c = self.last_meta, self.controls
        body = {"overlay": bool(c.overlay) if c is not None else False, "style": c.style if c else None,
                "fps": 0.0, "latency_ms": 0.0, "work_size": None, "target_fps": None, "original": False}
        if m is not None:
            body.update(style="original" if m.original else m.style, fps=round(m.fps, 2),
                        latency_ms=round(m.latency_ms, 1), target_fps=m.target_fps, original=m.original,
                        work_size=f"{m.work_size[0]}x{m.work_size[1]}" if m.work_size and not m.original else None)
        return body

    def close(self) -> None:
        self.feed.close()
        if self._thread is not None:
            self._server.shutdown()
        self._server.server_close()


def _handler_for(sink: MJPEGServerSink):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        server_version = "livestyle"

        def log_message(self, *args) -> None:
            pass  # the library does not print; a browser polling would flood the terminal

        def handle(self) -> None:
            # A viewer closing the tab mid-reply is normal, not an error: without this, every
            # departure printed socketserver's traceback on the cam's console.
            try:
                super().handle()
            except ConnectionError as exc:
                log.debug("viewer %s left: %s", self.client_address[0], exc)

        def do_GET(self) -> None:
            url = urlsplit(self.path)
            query = parse_qs(url.query, keep_blank_values=True)
            if url.path in ("/", "/index.html"):
                self._reply(200, "text/html; charset=utf-8", render_page(sink.controls, "clean" in query))
            elif url.path == "/stream.mjpg":
                self._stream()
            elif url.path == "/frame.jpg":
                got = sink.feed.next_jpeg(after=sink.feed.seq - 1, timeout=5.0)
                if got is None:
                    self._reply(503, "text/plain", b"no frame yet\n")
                else:
                    self._reply(200, "image/jpeg", got[1])
            elif url.path == "/styles":
                c = sink.controls
                body = {"styles": list(c.styles), "style": c.style} if c else {"styles": [], "style": None}
                self._reply(200, "application/json", json.dumps(body).encode())
            elif url.path == "/style":
                self._switch(query)
            elif url.path == "/stats":
                self._reply(200, "application/json", json.dumps(sink.stats()).encode())
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
            elif url.path == "/overlay" and sink.controls is not None:
                sink.controls.toggle_overlay()
                self._reply(200, "application/json", json.dumps({"overlay": sink.controls.overlay}).encode())
            else:
                self._reply(404, "text/plain", b"not found\n")

        def _add_style_image(self, query, length: int) -> None:
            """POST the painting's bytes (JPEG/PNG) as the body; ``?name=`` labels it."""
            c = sink.controls
            if c is None or not c.accepts_style_images:
                self._reply(409, "application/json", b'{"error": "this stream cannot load style images"}')
                return
            if not 0 < length <= MAX_UPLOAD_BYTES:
                self._reply(413, "application/json", json.dumps(
                    {"error": f"send one image of at most {MAX_UPLOAD_BYTES >> 20} MB"}).encode())
                return
            data = np.frombuffer(self.rfile.read(length), np.uint8)
            try:  # the header is checked first: a few KB of PNG can claim gigapixels
                image = to_bgr(decode_image_bytes(data, "the painting"))
            except InputError as exc:
                self._reply(400, "application/json", json.dumps({"error": str(exc)}).encode())
                return
            if min(image.shape[:2]) < MIN_PAINTING_SIDE:
                self._reply(400, "application/json", json.dumps(
                    {"error": f"the painting is smaller than {MIN_PAINTING_SIDE} px"}).encode())
                return
            name = (query.get("name") or ["upload"])[0][:64] or "upload"
            self._reply(200, "application/json", json.dumps({"style": c.add_style_image(name, image)}).encode())

        def _switch(self, query) -> None:
            name = (query.get("name") or [""])[0]
            c = sink.controls
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
            feed = sink.feed
            seq = feed.seq - 1  # start with the frame already there, if any
            try:
                while not feed.closed:
                    got = feed.next_jpeg(seq)
                    if got is None:
                        continue
                    seq, data = got
                    self.wfile.write(f"--{BOUNDARY}\r\nContent-Type: image/jpeg\r\n"
                                     f"Content-Length: {len(data)}\r\n\r\n".encode() + data + b"\r\n")
                    self.wfile.flush()
            except ConnectionError as exc:
                log.debug("viewer %s left the stream: %s", self.client_address[0], exc)

    return Handler
