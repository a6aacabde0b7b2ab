"""Every command against what users actually hand it: one table of inputs that must be refused and
one of awkward inputs that must work.

A refusal is one ``livestyle CMD: error:`` line, exit status 2, and leaves the working folder
exactly as it was: no new files, no temporary files, every input unchanged byte for byte. An
awkward input that works (tiny, 16-bit, CMYK, palette, grey, transparent, EXIF-rotated photos)
comes out at the size and orientation a viewer shows, with its colours right. Media are generated
tiny; a stand-in stylizer (colour inversion) keeps the colour checks exact where the net does not
matter, and the real nets run where it does (tiny frames).
"""

from __future__ import annotations

import errno
import hashlib
import os
import shutil
import struct
import subprocess
import zlib
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import cv2  # isort: skip - before av, see livestyle/media/video.py
import av  # isort: skip
import numpy as np
import pytest

from livestyle.cli.main import main
from livestyle.paths import exported_dir

from conftest import HAVE_SHARED
from test_video import make_clip, probe, real_create_stylizer, stand_in  # noqa: F401

Image = pytest.importorskip("PIL.Image")

H, W = 48, 64
RED, BLUE, GREEN = (0, 0, 255), (255, 0, 0), (0, 255, 0)   # BGR


def scene() -> np.ndarray:
    """Left half red, right half blue, a green band on top: orientation and colours at a glance."""
    image = np.zeros((H, W, 3), np.uint8)
    image[:, : W // 2], image[:, W // 2:] = RED, BLUE
    image[: H // 6] = GREEN
    return image


def rgb(image_bgr: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(image_bgr[:, :, ::-1])


# -- generated inputs ----------------------------------------------------------------------------


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def bomb_png(path: Path, width: int = 50_000, height: int = 70_000) -> Path:
    """A valid PNG header claiming ``width`` x ``height`` RGB pixels, with a few bytes of data."""
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", header)
                     + _png_chunk(b"IDAT", zlib.compress(b"\x00" * 4096)) + _png_chunk(b"IEND", b""))
    return path


def bomb_jpeg(path: Path) -> Path:
    """A real JPEG whose frame header (SOF0) is rewritten to claim 65000 x 65000 pixels."""
    ok, data = cv2.imencode(".jpg", scene())
    data = bytearray(data.tobytes())
    sof = data.index(b"\xff\xc0")
    data[sof + 5:sof + 9] = struct.pack(">HH", 65000, 65000)
    path.write_bytes(bytes(data))
    return path


def exif_rotated(path: Path, orientation: int) -> Path:
    """``scene()`` stored the way a camera would for EXIF ``orientation``, which turns it back."""
    undo = {3: lambda a: np.rot90(a, 2), 6: lambda a: np.rot90(a, 1), 8: lambda a: np.rot90(a, -1)}
    stored = Image.fromarray(np.ascontiguousarray(undo[orientation](rgb(scene()))))
    exif = stored.getexif()
    exif[0x0112] = orientation
    stored.save(path, exif=exif.tobytes(), quality=95)
    return path


@pytest.fixture
def work(tmp_path) -> Path:
    """The working folder every row runs in, with the inputs the rows name."""
    w = tmp_path / "w"
    w.mkdir()
    cv2.imwrite(str(w / "photo.png"), scene())
    cv2.imwrite(str(w / "style.jpg"), np.full((64, 64, 3), (40, 120, 200), np.uint8))
    (w / "photos").mkdir()
    cv2.imwrite(str(w / "photos" / "a.jpg"), scene())
    cv2.imwrite(str(w / "photos" / "b.png"), scene())
    cv2.imwrite(str(w / "a.png"), scene())
    make_clip(w / "clip.mp4", frames=6)
    shutil.copy(w / "clip.mp4", w / "old.mp4")   # an earlier result
    (w / "done").mkdir()
    cv2.imwrite(str(w / "done" / "a.png"), scene())
    (w / "link.png").symlink_to("photo.png")
    (w / "clip_link.mp4").symlink_to("clip.mp4")
    os.link(w / "photo.png", w / "hard.png")
    (w / "file.txt").write_text("a file, not a folder\n")
    (w / "ck.pt").write_bytes(b"not really a checkpoint")
    bomb_png(w / "bomb.png")
    bomb_jpeg(w / "bomb.jpg")
    return w


def snapshot(*roots: Path) -> dict[str, str]:
    """Every entry under ``roots`` (hidden ones too): file hashes, link targets, folders."""
    seen = {}
    for root in roots:
        paths = [root] if root.is_file() else sorted(root.rglob("*"))
        for p in paths:
            if p.is_symlink():
                seen[str(p)] = f"-> {os.readlink(p)}"
            elif p.is_dir():
                seen[str(p)] = "folder"
            else:
                seen[str(p)] = hashlib.sha256(p.read_bytes()).hexdigest()
    return seen


@pytest.fixture
def read_only(tmp_path):
    """A folder nothing can be written to, root included: a read-only tmpfs where this process may
    mount one, else (not root) a folder without write permission."""
    folder = tmp_path / "readonly"
    folder.mkdir()
    if os.geteuid() != 0:
        folder.chmod(0o555)
        yield folder
        folder.chmod(0o755)
        return
    if not _mount(folder, "size=64k,ro"):
        pytest.skip("running as root without permission to mount: no folder is read-only here")
    try:
        yield folder
    finally:
        _umount(folder)


def _mount(folder: Path, options: str) -> bool:
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(folder)], capture_output=True)
    return done.returncode == 0


