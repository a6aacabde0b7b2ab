"""Which tests are slow: reads pytest's ``--durations`` report and writes tests/slow_tests.txt,
the list tests/conftest.py marks ``slow`` from (docs/testing.md).

    python -m pytest -q --durations=0 | python tools/slow_tests.py -o tests/slow_tests.txt

A test's time is its setup, call and teardown together; one of more than ``--threshold`` seconds
(10) is listed, with its seconds as a comment. A module-scoped fixture's setup is timed on the
first test that uses it, so the others pass as quick in a full run and are slow alone: give their
lines the comment ``# by hand`` and ``-o`` keeps them the next time (``--fresh`` drops them).
Nothing is written when the input holds no durations report.
"""

from __future__ import annotations

import argparse
import re
import sys
from collections import defaultdict
from pathlib import Path

DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)s\s+(setup|call|teardown)\s+(\S.*?)\s*$")
REPORT = re.compile(r"=+ slowest (\d+ )?durations =+")
BY_HAND = "# by hand"

HEADER = """\
# Tests that take more than about {threshold:g} s alone: tests/conftest.py marks them `slow`, and the
# quick local subset leaves them out (docs/testing.md). Made from a full run's durations with
#   python -m pytest -q --durations=0 | python tools/slow_tests.py -o tests/slow_tests.txt
# One pytest node id a line; without [...] an id covers every parametrisation. A line whose
# comment starts "{by_hand}" is kept by that command (slow alone, its fixture timed on another test).
"""


def durations(lines) -> dict[str, float] | None:
    """Seconds per node id (setup + call + teardown) from pytest's report; None without one."""
    seconds: dict[str, float] = defaultdict(float)
    seen_report = False
    for line in lines:
        if REPORT.search(line):
            seen_report = True
            continue
        if seen_report and (match := DURATION.match(line)):
            seconds[match.group(3)] += float(match.group(1))
    return dict(seconds) if seen_report else None


def hand_lines(path: Path) -> dict[str, str]:
    """{node id: its line} for the ``# by hand`` lines of an existing list."""
    if not path.is_file():
        return {}
    kept = {}
    for line in path.read_text().splitlines():
        entry = re.split(r"(?:^|\s)#", line, maxsplit=1)[0].strip()
        if entry and BY_HAND in line:
            kept[entry] = line.rstrip()
    return kept


def slow_lines(seconds: dict[str, float], threshold: float, kept: dict[str, str]) -> list[str]:
    """The list's lines, by node id: the kept ones as they were, then each test over the threshold."""
    lines = dict(kept)
    for node, took in seconds.items():
        if took > threshold and node not in lines:
            lines[node] = f"{node}  # {took:.1f} s"
    return [lines[k] for k in sorted(lines)]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("report", nargs="?", type=Path, help="pytest's output (default: standard input)")
    parser.add_argument("-o", "--output", type=Path, help="write here (default: standard output)")
    parser.add_argument("--threshold", type=float, default=10.0, help="seconds a test must exceed (10)")
    parser.add_argument("--fresh", action="store_true", help=f"drop the '{BY_HAND}' lines of --output")
    args = parser.parse_args(argv)
    text = args.report.read_text() if args.report else sys.stdin.read()
    seconds = durations(text.splitlines())
    if seconds is None:
        print("slow_tests.py: no durations report in the input (run pytest with --durations=0)", file=sys.stderr)
        return 1
    kept = {} if args.fresh or args.output is None else hand_lines(args.output)
    lines = slow_lines(seconds, args.threshold, kept)
    out = HEADER.format(threshold=args.threshold, by_hand=BY_HAND) + "".join(line + "\n" for line in lines)
    if args.output:
        args.output.write_text(out)
        print(f"slow_tests.py: {len(lines)} test(s) in {args.output} ({len(kept)} kept by hand)", file=sys.stderr)
    else:
        sys.stdout.write(out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
