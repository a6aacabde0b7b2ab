"""``livestyle image``: stylise photos (files or folders) with a fixed style or style images."""

from __future__ import annotations

import argparse
from pathlib import Path

from .common import add_stylizer_options, stylizer_options


def add_parser(p: argparse.ArgumentParser) -> None:
    p.add_argument("inputs", nargs="+", type=Path, help="image files and/or folders of images")
    p.add_argument("-o", "--output", type=Path, required=True,
                   help="output file (one input) or folder (several inputs or a folder)")
    add_stylizer_options(p, temporal=False)


def _targets(inputs: list[Path], output: Path) -> list[tuple[Path, Path]]:
    from ..errors import InputError, OutputError
    from ..media.images import list_images

    files: list[Path] = []
    for item in inputs:
        if item.is_dir():
            found = list_images(item)
            if not found:
                raise InputError(f"folder {item} holds no .jpg/.png images")
            files += found
        elif item.exists():
            files.append(item)
        else:
            raise InputError(f"input not found: {item}")
    if len(files) == 1 and not output.is_dir() and output.suffix:
        return [(files[0], output)]
    if output.exists() and not output.is_dir():
        raise OutputError(f"{len(files)} inputs need an output folder, but {output} is a file")
    output.mkdir(parents=True, exist_ok=True)
    return [(f, output / f"{f.stem}.png") for f in files]


def run(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from ..media.images import check_writable, read_image, write_image
    from ..runtime.factory import create_stylizer

    pairs = _targets(args.inputs, args.output)
    for _, dst in pairs:
        check_writable(dst)
    images = [(read_image(src), dst) for src, dst in pairs]  # all inputs valid before any work
    stylizer = create_stylizer(**stylizer_options(args))
    for image, dst in tqdm(images, unit="image", disable=len(images) < 2):
        write_image(dst, stylizer(image))
    where = pairs[0][1] if len(pairs) == 1 else args.output
    print(f"wrote {len(pairs)} image(s) with style '{stylizer.name}' to {where}")
    return 0

