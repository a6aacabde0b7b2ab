"""Still image files through Pillow: EXIF orientation, depths and colour modes, transparency, the
size check made on the header before any pixel is decoded, and HEIC/HEIF/AVIF photos.

Every picture is generated here, small, with four differently coloured quadrants on a frame wider
than tall: a turn or mirror that went wrong moves a colour to the wrong corner.
"""

from __future__ import annotations

import struct
import sys
import warnings
import zlib
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image, ImageFile, features

from livestyle.cli.main import main
from livestyle.errors import InputError, OutputError
from livestyle.media import images
from livestyle.media.images import (decode_image, decode_image_bytes, list_images, read_image,
                                    read_image_with_alpha, write_image)

from test_video import stand_in  # noqa: F401

H, W = 48, 64
# BGR: top left red, top right green, bottom left blue, bottom right yellow
QUADRANTS = {(0, 0): (0, 0, 255), (0, 1): (0, 255, 0), (1, 0): (255, 0, 0), (1, 1): (0, 255, 255)}


def scene() -> np.ndarray:
    image = np.zeros((H, W, 3), np.uint8)
    for (row, col), colour in QUADRANTS.items():
        image[row * H // 2:(row + 1) * H // 2, col * W // 2:(col + 1) * W // 2] = colour
    return image


def rgb(image_bgr: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(image_bgr[..., ::-1])


def assert_quadrants(got: np.ndarray, want: np.ndarray, tolerance: float = 10) -> None:
    """Same shape, and each quadrant's mean colour (edges left out: JPEG rings there) matches."""
    assert got.shape == want.shape
    for row in range(2):
        for col in range(2):
            rows = slice(row * H // 2 + 4, (row + 1) * H // 2 - 4)
            cols = slice(col * W // 2 + 4, (col + 1) * W // 2 - 4)
            diff = np.abs(got[rows, cols].astype(float).mean((0, 1)) - want[rows, cols].astype(float).mean((0, 1)))
            assert diff.max() < tolerance, (row, col, diff)


# How a camera stores the picture it means to show, for each EXIF orientation (from the tag's
# definition: where the stored 0th row and 0th column lie on the picture shown).
STORED = {
    1: lambda shown: shown,
    2: lambda shown: np.fliplr(shown),                  # 0th row top, 0th column right
    3: lambda shown: np.rot90(shown, 2),                # bottom, right
    4: lambda shown: np.flipud(shown),                  # bottom, left
    5: lambda shown: shown.swapaxes(0, 1),              # left, top
    6: lambda shown: np.rot90(shown, 1),                # right, top
    7: lambda shown: np.fliplr(np.rot90(shown, 1)),     # right, bottom
    8: lambda shown: np.rot90(shown, -1),               # left, bottom
}


def with_orientation(path: Path, orientation: int, **save) -> Path:
    stored = Image.fromarray(np.ascontiguousarray(STORED[orientation](rgb(scene()))))
    exif = stored.getexif()
    exif[0x0112] = orientation
    stored.save(path, exif=exif.tobytes(), **save)
    return path


@pytest.mark.parametrize("orientation", range(1, 9))
def test_each_exif_orientation_comes_out_as_shown(orientation, tmp_path):
    path = with_orientation(tmp_path / "photo.jpg", orientation, quality=95)
    assert Image.open(path).getexif()[0x0112] == orientation
    assert_quadrants(read_image(path), scene())


def test_exif_orientation_in_a_png(tmp_path):
    path = with_orientation(tmp_path / "photo.png", 6)
    assert np.array_equal(read_image(path), scene())


def test_a_broken_exif_block_leaves_the_pixels_as_stored(tmp_path):
    path = tmp_path / "photo.jpg"
    Image.fromarray(rgb(scene())).save(path, exif=b"Exif\x00\x00MM\x00*\x00\x00\xff\xff", quality=95)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # nothing for the user to act on: no warning either
        assert_quadrants(read_image(path), scene())


def test_16_bit_png(tmp_path):
    grey = (np.arange(H * W).reshape(H, W) * 21).astype(np.uint16)  # all the way up to 64491
    cv2.imwrite(str(tmp_path / "grey.png"), grey)
    assert Image.open(tmp_path / "grey.png").mode.startswith("I")  # "I;16" (older Pillows: "I")
    want = np.round(grey / 257).astype(np.uint8)
    assert np.array_equal(read_image(tmp_path / "grey.png"), np.dstack([want] * 3))
    colour = np.dstack([grey, grey // 2, 65535 - grey])
    cv2.imwrite(str(tmp_path / "colour.png"), colour)
    got = read_image(tmp_path / "colour.png").astype(int)
    assert np.abs(got - colour / 257).max() <= 1  # Pillow keeps 8 of the 16 bits of colour


@pytest.mark.parametrize("values, want", [(np.float32([[0.0, 0.5, 1.0]]), [0, 128, 255]),
                                         (np.int32([[0, 32896, 65535]]), [0, 128, 255]),
                                         (np.int32([[0, 100, 255]]), [0, 100, 255])],
                         ids=["float 0..1", "32-bit int holding 16-bit", "32-bit int holding 8-bit"])
def test_scientific_tiffs(values, want, tmp_path):
    Image.fromarray(values).save(tmp_path / "scan.tif")
    assert read_image(tmp_path / "scan.tif")[0].tolist() == [[v] * 3 for v in want]


def test_palette_png_is_read_exactly(tmp_path):
    path = tmp_path / "palette.png"
    Image.fromarray(rgb(scene())).convert("P", palette=Image.ADAPTIVE, colors=4).save(path)
    assert Image.open(path).mode == "P"
    assert np.array_equal(read_image(path), scene())
    image, alpha = read_image_with_alpha(path)
    assert alpha is None


def test_palette_png_with_a_transparent_entry(tmp_path):
    path = tmp_path / "palette.png"
    palette = Image.fromarray(rgb(scene())).convert("P", palette=Image.ADAPTIVE, colors=4)
    palette.save(path, transparency=palette.getpixel((W - 1, H - 1)))  # the yellow quadrant
    image, alpha = read_image_with_alpha(path)
    want_alpha = np.full((H, W), 255, np.uint8)
    want_alpha[H // 2:, W // 2:] = 0
    assert np.array_equal(alpha, want_alpha)
    want = scene()
    want[H // 2:, W // 2:] = 255  # see-through: shown over white
    assert np.array_equal(image, want)


def test_cmyk_jpeg(tmp_path):
    path = tmp_path / "print.jpg"
    Image.fromarray(rgb(scene())).convert("CMYK").save(path, quality=95)
    assert Image.open(path).mode == "CMYK"
    assert_quadrants(read_image(path), scene())


def test_greyscale_and_one_bit(tmp_path):
    grey = cv2.cvtColor(scene(), cv2.COLOR_BGR2GRAY)
    Image.fromarray(grey).save(tmp_path / "grey.png")
    assert np.array_equal(read_image(tmp_path / "grey.png"), np.dstack([grey] * 3))
    assert decode_image(tmp_path / "grey.png").flags.writeable  # callers may draw on what they get
    Image.fromarray(grey > 100).save(tmp_path / "bits.png")
    assert Image.open(tmp_path / "bits.png").mode == "1"
    assert np.array_equal(read_image(tmp_path / "bits.png"), np.dstack([np.where(grey > 100, 255, 0)] * 3))


def half_and_clear_alpha() -> np.ndarray:
    """Opaque on the left, half see-through top right, fully see-through bottom right."""
    alpha = np.full((H, W), 255, np.uint8)
    alpha[: H // 2, W // 2:] = 128
    alpha[H // 2:, W // 2:] = 0
    return alpha


def over_white(colour: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    a = alpha[..., None].astype(float) / 255
    return np.round(colour * a + 255 * (1 - a)).astype(np.uint8)


def test_rgba_png_keeps_its_alpha_and_shows_over_white(tmp_path):
    path, alpha = tmp_path / "rgba.png", half_and_clear_alpha()
    Image.fromarray(np.dstack([rgb(scene()), alpha]), "RGBA").save(path)
    image, got_alpha = read_image_with_alpha(path)
    assert np.array_equal(got_alpha, alpha)
    assert np.array_equal(image, over_white(scene(), alpha))  # channel order: BGR, as OpenCV's
    assert np.array_equal(decode_image(path)[..., 3], alpha)


def test_la_png_keeps_its_alpha(tmp_path):
    path, alpha = tmp_path / "la.png", half_and_clear_alpha()
    grey = cv2.cvtColor(scene(), cv2.COLOR_BGR2GRAY)
    Image.fromarray(np.dstack([grey, alpha]), "LA").save(path)
    assert decode_image(path).shape == (H, W, 2) and decode_image(path).flags.writeable
    image, got_alpha = read_image_with_alpha(path)
    assert np.array_equal(got_alpha, alpha)
    assert np.array_equal(image, np.dstack([over_white(grey[..., None], alpha)[..., 0]] * 3))


def test_an_opaque_alpha_channel_is_no_alpha(tmp_path):
    Image.fromarray(rgb(scene())).convert("RGBA").save(tmp_path / "opaque.png")
    image, alpha = read_image_with_alpha(tmp_path / "opaque.png")
    assert alpha is None and np.array_equal(image, scene())


def test_transparent_colour_key_in_an_rgb_png(tmp_path):
    Image.fromarray(rgb(scene())).save(tmp_path / "key.png", transparency=(0, 255, 0))  # the green quadrant
    image, alpha = read_image_with_alpha(tmp_path / "key.png")
    assert alpha is not None and (alpha[: H // 2, W // 2:] == 0).all() and alpha.sum() == 255 * H * W * 3 // 4


# -- the size check on the header ----------------------------------------------------------------


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def huge_png(width: int, height: int) -> bytes:
    """A valid PNG header claiming ``width`` x ``height`` RGB pixels, followed by 4 KB of data."""
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", header)
            + _png_chunk(b"IDAT", zlib.compress(b"\x00" * 4096)) + _png_chunk(b"IEND", b""))


@pytest.fixture
def no_decoding(monkeypatch):
    """Any pixel decoding fails the test: the refusal must come from the header alone."""
    def load(self):
        raise AssertionError("pixels were decoded")

    monkeypatch.setattr(ImageFile.ImageFile, "load", load)


@pytest.mark.parametrize("width, height", [(50_000, 70_000), (12_000, 9_000)],
                         ids=["far past Pillow's own limit", "past livestyle's limit only"])
def test_a_huge_header_is_refused_without_decoding(width, height, tmp_path, no_decoding):
    path = tmp_path / "bomb.png"
    path.write_bytes(huge_png(width, height))
    limit = Image.MAX_IMAGE_PIXELS
    for read in (lambda: read_image(path), lambda: decode_image_bytes(np.fromfile(path, np.uint8), "upload")):
        with pytest.raises(InputError, match=f"is {width}x{height} pixels, more than livestyle reads "
                                             r"\(100 megapixels\); downscale it first"):
            read()
    assert Image.MAX_IMAGE_PIXELS == limit  # Pillow's own setting is left as it was


def test_pillows_lower_limit_neither_refuses_nor_warns(tmp_path, monkeypatch):
    """Pictures between Pillow's limit and livestyle's are read quietly: livestyle's is the one."""
    Image.fromarray(rgb(scene())).save(tmp_path / "a.png")
    Image.fromarray(rgb(scene())).save(tmp_path / "a.tif")  # uncompressed: Pillow checks again on load
    for limit, names in ((H * W // 2 - 1, ["a.png"]), (H * W - 1, ["a.png", "a.tif"])):
        monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", limit)  # past twice the limit Pillow refuses
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            for name in names:
                assert np.array_equal(read_image(tmp_path / name), scene())
        assert Image.MAX_IMAGE_PIXELS == limit


@pytest.mark.parametrize("content", [b"\xff\xd8\xff garbage", b"not an image at all", b"cut"])
def test_unreadable_files(content, tmp_path):
    path = tmp_path / "bad.jpg"
    path.write_bytes(content)
    with pytest.raises(InputError, match="is not a readable image"):
        read_image(path)


def test_a_cut_short_file_is_refused(tmp_path):
    ok, data = cv2.imencode(".png", scene())
    path = tmp_path / "cut.png"
    path.write_bytes(data.tobytes()[: len(data) // 2])
    with pytest.raises(InputError, match="is not a readable image"):
        read_image(path)


def test_an_upload_decodes_from_memory():
    ok, data = cv2.imencode(".png", scene())
    assert np.array_equal(decode_image_bytes(data, "the painting"), scene())
    assert np.array_equal(decode_image_bytes(data.tobytes(), "the painting"), scene())


def test_writing_keeps_opencvs_formats(tmp_path):
    write_image(tmp_path / "out.webp", scene(), half_and_clear_alpha())
    assert cv2.imread(str(tmp_path / "out.webp"), cv2.IMREAD_UNCHANGED).shape == (H, W, 4)
    with pytest.raises(OutputError, match="cannot write images with extension '.heic'"):
        write_image(tmp_path / "out.heic", scene())
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.webp"]


# -- HEIC / HEIF / AVIF --------------------------------------------------------------------------


def test_listed_suffixes_include_phone_formats(tmp_path):
    for name in ("a.jpg", "b.HEIC", "c.heif", "d.avif", "e.txt", "f.gif"):
        (tmp_path / name).write_bytes(b"x")
    assert [p.name for p in list_images(tmp_path)] == ["a.jpg", "b.HEIC", "c.heif", "d.avif"]


@pytest.fixture
def pillow_heif():
    module = pytest.importorskip("pillow_heif")
    images._heif_plugin()  # what the first HEIC read does; written here before any is read
    return module


def test_heic_photo_with_exif_orientation_comes_out_as_shown(pillow_heif, tmp_path):
    path = with_orientation(tmp_path / "photo.heic", 6, quality=95)
    assert Image.open(path).format == "HEIF"
    assert_quadrants(read_image(path), scene(), tolerance=14)  # HEVC chroma is coarser than JPEG's
    assert_quadrants(decode_image_bytes(np.fromfile(path, np.uint8), "upload"), scene(), tolerance=14)


def test_heic_through_the_image_command(pillow_heif, tmp_path, stand_in, capsys):  # noqa: F811
    src = with_orientation(tmp_path / "photo.heic", 8, quality=95)
    out = tmp_path / "out.png"
    assert main(["image", str(src), "-o", str(out), "--style", "mosaic", "--size", "256"]) == 0, \
        capsys.readouterr().err
    assert_quadrants(cv2.imread(str(out)), 255 - scene(), tolerance=14)  # the stand-in inverts


def test_heic_with_the_real_net(pillow_heif, tmp_path, capsys):
    src = with_orientation(tmp_path / "photo.heic", 6, quality=95)
    out = tmp_path / "out.png"
    assert main(["image", str(src), "-o", str(out), "--style", "mosaic", "--size", "256",
                 "--device", "cpu"]) == 0, capsys.readouterr().err
    assert cv2.imread(str(out)).shape == (H, W, 3)


def fake_heic() -> bytes:
    """The ISO media file-type box an iPhone photo starts with, then no valid picture."""
    return struct.pack(">I", 24) + b"ftypheic" + b"\x00\x00\x00\x00" + b"mif1heic" + bytes(64)


@pytest.fixture
def without_pillow_heif(monkeypatch):
    """As if pillow-heif were not installed, whether or not it is (and registered already)."""
    monkeypatch.setitem(sys.modules, "pillow_heif", None)  # import fails
    monkeypatch.setattr(Image, "ID", [f for f in Image.ID if f != "HEIF"])
    monkeypatch.delitem(Image.OPEN, "HEIF", raising=False)
    images._heif_plugin.cache_clear()
    yield
    images._heif_plugin.cache_clear()


def test_heic_without_the_plugin_says_what_to_install(without_pillow_heif, tmp_path, capsys):
    path = tmp_path / "IMG_0001.HEIC"
    path.write_bytes(fake_heic())
    with pytest.raises(InputError, match=r"IMG_0001.HEIC is a HEIC/HEIF photo, .*pip install 'livestyle\[heic\]'"):
        read_image(path)
    with pytest.raises(InputError, match="pip install 'livestyle"):
        decode_image_bytes(fake_heic(), "the painting")
    out = tmp_path / "out.png"
    assert main(["image", str(path), "-o", str(out), "--style", "mosaic"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("livestyle image: error:") and "\n" not in err, err
    assert "pip install 'livestyle[heic]'" in err and not out.exists()


def test_a_broken_heic_with_the_plugin_is_unreadable(pillow_heif, tmp_path):
    path = tmp_path / "broken.heic"
    path.write_bytes(fake_heic())
    with pytest.raises(InputError, match="is not a readable image"):
        read_image(path)


@pytest.mark.skipif(not ("avif" in features.modules and features.check_module("avif")),
                    reason="this Pillow reads no AVIF (11.3 and newer do)")
def test_avif_with_exif_orientation_comes_out_as_shown(tmp_path):
    path = with_orientation(tmp_path / "photo.avif", 6, quality=95)
    assert Image.open(path).format == "AVIF"
    assert_quadrants(read_image(path), scene(), tolerance=14)