def _umount(folder: Path) -> None:
    subprocess.run(["umount", str(folder)], check=True)


def _ray_missing() -> bool:
    try:
        import ray  # noqa: F401
    except ImportError:
        return True
    return False


# -- refusals ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Refusal:
    args: tuple[str, ...]    # {w}: the working folder, {ro}: a read-only folder, {exported}
    message: str             # what the one line must say
    code: int = 2
    needs: str = ""          # "shared": the VGG-16 weights; "ray": livestyle[cluster]


STYLE = ("--style", "mosaic")
REFUSALS = {
    # image
    "image: output is the input": Refusal(("image", "{w}/photo.png", "-o", "{w}/photo.png", *STYLE),
                                          "is also an input"),
    "image: output is the input, spelled otherwise": Refusal(
        ("image", "{w}/photo.png", "-o", "{w}/photos/../photo.png", *STYLE), "is also an input"),
    "image: output is a symlink to the input": Refusal(("image", "{w}/photo.png", "-o", "{w}/link.png", *STYLE),
                                                       "is also an input ("),
    "image: output is a hard link of the input": Refusal(("image", "{w}/photo.png", "-o", "{w}/hard.png", *STYLE),
                                                         "is also an input ("),
    "image: output is the style image": Refusal(
        ("image", "{w}/photo.png", "-o", "{w}/style.jpg", "--style-image", "{w}/style.jpg"), "is also an input"),
    "image: output folder is the input folder": Refusal(("image", "{w}/photos", "-o", "{w}/photos", *STYLE),
                                                        "is also an input; choose another output folder"),
    "image: a result would land on an input": Refusal(
        ("image", "{w}/photos/a.jpg", "{w}/photos/b.png", "-o", "{w}/photos", *STYLE), "photos/b.png is also an input"),
    "image: two inputs, one result": Refusal(("image", "{w}/photos/a.jpg", "{w}/a.png", "-o", "{w}/out", *STYLE),
                                             "would both be written"),
    "image: PNG claiming 50000x70000 pixels": Refusal(("image", "{w}/bomb.png", "-o", "{w}/o.png", *STYLE),
                                                      "50000x70000 pixels"),
    "image: JPEG claiming 65000x65000 pixels": Refusal(("image", "{w}/bomb.jpg", "-o", "{w}/o.png", *STYLE),
                                                       "downscale it first"),
    "image: the result exists": Refusal(("image", "{w}/photo.png", "-o", "{w}/a.png", *STYLE),
                                        "a.png already exists; add --overwrite to replace it"),
    "image: a folder run over an earlier result": Refusal(("image", "{w}/photos", "-o", "{w}/done", *STYLE),
                                                          "done/a.png already exists; add --overwrite"),
    "image: read-only output folder": Refusal(("image", "{w}/photo.png", "-o", "{ro}/o.png", *STYLE), "not writable"),
    "image: output folder is a file": Refusal(("image", "{w}/photo.png", "-o", "{w}/file.txt/o.png", *STYLE),
                                              "is a file, not a folder"),
    "image: folder run into a read-only folder": Refusal(("image", "{w}/photos", "-o", "{ro}/out", *STYLE),
                                                         "not writable"),
    # video
    "video: OUT is IN": Refusal(("video", "{w}/clip.mp4", "{w}/clip.mp4"), "is also an input"),
    "video: OUT is a symlink to IN": Refusal(("video", "{w}/clip.mp4", "{w}/clip_link.mp4"), "is also an input ("),
    "video: OUT is the style image": Refusal(
        ("video", "{w}/clip.mp4", "{w}/style.jpg", "--style-image", "{w}/style.jpg"), "is also an input"),
    "video: OUT exists": Refusal(("video", "{w}/clip.mp4", "{w}/old.mp4"), "old.mp4 already exists; add --overwrite"),
    "video: read-only output folder": Refusal(("video", "{w}/clip.mp4", "{ro}/o.mp4"), "not writable"),
    "video: output folder is a file": Refusal(("video", "{w}/clip.mp4", "{w}/file.txt/o.mp4"), "is a file"),
    # cam
    "cam: recording over the camera file": Refusal(
        ("cam", "--camera", "{w}/clip.mp4", "--no-window", "--record", "{w}/clip.mp4"), "is also an input"),
    "cam: the --record file exists": Refusal(
        ("cam", "--camera", "{w}/clip.mp4", "--no-window", "--record", "{w}/old.mp4"), "old.mp4 already exists"),
    "cam: recording into a read-only folder": Refusal(
        ("cam", "--camera", "{w}/clip.mp4", "--no-window", "--record", "{ro}/r.mp4"), "not writable"),
    # paint
    "paint: result over the photo": Refusal(
        ("paint", "{w}/photo.png", "--style-image", "{w}/style.jpg", "-o", "{w}/photo.png"), "is also an input"),
    "paint: result over the style image": Refusal(
        ("paint", "{w}/photo.png", "--style-image", "{w}/style.jpg", "-o", "{w}/style.jpg"), "is also an input"),
    "paint: the result exists": Refusal(
        ("paint", "{w}/photo.png", "--style-image", "{w}/style.jpg", "-o", "{w}/a.png"), "a.png already exists"),
    "paint: read-only output folder": Refusal(
        ("paint", "{w}/photo.png", "--style-image", "{w}/style.jpg", "-o", "{ro}/p.png"), "not writable"),
    # train
    "train: style image claiming 50000x70000 pixels": Refusal(
        ("train", "johnson", "--style-image", "{w}/bomb.png", "-o", "{w}/run", "--content-dir", "{w}/photos",
         "--steps", "1", "--device", "cpu"), "downscale it first", needs="shared"),
    "train: -o is the photo folder": Refusal(
        ("train", "johnson", "--style-image", "{w}/style.jpg", "-o", "{w}/photos", "--content-dir", "{w}/photos",
         "--steps", "1", "--device", "cpu"), "is also an input", needs="shared"),
    "train: -o inside the photo folder": Refusal(
        ("train", "adain-light", "-o", "{w}/photos/run", "--content-dir", "{w}/photos", "--style-dir", "{w}/photos",
         "--steps", "1", "--device", "cpu"), "would train on its sample sheets", needs="shared"),
    "train: -o is the style image": Refusal(
        ("train", "johnson", "--style-image", "{w}/style.jpg", "-o", "{w}/style.jpg", "--content-dir", "{w}/photos",
         "--steps", "1", "--device", "cpu"), "is also an input", needs="shared"),
    # export
    "export: -o is the checkpoint": Refusal(("export", "--checkpoint", "{w}/ck.pt", "-o", "{w}/ck.pt"),
                                            "is also an input"),
    "export: -o is the shipped graph": Refusal(("export", "--style", "udnie", "-o", "{exported}/udnie.onnx"),
                                               "is also an input"),
    "export: -o in a read-only folder": Refusal(("export", "--style", "udnie", "-o", "{ro}/u.onnx"), "not writable"),
    "export: -o under a file": Refusal(("export", "--checkpoint", "{w}/ck.pt", "-o", "{w}/file.txt/u.onnx"),
                                       "is a file"),
    "export: --streams-on-gpu for a full net": Refusal(("export", "--checkpoint", "{exported}/udnie.pt",
                                                         "--streams-on-gpu"), "is for fast nets"),
    "export: --streams-on-gpu without a checkpoint": Refusal(
        ("export", "--style", "udnie", "-o", "{w}/u.onnx", "--no-streams-on-gpu"), "exported with --checkpoint"),
    "export: -o with --adain-checkpoint": Refusal(("export", "--adain-checkpoint", "{w}/ck.pt", "-o", "{w}/a.onnx"),
                                                  "-o does not apply"),
    # batch (refused before Ray starts: the address given is never contacted)
    "batch: output folder is the input folder": Refusal(
        ("batch", "{w}/photos", "-o", "{w}/photos", *STYLE, "--ray", "127.0.0.1:1"), "inside the input folder",
        needs="ray"),
    "batch: output folder inside the input folder": Refusal(
        ("batch", "{w}/photos", "-o", "{w}/photos/styled", *STYLE, "--ray", "127.0.0.1:1"), "inside the input folder",
        needs="ray"),
}


