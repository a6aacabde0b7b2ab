"""``livestyle`` entry point: builds the command group and turns library errors into exit codes."""

from __future__ import annotations

import argparse
import importlib
import signal
import sys
import threading
from contextlib import contextmanager
from typing import Iterator

from .. import __version__
from .common import HelpFormatter

COMMANDS = {
    "demo": "Stylise a bundled photo with the default style and say where the result went.",
    "styles": "List the registered styles, where they come from and their licences.",
    "image": "Stylise one or more images (or a folder).",
    "video": "Stylise a video file, keeping its audio, frame rate and length.",
    "batch": "Stylise folders of videos and images on Ray, on this machine or a cluster; reruns resume.",
    "cam": "Stylise a live camera (window, virtual camera, browser stream or recording).",
    "paint": "Gatys optimisation: slow, best-quality stylisation of one photo.",
    "train": "Train a net of one of livestyle's model families: a fixed style, or an arbitrary-style net.",
    "export": "Export a style to ONNX and check it against PyTorch.",
    "bench": "Benchmark the engine (ms/frame, FPS, memory) against a torch baseline.",
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="livestyle",
        description="Real-time neural style transfer for webcams, videos and images.",
        epilog="Run 'livestyle COMMAND --help' for a command's options.")
    parser.add_argument("--version", action="version", version=f"livestyle {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, summary in COMMANDS.items():
        module = importlib.import_module(f"livestyle.cli.{name}")
        p = sub.add_parser(name, help=summary, description=summary,
                           formatter_class=HelpFormatter)
        module.add_parser(p)
        p.set_defaults(_run=module.run)
    return parser


@contextmanager
def _stops_as_interrupts() -> Iterator[None]:
    """SIGTERM (kill, timeout, service managers) ends a command the way Ctrl-C does, so a video is
    finalised and a training run leaves a resumable checkpoint. SIGINT is re-armed too: a shell
    script that starts a command with '&' hands it SIGINT ignored, and 'kill -INT' would do nothing."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def interrupt(signum, frame):
        raise KeyboardInterrupt

    previous = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "_run", None):
        parser.print_help()
        return 2
    from ..errors import LivestyleError

    try:
        with _stops_as_interrupts():
            return int(args._run(args) or 0)
    except LivestyleError as exc:
        print(f"livestyle {args.command}: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print(f"livestyle {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
