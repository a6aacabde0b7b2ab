"""``livestyle image``: stylise photos (files or folders) with a fixed style or style images."""

from __future__ import annotations

import argparse
from pathlib import Path

from .common import add_overwrite, add_stylizer_options, stylizer_options


def add_parser(p: argparse.ArgumentParser) -> None:
    p.add_argument("inputs", nargs="+", type=Path, help="image files and/or folders of images")
    p.add_argument("-o", "--output", type=Path, required=True,
                   help="output file (one input) or folder (several inputs or a folder; results keep "
                        "the folder's subfolders and are written as .png). Transparency is kept in "
                        ".png, .webp and .tif outputs")
    add_overwrite(p, "result files")
    add_stylizer_options(p, temporal=False)


def _targets(inputs: list[Path], output: Path, style_images: list[Path],
             overwrite: bool = False) -> list[tuple[Path, Path]]:
    """(input, output) pairs, refused before anything is made when an output would land on an
    input (or on another output), or on a file that exists without ``overwrite``."""
    from ..errors import InputError, OutputError
    from ..fileio import refuse_overwriting_inputs, refuse_replacing
    from ..media.images import list_images

    found: list[tuple[Path, Path]] = []   # (file, its name under the output folder)
    for item in inputs:
        if item.is_dir():
            refuse_overwriting_inputs(output, [item], "output folder")
            # photos/ -o photos/styled/: earlier results are not inputs of the next run.
            files = [f for f in list_images(item) if not f.resolve().is_relative_to(output.resolve())]
            if not files:
                raise InputError(f"folder {item} holds no .jpg/.png images")
            # Subfolders are mirrored: a/x.jpg and b/x.jpg must not both become out/x.png.
            found += [(f, f.relative_to(item).with_suffix(".png")) for f in files]
        elif item.exists():
            found.append((item, Path(f"{item.stem}.png")))
        else:
            raise InputError(f"input not found: {item}")
    if len(found) == 1 and not output.is_dir() and output.suffix:
        pairs = [(found[0][0], output)]
    elif output.exists() and not output.is_dir():
        raise OutputError(f"{len(found)} inputs need an output folder, but {output} is a file")
    else:
        pairs = [(f, output / name) for f, name in found]
    sources = [f for f, _ in found] + list(style_images)
    written: dict[Path, Path] = {}
    for src, dst in pairs:
        refuse_overwriting_inputs(dst, sources)
        other = written.setdefault(dst.resolve(), src)
        if other != src:
            raise InputError(f"{other} and {src} would both be written to {dst}; rename one of them")
    refuse_replacing([dst for _, dst in pairs], overwrite,
                     "name" if len(pairs) == 1 and pairs[0][1] == output else "output folder")
    return pairs


def run(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from ..media.images import check_writable, read_image_with_alpha, write_image
    from ..runtime.factory import create_stylizer

    pairs = _targets(args.inputs, args.output, args.style_image or [], args.overwrite)
    # Every input is decoded once up front, so a bad file fails before any work, but not kept:
    # a folder of phone photos would not fit in memory at once.
    decoded = None
    for src, dst in pairs:
        decoded = read_image_with_alpha(src)
        # The output folder of a folder run (and its subfolders) is made when the first result is
        # written; a single output's folder must exist (a typo in it should not make folders).
        check_writable(dst, make_folders=dst.parent != args.output.parent)
    stylizer = create_stylizer(**stylizer_options(args))
    for src, dst in tqdm(pairs, unit="image", disable=len(pairs) < 2):
        image, alpha = decoded if len(pairs) == 1 else read_image_with_alpha(src)
        write_image(dst, stylizer(image), alpha)
    where = pairs[0][1] if len(pairs) == 1 else args.output
    print(f"wrote {len(pairs)} image(s) with style '{stylizer.name}' to {where}")
    return 0