@pytest.mark.parametrize("case", list(REFUSALS))
def test_refused_in_one_line_leaving_everything_as_it_was(case, work, stand_in, request, capsys):
    row = REFUSALS[case]
    if row.needs == "shared" and not HAVE_SHARED:
        pytest.skip("needs the shared folder's VGG-16 weights")
    if row.needs == "ray" and _ray_missing():
        pytest.skip("needs livestyle[cluster] (Ray)")
    ro = request.getfixturevalue("read_only") if any("{ro}" in a for a in row.args) else None
    args = [a.format(w=work, ro=ro, exported=exported_dir()) for a in row.args]
    watched = [work] + ([ro] if ro else []) + ([exported_dir()] if args[0] == "export" else [])
    before = snapshot(*watched)
    code = main(args)
    err = capsys.readouterr().err.strip()
    assert code == row.code, err
    assert err.startswith(f"livestyle {args[0]}: error:") and "\n" not in err, err
    assert row.message in err, err
    assert snapshot(*watched) == before
    assert stand_in == []  # refused before any model was loaded


def test_overwrite_replaces_what_is_there(work, stand_in, capsys):
    before = snapshot(work)
    assert main(["image", f"{work}/photo.png", "-o", f"{work}/a.png", *STYLE, "--overwrite"]) == 0, \
        capsys.readouterr().err
    assert main(["image", f"{work}/photos", "-o", f"{work}/done", *STYLE, "--overwrite"]) == 0, \
        capsys.readouterr().err
    assert main(["video", f"{work}/clip.mp4", f"{work}/old.mp4", "--overwrite", "--no-progress"]) == 0, \
        capsys.readouterr().err
    after = snapshot(work)
    changed = {p for p in after if after[p] != before.get(p)}
    assert changed == {f"{work}/a.png", f"{work}/done/a.png", f"{work}/done/b.png", f"{work}/old.mp4"}
    assert cv2.imread(f"{work}/a.png").astype(int).sum() != cv2.imread(f"{work}/photo.png").astype(int).sum()
    assert probe(work / "old.mp4")["frames"] == 6


