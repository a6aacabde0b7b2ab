"""``livestyle cam``: stylise a live camera into a window, a virtual camera, a browser, a file."""

from __future__ import annotations

import argparse
import sys
from contextlib import ExitStack
from pathlib import Path

from ..argtypes import positive_float, positive_int
from .common import add_overwrite, add_stylizer_options, model_note, stylizer_options


def resolution_arg(text: str) -> tuple[int, int]:
    try:
        w, h = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected WIDTHxHEIGHT such as 1280x720, got '{text}'") from None
    if not (16 <= w <= 8192 and 16 <= h <= 8192):
        raise argparse.ArgumentTypeError(f"resolution must be between 16 and 8192 pixels a side, got '{text}'")
    return w, h


def serve_arg(text: str) -> tuple[str, int]:
    """[HOST:]PORT; the host defaults to this machine only (127.0.0.1)."""
    host, _, port = text.rpartition(":")
    try:
        number = int(port)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected [HOST:]PORT such as 8080 or 0.0.0.0:8080, got '{text}'") from None
    if not 0 < number < 65536:
        raise argparse.ArgumentTypeError(f"port must be 1..65535, got {number}")
    return host.strip("[]") or "127.0.0.1", number


def add_parser(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("camera")
    g.add_argument("--camera", default="0", metavar="SOURCE",
                   help="camera index (0), device (/dev/video2), video file or stream URL")
    g.add_argument("--resolution", type=resolution_arg, metavar="WxH", help="ask the camera for this size")
    g.add_argument("--fps", type=float, help="ask the camera for this frame rate")
    add_stylizer_options(p)
    p.add_argument("--fps-target", type=positive_float, metavar="FPS",
                   help="frame rate the working size adapts to hold (default: the camera's); unless "
                        "--size is given, cam picks and keeps adjusting the size it stylises at so "
                        "that each frame is stylised in time on this machine")
    p.add_argument("--style-dir", type=Path, metavar="DIR",
                   help="paintings to cycle through with n/p as AdaIN styles (the web page can also "
                        "upload one)")
    o = p.add_argument_group("outputs (default: a window)")
    o.add_argument("--window", action=argparse.BooleanOptionalAction, default=None,
                   help="show a window (keys: n/p style, space original, i overlay, s snapshot, q quit)")
    o.add_argument("--overlay", action=argparse.BooleanOptionalAction, default=True,
                   help="show frame rate, latency and working size on the window and the page "
                        "(i in the window, the page's stats button toggles it; recordings and the "
                        "virtual camera never get it; default: on)")
    o.add_argument("--virtual-cam", action="store_true", help="send to a virtual webcam (OBS, v4l2loopback)")
    o.add_argument("--serve", type=serve_arg, metavar="[HOST:]PORT",
                   help="serve the stream to browsers at http://HOST:PORT/ (add ?clean for OBS)")
    o.add_argument("--record", type=Path, metavar="OUT.mp4", help="also record what is shown")
    add_overwrite(o, "the --record file")
    o.add_argument("--max-frames", type=positive_int, metavar="N", help="stop after N frames")


def run(args: argparse.Namespace) -> int:
    from ..errors import InputError, SourceError
    from ..fileio import refuse_overwriting_inputs, refuse_replacing
    from ..media.sinks.recorder import RecorderSink
    from ..media.sinks.virtualcam import VirtualCamSink
    from ..media.sinks.web import MJPEGServerSink
    from ..media.sinks.window import WindowSink
    from ..media.sources import CameraSource
    from ..pipeline.adaptive import SizeController, working_dims
    from ..pipeline.live import LivePipeline
    from ..pipeline.styles import live_style_bank

    want_window = args.window if args.window is not None else not (args.virtual_cam or args.serve or args.record)
    if not (want_window or args.virtual_cam or args.serve or args.record):
        raise InputError("--no-window leaves nothing to show; add --serve PORT, --virtual-cam or --record FILE")
    if args.size and args.fps_target:
        raise InputError("--size fixes the working size and --fps-target adapts it; give one of them")

    if args.record:
        # --camera may name a video file: recording over it would destroy what is being shown.
        refuse_overwriting_inputs(args.record, [Path(args.camera), *(args.style_image or [])],
                                  "--record file")
        refuse_replacing([args.record], args.overwrite, "--record file")
    with ExitStack() as stack:
        # Outputs first: a missing display, a taken port or an unwritable file fail in a blink,
        # not after the camera and the model have been opened.
        window = WindowSink() if want_window else None
        server = MJPEGServerSink(*args.serve) if args.serve else None
        if server:
            stack.callback(server.close)
        virtual = VirtualCamSink() if args.virtual_cam else None
        recorder = RecorderSink(args.record) if args.record else None
        sinks = [s for s in (window, server, virtual, recorder) if s is not None]
        source = stack.enter_context(CameraSource(args.camera, resolution=args.resolution, fps=args.fps))
        _say(f"{source.describe()}: {source.mode}")
        for notice in source.notices:
            _say(f"note: {notice}")

        # The pipeline sets the working size (adapted, or --size): it brings frames to it itself.
        styles = live_style_bank({**stylizer_options(args, streaming=True), "size": None}, args.style_dir)
        if model_note(styles.first, args.model):
            _say(model_note(styles.first, args.model))
        wh = (source.mode.width, source.mode.height)
        control = None
        if args.size is None:
            control = SizeController(max(wh), args.fps_target or source.mode.fps)
            w, h = working_dims(wh, control.size)
            _say(f"stylising at {w}x{h} to start; the size adapts to hold {control.target_fps:.3g} fps "
                 f"(sizes {working_dims(wh, control.minimum)[0]}-{working_dims(wh, control.maximum)[0]} "
                 f"px wide; --size N fixes it)")
        else:
            w, h = working_dims(wh, args.size)
            _say(f"stylising at {w}x{h} (--size {args.size})")
        pipeline = LivePipeline(source, styles, sinks, max_frames=args.max_frames, size_control=control,
                                size=args.size, overlay=args.overlay, on_notice=_say)
        if server:
            _say(f"serving at {server.url}  (OBS Browser Source: {server.url}?clean)")
        stats = pipeline.run()

    if virtual and virtual.granted:
        _say(f"virtual camera: {virtual.granted}")
    if recorder:
        for notice in recorder.notices:
            _say(f"note: {notice}")
        if recorder.saved:
            _say(f"recorded {recorder.saved}")
    for message in stats.messages:
        _say(f"note: {message}")
    if not stats.shown_any:
        raise SourceError(f"nothing was shown ({stats.ended_by}); check --camera")
    size = f", stylised at {stats.work_size[0]}x{stats.work_size[1]}" if stats.work_size else ""
    print(f"shown {stats.shown} frames in {stats.seconds:.1f} s, {stats.fps:.1f} fps, "
          f"{stats.latency_ms:.0f} ms capture-to-display (median; 95% within {stats.latency_p95_ms:.0f} ms)"
          f"{size}, {stats.dropped} camera frames dropped; ended: {stats.ended_by}")
    return 0


def _say(message: str) -> None:
    print(f"livestyle cam: {message}", file=sys.stderr, flush=True)
