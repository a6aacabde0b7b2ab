"""Files written whole or not at all, outputs that never land on inputs, content hashes of files.

Every output livestyle writes (images, checkpoints, ONNX graphs, manifests) goes through
:func:`write_atomically`: a crash, Ctrl-C or a failed check mid-write never leaves a half-written
file under the final name, where a later run would take it for a good one. Every command checks
its outputs with :func:`refuse_overwriting_inputs` before any work, so a typo such as
``-o photo.jpg`` cannot replace the photo it reads, and with :func:`refuse_replacing` unless the
user said ``--overwrite``, so an earlier result or any other file by that name is kept.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TypeVar

from .errors import OutputError

T = TypeVar("T")


def write_atomically(path, write: Callable[[Path], T], hint: str = "") -> T:
    """``write(tmp)`` into a hidden name beside ``path``, then rename it to ``path``.

    The rename is atomic within a folder, so readers see the old file or the new one. Whatever
    ``write`` raises propagates (the temporary file goes either way); an ``OSError`` becomes an
    :class:`OutputError` naming ``path``, with ``hint`` (say, what to do) appended.
    """
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"cannot create {path.parent}: {exc.strerror}{hint}") from exc
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    try:
        result = write(tmp)
        os.replace(tmp, path)
    except OSError as exc:
        raise OutputError(f"cannot write {path}: {exc.strerror}{hint}") from exc
    finally:
        tmp.unlink(missing_ok=True)
    return result


def same_file(a, b) -> bool:
    """Whether two paths name the same file or folder: spelled differently, through a symlink or
    as hard links of one inode. A path that does not exist yet is compared by where it would be."""
    a, b = Path(a), Path(b)
    if a.resolve() == b.resolve():
        return True
    try:
        return os.path.samefile(a, b)
    except OSError:
        return False  # one of them does not exist (yet), so they cannot be one file


def refuse_overwriting_inputs(output, inputs: Iterable, what: str = "output") -> None:
    """Raise :class:`OutputError` when ``output`` is one of ``inputs`` (files or folders).

    Called before any work: once a result is written over its own input, nothing can undo it.
    """
    for item in inputs:
        if item is not None and same_file(output, item):
            same = "" if Path(output) == Path(item) else f" ({item})"
            raise OutputError(f"{what} {output} is also an input{same}; choose another {what}, "
                              f"or the input would be overwritten")


def refuse_replacing(outputs: Iterable, overwrite: bool, what: str = "name") -> None:
    """Raise :class:`OutputError` when one of ``outputs`` already exists, unless ``overwrite``.

    Called before any work, like :func:`refuse_overwriting_inputs`: a file the user had (an
    earlier result, or anything else under that name) is replaced only on request.
    """
    if overwrite:
        return
    existing = [Path(p) for p in outputs if Path(p).exists() or Path(p).is_symlink()]
    if len(existing) == 1:
        raise OutputError(f"{existing[0]} already exists; add --overwrite to replace it, or choose another {what}")
    if existing:
        raise OutputError(f"{len(existing)} results already exist ({existing[0]}, ...); add --overwrite to "
                          f"replace them, or choose another {what}")


def sha256_file(path) -> str:
    """Hex SHA-256 of a file's bytes, read in 1 MiB chunks (weights can be hundreds of MB)."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()