# -- a write that fails midway -------------------------------------------------------------------


def noise_clip(path: Path, frames: int = 120) -> Path:
    """Random frames: they compress to about 2 KB each, so the output (250 KB) outgrows a tiny
    disk (96 KB) long before the last frame."""
    rng = np.random.default_rng(0)
    with av.open(str(path), "w") as out:
        v = out.add_stream("libx264", rate=24, options={"preset": "ultrafast", "crf": "10"})
        v.width, v.height, v.pix_fmt = W, H, "yuv420p"
        for i in range(frames):
            frame = av.VideoFrame.from_ndarray(rng.integers(0, 255, (H, W, 3), np.uint8), format="bgr24")
            frame.pts = i
            out.mux(v.encode(frame))
        out.mux(v.encode(None))
    return path


@pytest.mark.parametrize("how", ["tiny tmpfs", "writer patched to fail"])
def test_video_disk_full_midway_leaves_no_file(how, tmp_path, stand_in, monkeypatch, capsys):
    src = noise_clip(tmp_path / "noise.mp4")
    disk = tmp_path / "disk"
    disk.mkdir()
    mounted = False
    if how == "tiny tmpfs":
        if not _mount(disk, "size=96k"):
            pytest.skip("this process may not mount a tmpfs; the patched writer covers the case")
        mounted = True
    else:
        from livestyle.media.video import VideoWriter

        mux, calls = VideoWriter._mux, []

        def fills_up(self, packets):
            calls.append(1)
            if len(calls) == 40:  # midway through the 120 frames
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
            mux(self, packets)

        monkeypatch.setattr(VideoWriter, "_mux", fills_up)
    try:
        before = snapshot(tmp_path / "noise.mp4")
        code = main(["video", str(src), str(disk / "out.mp4"), "--no-progress"])
        err = capsys.readouterr().err.strip()
        assert code == 2 and "\n" not in err, err
        assert "No space left on device" in err and "nothing was kept" in err and "free some space" in err, err
        assert list(disk.iterdir()) == []  # no file under the final name, no temporary one
        assert snapshot(tmp_path / "noise.mp4") == before
    finally:
        if mounted:
            _umount(disk)


