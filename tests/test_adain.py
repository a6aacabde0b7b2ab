"""AdaIN arbitrary style: export parity, the runtime's style handling, alpha, mixing, bad input.

The stylizer tests run the VGG-based net (``--model full``): the decoder committed in
``exported/`` on the shared VGG-16 encoder, so they need the shared folder (the encoder is
third-party and never shipped). The CLI and bad-input rows run the default, livestyle's light
net; tests/test_adain_light.py covers that net on its own.
"""

from __future__ import annotations

import json
import sys
import urllib.request
from pathlib import Path

import cv2
import numpy as np
import pytest

from conftest import SHARED, needs_shared
from livestyle.cli.main import main
from livestyle.errors import InputError, ModelError
from livestyle.paths import exported_dir

pytestmark = needs_shared

sys.path.insert(0, str(Path(__file__).resolve().parent))
from test_video import Invert, make_clip, probe  # noqa: E402

STYLES = SHARED / "styles"
PHOTO = SHARED / "content/eval/golden_gate.jpg"
SIZE = 192  # long side the tests stylise at: small keeps the suite fast on 2 CPU cores


@pytest.fixture(scope="module")
def photo() -> np.ndarray:
    return cv2.imread(str(PHOTO))


@pytest.fixture(scope="module")
def starry():
    from livestyle.runtime.factory import create_stylizer

    return create_stylizer(model="full", style_images=[STYLES / "starry_night.jpg"], size=SIZE)


def test_exported_graphs_match_pytorch(tmp_path):
    from livestyle.export.adain import GRAPH_FILES, export_adain
    from livestyle.export.onnx import parity_images
    from livestyle.paths import vgg_weights

    facts = export_adain(exported_dir() / "adain_decoder.pt", vgg_weights(None, SHARED), tmp_path,
                         fp16=False, images=parity_images(SHARED, count=2, long_side=128))
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(GRAPH_FILES.values())
    assert facts["encoder_parity_rel"] <= 1e-3 and facts["style_parity_rel"] <= 1e-3
    assert facts["decoder_parity_max_abs_diff"] <= 1.0 and facts["chained_parity_max_abs_diff"] <= 1.0


def test_manifest_describes_the_shipped_decoder():
    entry = json.loads((exported_dir() / "manifest.json").read_text())["models"]["adain"]
    assert entry["kind"] == "adain" and entry["file"] == "adain_decoder.pt"
    assert entry["steps"] > 0 and entry["held_out_styles"]
    from livestyle.export.onnx import sha256
    assert sha256(exported_dir() / entry["file"]) == entry["sha256"]


def _color_distance(a: np.ndarray, b: np.ndarray) -> float:
    """Distance between mean Lab colours: where a stylisation should move the photo."""
    la = cv2.cvtColor(a, cv2.COLOR_BGR2LAB).reshape(-1, 3).mean(0)
    lb = cv2.cvtColor(b, cv2.COLOR_BGR2LAB).reshape(-1, 3).mean(0)
    return float(np.linalg.norm(la - lb))


def test_any_painting_restyles_a_photo(starry, photo):
    out = starry(photo)
    assert out.shape == photo.shape and out.dtype == np.uint8
    style = cv2.imread(str(STYLES / "starry_night.jpg"))
    assert _color_distance(out, style) < 0.6 * _color_distance(photo, style)
    assert out.std() > 20  # not a grey wash


def test_style_is_encoded_once_not_per_frame(photo):
    from livestyle.runtime.factory import create_stylizer

    stylizer = create_stylizer(model="full", style_images=[STYLES / "udnie.jpg"], size=96)
    calls = []
    run = stylizer.style_graph.run
    stylizer.style_graph.run = lambda feeds: calls.append(1) or run(feeds)
    for _ in range(4):
        stylizer(photo)
    assert calls == []  # set_style encoded the painting when the stylizer was built


