"""The runtime without PyTorch: the commands that stylise run on onnxruntime alone, and those that
need PyTorch say so in one line naming the pip command.

Each command runs in a subprocess where torch, torchvision and onnx cannot be imported, as in a
plain ``pip install livestyle``: a ``sitecustomize`` on PYTHONPATH puts a finder in front of the
import system that refuses them and writes every refused import to stderr. A stylising command
must succeed and must not even try (a ``try: import torch`` with a fallback would pass without
PyTorch, yet cost seconds of start-up wherever PyTorch is installed). Looking a module up without
importing it (``importlib.util.find_spec``, as ``livestyle.extras.have`` does) answers "not
installed" and is not an import. tests/test_install.py runs the same commands from a wheel
installed into a clean venv.
"""

from __future__ import annotations

import os
import subprocess
import sys
from fractions import Fraction
from pathlib import Path

import cv2
import numpy as np
import pytest

from clips import write_clip
from livestyle.errors import MissingExtraError
from livestyle.extras import TRAIN, have, need

REFUSED = "refused import:"
SITECUSTOMIZE = f'''
import importlib.abc, importlib.util, sys

BLOCKED = {{"torch", "torchvision", "onnx"}}


class NotInstalled(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.partition(".")[0] in BLOCKED:
            sys.stderr.write("{REFUSED} " + name + "\\n")
            raise ModuleNotFoundError(f"No module named {{name!r}}", name=name)
        return None


_find_spec = importlib.util.find_spec


def find_spec(name, package=None):
    return None if name.partition(".")[0] in BLOCKED else _find_spec(name, package)


sys.meta_path.insert(0, NotInstalled())
importlib.util.find_spec = find_spec
'''


@pytest.fixture(scope="module")
def work(tmp_path_factory) -> Path:
    """A folder with the blocking sitecustomize, an empty model cache, a photo, a painting, a clip."""
    folder = tmp_path_factory.mktemp("no-torch")
    (folder / "site").mkdir()
    (folder / "site/sitecustomize.py").write_text(SITECUSTOMIZE)
    yy, xx = np.mgrid[0:48, 0:64]
    cv2.imwrite(str(folder / "photo.png"), np.stack([yy * 4, xx * 3, (xx + yy) % 255], -1).astype(np.uint8))
    cv2.imwrite(str(folder / "painting.png"),
                np.stack([xx % 16 * 15, yy % 12 * 20, (xx * yy) % 255], -1).astype(np.uint8))
    frames = [np.roll(cv2.imread(str(folder / "photo.png")), 3 * i, axis=1) for i in range(4)]
    write_clip(folder / "clip.mp4", frames, Fraction(12))
    return folder


def livestyle(work: Path, *args: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=str(work / "site"), LIVESTYLE_CACHE=str(work / "cache"))
    return subprocess.run([sys.executable, "-m", "livestyle.cli.main", *args], cwd=work, env=env,
                          capture_output=True, text=True, timeout=300)


def ran_without_torch(result: subprocess.CompletedProcess) -> None:
    assert result.returncode == 0, result.stderr
    assert REFUSED not in result.stderr, result.stderr


def test_the_blocker_blocks(work):
    """The harness itself: torch really cannot be imported in these subprocesses."""
    env = dict(os.environ, PYTHONPATH=str(work / "site"))
    probe = subprocess.run([sys.executable, "-c", "import torch"], env=env, capture_output=True, text=True)
    assert probe.returncode != 0 and f"{REFUSED} torch" in probe.stderr


def test_image_and_styles_without_torch(work):
    ran_without_torch(result := livestyle(work, "image", "photo.png", "-o", "out.png", "--style", "mosaic"))
    out = cv2.imread(str(work / "out.png"))
    assert out.shape == (48, 64, 3)
    assert np.abs(out.astype(int) - cv2.imread(str(work / "photo.png")).astype(int)).mean() > 10
    ran_without_torch(result := livestyle(work, "styles"))
    assert "mosaic" in result.stdout and "adain_light" not in result.stdout.split()


def test_video_without_torch(work):
    for i, style in enumerate((["--style", "mosaic"], ["--style-image", "painting.png"])):
        out = work / f"video{i}.mp4"
        ran_without_torch(livestyle(work, "video", "clip.mp4", str(out), *style))
        capture = cv2.VideoCapture(str(out))
        assert int(capture.get(cv2.CAP_PROP_FRAME_COUNT)) == 4
        capture.release()


def test_arbitrary_style_image_without_torch(work):
    """--model auto takes the shipped light net where PyTorch is missing, shared VGG-16 or not."""
    ran_without_torch(livestyle(work, "image", "photo.png", "-o", "painted.png", "--style-image", "painting.png"))
    assert cv2.imread(str(work / "painted.png")).shape == (48, 64, 3)


def test_demo_and_cam_without_torch(work):
    ran_without_torch(livestyle(work, "demo", "-o", "demo.png"))
    assert (work / "demo.png").is_file()
    ran_without_torch(result := livestyle(work, "cam", "--camera", "clip.mp4", "--no-window", "--record",
                                          "rec.mp4", "--max-frames", "3", "--size", "64"))
    assert "recorded rec.mp4" in result.stderr
    assert (work / "rec.mp4").stat().st_size > 0


@pytest.mark.parametrize("args", [
    ["train", "johnson", "--style-image", "painting.png", "-o", "run"],
    ["export", "--style", "mosaic", "-o", "mosaic.onnx"],
    ["paint", "photo.png", "--style-image", "painting.png", "-o", "painted_gatys.png"],
    ["image", "photo.png", "-o", "half.png", "--style", "mosaic", "--fp16"],
], ids=["train", "export", "paint", "image-fp16"])
def test_what_needs_torch_says_how_to_get_it(work, args):
    result = livestyle(work, *args)
    assert result.returncode == 2
    lines = [line for line in result.stderr.strip().splitlines() if not line.startswith(REFUSED)]
    assert len(lines) == 1 and lines[0].startswith(f"livestyle {args[0]}: error:"), result.stderr
    assert "PyTorch" in lines[0] and TRAIN in lines[0]


def test_need_and_have():
    assert have("numpy") and not have("livestyle_no_such_module")
    need("anything", "numpy")
    with pytest.raises(MissingExtraError, match=r"--thing needs livestyle_no_such_module, .*\[train\]"):
        need("--thing", "livestyle_no_such_module")
