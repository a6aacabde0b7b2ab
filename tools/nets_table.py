"""Print docs/nets.md: one Markdown row per net livestyle ships, from exported/manifest.json.

    python tools/nets_table.py                    # print the page
    python tools/nets_table.py -o docs/nets.md    # write it (after `livestyle export` changed a net)

tests/test_tools.py fails when docs/nets.md is not what this prints. The rows come from
livestyle.runtime.catalog (the registry's manifest entries); this script only lays out the page.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from livestyle.runtime.catalog import HEADERS, cells, net_rows

INTRO = """\
# The shipped nets

One row per net in `exported/`, livestyle's own (the third-party `_engstrom` nets of the shared
folder are not shipped and not listed). Generated from `exported/manifest.json` by
`python tools/nets_table.py -o docs/nets.md`; `tests/test_tools.py` fails when this page and the
manifest disagree, so run the script again after `livestyle export` changes a net.

* **kind / variant**: `johnson` nets paint one style (`--style NAME`); `<style>_fast` is the light
  student that `--model auto` runs for video and the webcam on a CPU. The two `adain` nets paint
  any painting (`--style-image`): `adain_light` (fast, shipped whole) and `adain` (the decoder on
  the VGG-16 encoder, `--model full`, needs the shared folder).
* **trained**: the last training run as the manifest records it, then the steps of every run in
  the net's chain of warm starts. How and why: [training.md](training.md); scores:
  [quality.md](quality.md).
* **parity**: the largest difference between the exported ONNX graph and the PyTorch weights it
  came from, on the parity photos, in grey levels of 0..255 (the export refuses more than 1 in
  fp32).
"""


def page() -> str:
    lines = [INTRO, "| " + " | ".join(HEADERS) + " |", "|" + "---|" * len(HEADERS)]
    for row in net_rows():
        lines.append("| " + " | ".join(c.replace("|", "\\|") for c in cells(row)) + " |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("-o", "--output", type=Path, help="write the page here instead of printing it")
    args = ap.parse_args(argv)
    text = page()
    if args.output:
        args.output.write_text(text)
    else:
        sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