def test_alpha_trades_style_for_content(photo):
    from livestyle.runtime.factory import create_stylizer

    small = cv2.resize(photo, (SIZE, SIZE * photo.shape[0] // photo.shape[1]))
    outs = {a: create_stylizer(model="full", style_images=[STYLES / "candy.jpg"], alpha=a, size=SIZE)(small).astype(float)
            for a in (0.0, 0.5, 1.0)}
    err = {a: float(((o - small) ** 2).mean()) for a, o in outs.items()}
    assert err[0.0] < err[0.5] < err[1.0]


def test_mixing_weights_interpolate_style_statistics(starry, photo):
    a, b = STYLES / "starry_night.jpg", STYLES / "the_scream.jpg"
    only_a = starry.with_style([cv2.imread(str(a))])
    mixed = starry.with_style([cv2.imread(str(a)), cv2.imread(str(b))], [1, 3])
    single_b = starry.with_style([cv2.imread(str(b))])
    np.testing.assert_allclose(mixed.style_mean, 0.25 * only_a.style_mean + 0.75 * single_b.style_mean,
                               rtol=1e-5, atol=1e-4)
    assert mixed.encoder is starry.encoder  # a new painting reuses the sessions
    weighted_a = starry.with_style([cv2.imread(str(a)), cv2.imread(str(b))], [1, 0])
    assert np.abs(weighted_a(photo).astype(int) - only_a(photo).astype(int)).max() <= 1


def test_grey_and_rgba_paintings_work(starry, photo, tmp_path):
    grey = cv2.cvtColor(cv2.imread(str(STYLES / "udnie.jpg")), cv2.COLOR_BGR2GRAY)
    rgba = cv2.cvtColor(cv2.imread(str(STYLES / "mosaic.jpg")), cv2.COLOR_BGR2BGRA)
    cv2.imwrite(str(tmp_path / "grey.png"), grey)
    cv2.imwrite(str(tmp_path / "rgba.png"), rgba)
    from livestyle.runtime.factory import read_style_images

    for img in read_style_images([tmp_path / "grey.png", tmp_path / "rgba.png"]):
        assert starry.with_style([img])(photo).shape == photo.shape


@pytest.mark.parametrize("case", ["missing", "corrupt", "tiny", "weights", "both", "adain-name"])
def test_bad_style_input_is_a_clear_error(case, tmp_path):
    from livestyle.runtime.factory import create_stylizer

    kwargs = {"style_images": [STYLES / "udnie.jpg"], "size": 64}
    if case == "missing":
        kwargs["style_images"] = [tmp_path / "nope.jpg"]
    elif case == "corrupt":
        (tmp_path / "bad.jpg").write_bytes(b"not a jpeg at all")
        kwargs["style_images"] = [tmp_path / "bad.jpg"]
    elif case == "tiny":
        cv2.imwrite(str(tmp_path / "tiny.png"), np.zeros((8, 8, 3), np.uint8))
        kwargs["style_images"] = [tmp_path / "tiny.png"]
    elif case == "weights":
        kwargs["style_weights"] = [1.0, 2.0]
    elif case == "both":
        kwargs["style"] = "mosaic"
    else:
        kwargs = {"style": "adain"}
    with pytest.raises(InputError) as err:
        create_stylizer(**kwargs)
    assert len(str(err.value).splitlines()) == 1


def test_missing_encoder_weights_name_the_fix(tmp_path):
    from livestyle.runtime.factory import create_stylizer

    with pytest.raises(ModelError, match="--shared-dir"):
        create_stylizer(model="full", style_images=[STYLES / "udnie.jpg"], shared_dir=tmp_path)


def test_image_command_mixes_two_paintings(tmp_path, capsys):
    out = tmp_path / "mixed.png"
    code = main(["image", str(PHOTO), "-o", str(out), "--size", "128", "--style-image",
                 str(STYLES / "starry_night.jpg"), "--style-image", str(STYLES / "the_scream.jpg"),
                 "--style-weights", "1,1", "--alpha", "0.8"])
    assert code == 0 and cv2.imread(str(out)).shape == cv2.imread(str(PHOTO)).shape
    assert main(["image", str(PHOTO), "-o", str(tmp_path / "x.png"), "--style-image",
                 str(STYLES / "udnie.jpg"), "--style-weights", "1,2"]) == 2
    assert "one per style image" in capsys.readouterr().err


def test_video_with_a_style_image_keeps_frames_and_audio(tmp_path):
    src = make_clip(tmp_path / "in.mp4", frames=8)
    dst = tmp_path / "out.mp4"
    assert main(["video", str(src), str(dst), "--style-image", str(STYLES / "la_muse.jpg"),
                 "--stability", "0"]) == 0
    info = probe(dst)
    assert info["frames"] == 8 and info["audio"]


def test_web_page_upload_becomes_the_live_style(tmp_path):
    from livestyle.media.sinks.web import MJPEGServerSink
    from livestyle.media.sources import CameraSource
    from livestyle.pipeline.live import LivePipeline
    from livestyle.pipeline.styles import StyleBank
    from test_cam import Collect, camera_clip

    clip = camera_clip(tmp_path / "cam.mp4", frames=24)
    server = MJPEGServerSink("127.0.0.1", 0)
    painting = cv2.imencode(".png", cv2.imread(str(STYLES / "la_muse.jpg")))[1].tobytes()
    got = {}

    def upload(controls):
        page = urllib.request.urlopen(server.url, timeout=5).read()
        got["has_input"] = b'type="file"' in page
        req = urllib.request.Request(server.url + "style-image?name=wave", data=painting, method="POST")
        got["reply"] = json.loads(urllib.request.urlopen(req, timeout=5).read())
        bad = urllib.request.Request(server.url + "style-image?name=x", data=b"junk", method="POST")
        try:
            urllib.request.urlopen(bad, timeout=5)
        except urllib.error.HTTPError as exc:
            got["bad"] = exc.code

    loaded = {}

    def load_painting(name, image):
        loaded[name] = image.shape
        return Invert(name=name)

    sink = Collect({1: upload})
    with CameraSource(str(clip)) as source:
        LivePipeline(source, StyleBank(Invert(name="a"), load_painting=load_painting), [server, sink]).run()
    assert got["has_input"] and got["reply"] == {"style": "image:wave"} and got["bad"] == 400
    assert loaded["image:wave"][2] == 3
    assert "image:wave" in [m.style for m in sink.metas]
