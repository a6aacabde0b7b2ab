"""What the plain install leaves out, and the one check that says so.

``pip install livestyle`` runs the shipped ONNX graphs with onnxruntime and nothing heavier.
PyTorch, torchvision and onnx come with ``pip install 'livestyle[train]'``: training, export and
Gatys painting run PyTorch, and a few run-time paths build ONNX graphs from PyTorch weights on
first use (``--fp16``, ``--int8``, third-party styles, the VGG-16 AdaIN net) or run PyTorch
itself (the PyTorch CUDA backend). Each of those calls :func:`need` before importing anything,
so a plain install answers with one line naming the pip command instead of a traceback.
"""

from __future__ import annotations

import importlib
import importlib.util

from .errors import MissingExtraError

TRAIN = "pip install 'livestyle[train]'"
# What each optional module is called in a message.
LABELS = {"torch": "PyTorch", "torchvision": "torchvision", "onnx": "the onnx package"}


def have(module: str) -> bool:
    """Whether ``module`` is installed, without importing it (importing PyTorch takes seconds)."""
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False


def need(what: str, *modules: str) -> None:
    """Raise :class:`MissingExtraError` when ``what`` (a command or option, as the user typed it)
    cannot run because ``modules`` (default: torch) do not import here.

    They are imported, not only looked up: the caller imports them next anyway, and an install
    that is present but broken should fail here with the same one line.
    """
    missing = []
    for module in modules or ("torch",):
        try:
            importlib.import_module(module)
        except (ImportError, OSError):  # OSError: a native library of the package is missing
            missing.append(LABELS.get(module, module))
    if missing:
        raise MissingExtraError(f"{what} needs {' and '.join(missing)}, which this install lacks: {TRAIN}")
