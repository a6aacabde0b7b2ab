#!/usr/bin/env python
"""Export a style net to ONNX (parity-checked, with manifest) for shipping with livestyle: the same
as ``livestyle export``, except that a ``--checkpoint`` goes into livestyle's own models folder
(``exported/``, or ``$LIVESTYLE_EXPORTED``) as with ``--ship``, not into the user's.

Examples:
  python tools/export.py --style udnie_engstrom --fp16
  python tools/export.py --checkpoint exported/mosaic.pt --name mosaic
"""
import sys

from livestyle.cli.main import main

if __name__ == "__main__":
    args = sys.argv[1:]
    if "--checkpoint" in args and not {"--ship", "-o", "--output"} & set(args):
        args.append("--ship")
    sys.exit(main(["export", *args]))
