#!/usr/bin/env python
"""Export a style net to ONNX (parity-checked, with manifest). Same as ``livestyle export``.

Examples:
  python tools/export.py --style udnie_engstrom --fp16
  python tools/export.py --checkpoint exported/mosaic.pt --name mosaic
"""
import sys

from livestyle.cli.main import main

if __name__ == "__main__":
    sys.exit(main(["export", *sys.argv[1:]]))