# -- awkward inputs that must work ---------------------------------------------------------------


def _inverted(colour) -> np.ndarray:
    return 255 - np.array(colour)


def _photo(kind: str, folder: Path) -> tuple[Path, np.ndarray, np.ndarray | None]:
    """(file, what the stand-in's result must look like as BGR, the alpha it must keep)."""
    image, path = scene(), folder / "in.png"
    if kind == "16-bit PNG":
        deep = image.astype(np.uint16) * 257
        deep[:, : W // 2] = (0, 0, 0x8000)  # red at half strength: 0x8000 / 257 = 127.5 -> 128
        cv2.imwrite(str(path), deep)
        image = image.copy()
        image[:, : W // 2] = (0, 0, 128)
    elif kind == "CMYK JPEG":
        path = folder / "in.jpg"
        Image.fromarray(rgb(image)).convert("CMYK").save(path, quality=95)
    elif kind == "palette PNG":
        Image.fromarray(rgb(image)).convert("P", palette=Image.ADAPTIVE, colors=4).save(path)
    elif kind == "greyscale JPEG":
        path = folder / "in.jpg"
        Image.fromarray(rgb(image)).convert("L").save(path, quality=95)
        image = cv2.cvtColor(cv2.cvtColor(image, cv2.COLOR_BGR2GRAY), cv2.COLOR_GRAY2BGR)
    elif kind.startswith("EXIF orientation"):
        path = exif_rotated(folder / "in.jpg", int(kind.split()[-1]))
    elif kind == "PNG with transparency":
        alpha = np.full((H, W), 255, np.uint8)
        alpha[:, W // 2:] = 0   # the blue half is see-through: shown as white, kept see-through
        cv2.imwrite(str(path), np.dstack([image, alpha]))
        image = image.copy()
        image[:, W // 2:] = (255, 255, 255)
        return path, 255 - image, alpha
    elif kind == "palette PNG with a transparent colour":
        pal = Image.fromarray(rgb(image)).convert("P", palette=Image.ADAPTIVE, colors=4)
        see_through = pal.getpixel((W - 1, H - 1))  # the blue one
        pal.save(path, transparency=see_through)
        image = image.copy()
        alpha = np.full((H, W), 255, np.uint8)
        alpha[H // 6:, W // 2:] = 0
        image[H // 6:, W // 2:] = (255, 255, 255)
        return path, 255 - image, alpha
    return path, 255 - image, None


PHOTOS = ["16-bit PNG", "CMYK JPEG", "palette PNG", "greyscale JPEG", "EXIF orientation 3",
          "EXIF orientation 6", "EXIF orientation 8", "PNG with transparency",
          "palette PNG with a transparent colour"]


@pytest.mark.parametrize("kind", PHOTOS)
def test_awkward_photos_come_out_upright_with_their_colours(kind, tmp_path, stand_in, capsys):
    src, want, alpha = _photo(kind, tmp_path)
    before = snapshot(tmp_path)
    out = tmp_path / "out.png"
    assert main(["image", str(src), "-o", str(out)]) == 0, capsys.readouterr().err
    got = cv2.imread(str(out), cv2.IMREAD_UNCHANGED)
    assert got.shape[:2] == (H, W)  # as a viewer shows it: EXIF turns applied
    colour = got[:, :, :3].astype(int)
    # region means away from edges, where JPEG ringing and the palette's dithering sit
    for rows, cols in ((slice(2, H // 6 - 2), slice(4, W - 4)), (slice(H // 6 + 3, H - 3), slice(3, W // 2 - 3)),
                       (slice(H // 6 + 3, H - 3), slice(W // 2 + 3, W - 3))):
        diff = np.abs(colour[rows, cols].mean((0, 1)) - want[rows, cols].astype(int).mean((0, 1)))
        assert diff.max() < 12, (kind, rows, cols, diff)
    if alpha is None:
        assert got.ndim == 2 or got.shape[2] == 3
    else:
        assert got.shape[2] == 4 and np.array_equal(got[:, :, 3], alpha)
    assert snapshot(tmp_path) == {**before, str(out): snapshot(out)[str(out)]}


@pytest.mark.parametrize("size, args", [((1, 1), ("--style", "mosaic", "--model", "full")),
                                        ((2, 3), ("--style", "mosaic", "--model", "full")),
                                        ((2, 3), ("--style", "candy", "--model", "fast")),
                                        ((3, 700), ("--style", "udnie", "--size", "64"))],
                         ids=["1x1", "2x3", "2x3 fast net", "3x700 strip at --size 64"])
def test_tiny_images_are_stylised_at_their_own_size(size, args, tmp_path, capsys):
    real_create_stylizer()
    h, w = size
    src = tmp_path / "tiny.png"
    cv2.imwrite(str(src), np.random.default_rng(0).integers(0, 255, (h, w, 3), np.uint8))
    out = tmp_path / "out.png"
    assert main(["image", str(src), "-o", str(out), *args, "--device", "cpu"]) == 0, capsys.readouterr().err
    assert cv2.imread(str(out)).shape == (h, w, 3)


@pytest.mark.parametrize("size", [(2, 3), (20, 20), (33, 70)])
def test_tiny_images_through_the_light_arbitrary_net(size, tmp_path, capsys):
    """Its 32 px reflection border needs frames of more than 32 px: smaller ones are stretched."""
    real_create_stylizer()
    rng = np.random.default_rng(1)
    painting = tmp_path / "painting.png"
    cv2.imwrite(str(painting), cv2.GaussianBlur(rng.integers(0, 255, (96, 128, 3), np.uint8), (0, 0), 2))
    src, out = tmp_path / "tiny.png", tmp_path / "out.png"
    cv2.imwrite(str(src), rng.integers(0, 255, (*size, 3), np.uint8))
    assert main(["image", str(src), "-o", str(out), "--style-image", str(painting), "--model", "fast",
                 "--device", "cpu"]) == 0, capsys.readouterr().err
    assert cv2.imread(str(out)).shape == (*size, 3)


def test_tiny_video_is_stylised_frame_for_frame(tmp_path, capsys):
    real_create_stylizer()
    src = make_clip(tmp_path / "tiny.mp4", frames=6, size=(8, 6), fps=Fraction(12), audio=None)
    out = tmp_path / "out.mp4"
    assert main(["video", str(src), str(out), "--style", "mosaic", "--device", "cpu", "--no-progress"]) == 0, \
        capsys.readouterr().err
    got = probe(out)
    assert (got["frames"], got["width"], got["height"]) == (6, 8, 6)


@pytest.mark.parametrize("args", [("--style", "mosaic", "--model", "full"),
                                  ("--style-image", "PAINTING", "--model", "fast")], ids=["full net", "light net"])
def test_photo_too_large_for_free_memory_is_refused_with_a_size_that_fits(args, tmp_path, monkeypatch, capsys):
    """A phone photo at full size needs GBs of activations; the operating system would kill the
    process without a word. With 0.2 GB free (simulated) a 1600x1200 photo is refused before the
    net runs, and the --size the message names then works."""
    import re

    from livestyle.runtime import memory

    real_create_stylizer()
    rng = np.random.default_rng(2)
    painting = tmp_path / "painting.png"
    cv2.imwrite(str(painting), cv2.GaussianBlur(rng.integers(0, 255, (96, 128, 3), np.uint8), (0, 0), 2))
    args = [str(painting) if a == "PAINTING" else a for a in args]
    src, out = tmp_path / "photo.jpg", tmp_path / "out.png"
    cv2.imwrite(str(src), cv2.resize(scene(), (1600, 1200), interpolation=cv2.INTER_NEAREST))
    monkeypatch.setattr(memory, "available_bytes", lambda: 200 * 2**20)
    assert main(["image", str(src), "-o", str(out), *args, "--device", "cpu"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "GB of memory" in err, err
    assert not out.exists() and sorted(p.name for p in tmp_path.iterdir()) == ["painting.png", "photo.jpg"]
    size = int(re.search(r"--size (\d+)", err).group(1))
    assert 64 <= size < 1600
    assert main(["image", str(src), "-o", str(out), *args, "--device", "cpu", "--size", str(size)]) == 0, \
        capsys.readouterr().err
    assert cv2.imread(str(out)).shape == (1200, 1600, 3)


def test_memory_check_names_the_largest_size_that_fits():
    from livestyle.errors import InputError
    from livestyle.runtime.memory import USABLE_FRACTION, check_fits

    check_fits((1000, 1000), 1, 100, available=2 * 10**8)                    # 0.1 GB of 0.16 usable
    with pytest.raises(InputError, match=r"4000x3000 frame needs about 10\.\d GB.*--size (\d+)") as info:
        check_fits((3000, 4000), 1, 900, available=4 * 2**30)
    size = int(info.value.args[0].rsplit("--size ", 1)[1].split()[0])
    assert size % 16 == 0
    h = size * 3 // 4
    assert size * h * 900 <= 4 * 2**30 * USABLE_FRACTION < (size + 64) * (h + 48) * 900
