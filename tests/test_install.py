"""A stranger's install: the wheel built from this repo works from another folder with nothing else.

The wheel is installed without dependencies into a fresh venv whose only view of the heavy
dependencies (torch, onnxruntime, OpenCV) is this interpreter's site-packages folder added as a
plain path: its ``.pth`` files (this checkout's editable install among them) are not processed,
so ``import livestyle`` can only find the wheel's copy. Installing torch again per test run would
cost minutes and test pip, not livestyle.
"""

from __future__ import annotations

import os
import site
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import cv2
import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("dist")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
                    str(REPO), "-w", str(out)], check=True, timeout=600)
    return next(out.glob("livestyle-*.whl"))


@pytest.fixture(scope="module")
def installed(wheel, tmp_path_factory) -> Path:
    venv = tmp_path_factory.mktemp("venv")
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    venv_site = Path(subprocess.check_output([str(venv / "bin/python"), "-c",
                                              "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                                             text=True).strip())
    deps = {sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"], *site.getsitepackages()}
    (venv_site / "_livestyle_test_deps.pth").write_text("\n".join(sorted(deps)) + "\n")
    subprocess.run([sys.executable, "-m", "pip", "--python", str(venv / "bin/python"), "install", "--no-deps",
                    "-q", str(wheel)], check=True, timeout=600)
    return venv


def _run(venv: Path, cwd: Path, *args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LIVESTYLE_", "PYTHON"))}
    env.update(LIVESTYLE_SHARED=str(cwd / "no-shared-here"), LIVESTYLE_CACHE=str(cwd / "empty-cache"),
               PATH=f"{venv / 'bin'}:{env.get('PATH', '')}")
    return subprocess.run([str(venv / "bin/livestyle"), *args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=600)


def test_wheel_carries_the_shipped_models(wheel):
    names = zipfile.ZipFile(wheel).namelist()
    assert "livestyle/exported/manifest.json" in names
    assert "livestyle/exported/mosaic.onnx" in names and "livestyle/exported/mosaic_fast.onnx" in names


def test_installed_wheel_runs_from_another_folder_with_nothing_else(installed, tmp_path):
    where = _run(installed, tmp_path, "styles")
    assert where.returncode == 0, where.stderr
    assert "mosaic" in where.stdout and "_engstrom" not in where.stdout  # no shared folder: ours only
    photo = tmp_path / "photo.png"
    yy, xx = np.mgrid[0:120, 0:160]
    cv2.imwrite(str(photo), np.stack([yy * 2, xx, (xx + yy) % 255], -1).astype(np.uint8))
    out = tmp_path / "out.png"
    result = _run(installed, tmp_path, "image", str(photo), "-o", str(out), "--style", "mosaic")
    assert result.returncode == 0, result.stderr
    img = cv2.imread(str(out))
    assert img.shape == (120, 160, 3)
    assert np.abs(img.astype(int) - cv2.imread(str(photo)).astype(int)).mean() > 10  # really stylised
    # Arbitrary style with livestyle's own light net: no VGG, no shared folder.
    painting = tmp_path / "painting.png"
    cv2.imwrite(str(painting), np.stack([xx % 40 * 6, yy % 30 * 8, (xx * yy) % 255], -1).astype(np.uint8))
    out2 = tmp_path / "out2.png"
    result = _run(installed, tmp_path, "image", str(photo), "-o", str(out2), "--style-image", str(painting))
    assert result.returncode == 0, result.stderr
    assert cv2.imread(str(out2)).shape == (120, 160, 3)
    # The package ran from the venv, not from this checkout.
    probe = subprocess.run([str(installed / "bin/python"), "-c", "import livestyle; print(livestyle.__file__)"],
                           cwd=tmp_path, capture_output=True, text=True,
                           env={"PATH": os.environ.get("PATH", "")})
    assert str(installed) in probe.stdout and str(REPO) not in probe.stdout
