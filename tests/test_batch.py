"""``livestyle batch`` on Ray: a head started here on loopback, generated clips with sound, chunked
long clips joined without a seam, reruns, a worker that dies, and bad input.

Every Ray process these tests start listens on 127.0.0.1 only (checked with ``ss``), keeps its
files under a private temporary folder (``RAY_TMPDIR``, which also names them in their command
lines) and is stopped here through its own pid; the session ends by checking that none is left.
Clips are tiny (96x64, 1-6 s): the file runs in about a minute on two busy cores.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import types
from contextlib import contextmanager
from fractions import Fraction
from pathlib import Path

import cv2  # noqa: F401  isort: skip - before av, see livestyle/media/video.py
import av  # isort: skip
import numpy as np
import pytest

from clips import write_clip
from livestyle.cli.main import main

ray = pytest.importorskip("ray")

FPS = 24
SIZE = (96, 64)
GOP = 12             # a keyframe every half second, so short clips can be cut
LONG_SECONDS = 6
CHUNK_SECONDS = 2    # the long clip becomes three chunks
STYLE = ["--style", "mosaic"]


# -- Ray processes owned by the tests ----------------------------------------------------------


@pytest.fixture(scope="module")
def ray_env(isolated_cache):
    """Environment for every Ray process of this module: loopback, a token of its own, files
    under a private folder, no usage statistics."""
    root = Path(tempfile.mkdtemp(prefix="lsb", dir="/tmp"))  # short: Ray's socket paths have a limit
    token = root / "token"
    token.write_text(secrets.token_hex(32))
    env = dict(os.environ, RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER="0", RAY_AUTH_MODE="token",
               RAY_AUTH_TOKEN_PATH=str(token), RAY_TMPDIR=str(root), RAY_USAGE_STATS_ENABLED="0",
               LIVESTYLE_CACHE=str(isolated_cache), PYTHONUNBUFFERED="1")
    yield env, root
    left = _processes_mentioning(root)
    for pid in left:
        _kill(pid, signal.SIGKILL)
    shutil.rmtree(root, ignore_errors=True)
    assert not left, f"Ray processes outlived their test: {left}"


def _processes_mentioning(text: Path) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if str(text) in cmdline and state != "Z":
            found.append(int(entry.name))
    return found


def _kill(pid: int, sig) -> None:
    try:
        os.kill(pid, sig)
    except ProcessLookupError:
        pass


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def ray_head(ray_env):
    env, root = ray_env
    with head_on_loopback(env, root, "--disable-usage-stats") as (head, port):
        yield head, port


@contextmanager
def head_on_loopback(env: dict, root: Path, *options: str):
    """``ray start --head`` on 127.0.0.1 in a process group of its own; stopped through its pid.

    Not ``ray stop``: that stops every Ray process of the machine by name, other people's included.
    Every process of this head names ``root`` (its RAY_TMPDIR) in its command line, which is how
    the end of the stop is checked."""
    port = _free_port()
    head = subprocess.Popen(
        ["ray", "start", "--head", "--block", "--port", str(port), "--node-ip-address", "127.0.0.1",
         "--include-dashboard=false", "--num-cpus", "2", *options],
        env=env, start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if head.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("the Ray head did not start") from None
                time.sleep(0.3)
        yield head, port
    finally:
        # SIGTERM stops the GCS, raylet and workers within a second, but 'ray start --block'
        # and its monitor linger on; the whole group is this fixture's, so it then gets SIGKILL.
        os.killpg(head.pid, signal.SIGTERM)
        try:
            head.wait(timeout=5)
        except subprocess.TimeoutExpired:
            pass
        try:
            os.killpg(head.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        head.wait()
        deadline = time.monotonic() + 15
        while _processes_mentioning(root) and time.monotonic() < deadline:
            time.sleep(0.3)


def _descendants(roots: set[int]) -> set[int]:
    parents = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                parents[int(entry.name)] = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, ValueError, IndexError):
                pass
    found, grew = set(roots), True
    while grew:
        grew = False
        for pid, parent in parents.items():
            if parent in found and pid not in found:
                found.add(pid)
                grew = True
    return found


LOOPBACK = re.compile(r"^(127\.\d+\.\d+\.\d+|\[::ffff:127\.\d+\.\d+\.\d+\]|\[::1\]):\d+$")


def _listeners(pids: set[int]) -> list[str]:
    """TCP listening addresses of these processes (``ss -tlnp``)."""
    out = subprocess.run(["ss", "-tlnpH"], capture_output=True, text=True, check=True).stdout
    found = []
    for line in out.splitlines():
        fields = line.split()
        owners = {int(p) for p in re.findall(r"pid=(\d+)", line)}
        if owners & pids:
            found.append(fields[3])
    return found


def run_batch_cli(args: list[str], env: dict, watch: set[int] = frozenset(), timeout: float = 240):
    """``livestyle batch`` as a separate process (as users run it: its Ray driver and workers come
    and go with it), watching what its Ray processes and ``watch``'s listen on while it runs."""
    proc = subprocess.Popen([sys.executable, "-m", "livestyle", "batch", *args], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    addresses: set[str] = set()
    deadline = time.monotonic() + timeout
    timed_out = False
    while proc.poll() is None:
        addresses.update(_listeners(_descendants({proc.pid, *watch})))
        if time.monotonic() > deadline:
            proc.send_signal(signal.SIGINT)  # batch stops its Ray the way Ctrl-C does
            timed_out = True
            break
        time.sleep(0.4)
    try:
        out, err = proc.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
    if timed_out:
        err += f"\n[test] stopped after {timeout:g} s"
    return proc.returncode, out, err, addresses


def assert_loopback_only(addresses: set[str]) -> None:
    assert addresses, "no listening socket was seen: the check did not look at the right processes"
    outside = sorted(a for a in addresses if not LOOPBACK.match(a))
    assert not outside, f"Ray listened beyond loopback: {outside}"


# -- media -----------------------------------------------------------------------------------------


def texture(seed: int = 0) -> np.ndarray:
    """Smooth random colour texture, wider than a frame, that clips pan across (real motion for
    the optical flow, detail for the style net)."""
    rng = np.random.default_rng(seed)
    w, h = SIZE
    small = rng.integers(0, 255, (h // 4 + 4, w // 4 + 2 * FPS * LONG_SECONDS // 4 + 8, 3), np.uint8)
    big = cv2.resize(small, (small.shape[1] * 4, small.shape[0] * 4), interpolation=cv2.INTER_CUBIC)
    return cv2.GaussianBlur(big, (0, 0), 1.5)


def make_clip(path: Path, seconds: float, seed: int = 0) -> Path:
    """H.264 panning at 1 px per frame with a 440 Hz tone as long as the video."""
    w, h = SIZE
    tex = texture(seed)
    frames = (tex[4:4 + h, i:i + w] for i in range(round(seconds * FPS)))
    return write_clip(path, frames, Fraction(FPS), gop=GOP)


def probe(path: Path) -> dict:
    with av.open(str(path)) as c:
        v = c.streams.video[0]
        frames = sum(1 for _ in c.decode(v))
        audio = c.streams.audio[0] if c.streams.audio else None
        return dict(frames=frames, fps=v.average_rate, size=(v.width, v.height),
                    audio=audio.codec_context.name if audio else None,
                    audio_seconds=float(audio.duration * audio.time_base) if audio and audio.duration else None)


def decoded(path: Path) -> list[np.ndarray]:
    with av.open(str(path)) as c:
        return [f.to_ndarray(format="rgb24").astype(np.float32) / 255.0 for f in c.decode(video=0)]


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def media(tmp_path_factory):
    folder = tmp_path_factory.mktemp("inputs")
    clips = folder / "clips"
    clips.mkdir()
    make_clip(clips / "a.mp4", 1.0, seed=1)
    make_clip(clips / "b.mov", 1.5, seed=2)
    make_clip(clips / "long.mp4", LONG_SECONDS, seed=3)
    cv2.imwrite(str(clips / "photo.png"), texture(4)[:SIZE[1], :SIZE[0]])
    (clips / "broken.mp4").write_bytes(b"\x00\x00\x00\x18ftypmp42" + os.urandom(3000))
    (clips / "notes.txt").write_text("not a video: left out of folder inputs")
    return clips


# -- the tests -------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def loopback_run(ray_head, ray_env, media, tmp_path_factory):
    """One batch over the clips folder on the head at 127.0.0.1:PORT: clips with sound (mp4, mov),
    an image, a long clip cut into chunks and a broken file, watched with ``ss`` while it runs."""
    env, _ = ray_env
    head, port = ray_head
    out = tmp_path_factory.mktemp("batch") / "styled"
    args = [str(media), "-o", str(out), *STYLE, "--ray", f"127.0.0.1:{port}", "--workers", "2", "--cpus-per-worker", "1",
            "--chunk-seconds", str(CHUNK_SECONDS), "--crf", "0", "--no-progress"]
    code, stdout, stderr, addresses = run_batch_cli(args, env, watch={head.pid})
    return types.SimpleNamespace(out=out, args=args, code=code, stdout=stdout, stderr=stderr, addresses=addresses)


def test_batch_on_a_loopback_head(loopback_run, media):
    run = loopback_run
    assert run.code == 1, run.stderr  # the broken file fails; everything else is done before the exit
    assert_loopback_only(run.addresses)
    assert "broken.mp4" in run.stderr and "1 file(s) failed" in run.stderr
    assert "long.mp4: cut into 3 chunks" in run.stderr
    assert "wrote 4 file(s)" in run.stdout
    for name in ("a.mp4", "b.mov", "long.mp4"):
        got, want = probe(run.out / name), probe(media / name)
        assert got["frames"] == want["frames"] and got["fps"] == want["fps"] and got["size"] == want["size"]
        assert got["audio"] == "aac" and abs(got["audio_seconds"] - want["audio_seconds"]) < 0.05
    assert cv2.imread(str(run.out / "photo.png")).shape == (SIZE[1], SIZE[0], 3)
    # notes.txt is no video and broken.mp4 failed: neither has a result, nor a half-written one
    assert sorted(p.name for p in run.out.iterdir()) == [".livestyle-batch", "a.mp4", "b.mov", "long.mp4", "photo.png"]


def test_chunked_clip_matches_one_pass_without_a_seam(loopback_run, media):
    """The joined long clip against ``video``'s one pass over the same file (lossless coding, so
    only the stylisation differs): frame by frame the same to a fraction of a grey level, and
    the warping error across each join no worse than across any other frame pair."""
    from livestyle.eval.temporal_metrics import measurement_flow, visible_mask, warping_error
    from livestyle.pipeline.file import stylize_video
    from livestyle.runtime.factory import create_stylizer

    out = loopback_run.out
    reference = out.parent / "one_pass.mp4"
    stylize_video(media / "long.mp4", reference, create_stylizer(style="mosaic", streaming=True),
                  crf=0, progress=False)
    joined, whole, source = decoded(out / "long.mp4"), decoded(reference), decoded(media / "long.mp4")
    assert len(joined) == len(whole) == len(source) == FPS * LONG_SECONDS
    differences = [np.abs(a - b).mean() * 255 for a, b in zip(joined, whole)]
    assert max(differences) < 0.5, differences

    def warping(outputs):
        errors = []
        for t in range(1, len(outputs)):
            flow = measurement_flow(source[t], source[t - 1])
            mask = visible_mask(flow, measurement_flow(source[t - 1], source[t]))
            errors.append(warping_error(outputs[t], outputs[t - 1], flow, mask))
        return np.array(errors)

    joined_error, whole_error = warping(joined), warping(whole)
    seams = [CHUNK_SECONDS * FPS * k - 1 for k in (1, 2)]  # pair index t-1 of the first frame of chunks 2, 3
    elsewhere = np.delete(joined_error, seams)
    for s in seams:
        assert joined_error[s] <= elsewhere.max(), (s, joined_error[s], elsewhere.max())
        assert joined_error[s] <= whole_error[s] * 1.05 + 1e-5


def test_rerun_skips_complete_outputs_and_redoes_the_rest(loopback_run, ray_env):
    out = loopback_run.out
    env, _ = ray_env
    kept = {name: (digest(out / name), (out / name).stat().st_mtime_ns) for name in ("b.mov", "long.mp4", "photo.png")}
    (out / "a.mp4").write_bytes(b"not what the batch wrote")  # damaged after the run: redone
    code, stdout, stderr, _ = run_batch_cli(loopback_run.args, env)
    assert code == 1 and "broken.mp4" in stderr
    assert "wrote 1 file(s)" in stdout and "3 already complete" in stdout, stdout
    for name, (sha, mtime) in kept.items():
        assert digest(out / name) == sha and (out / name).stat().st_mtime_ns == mtime
    assert probe(out / "a.mp4")["frames"] == FPS


def test_worker_killed_mid_file_on_the_local_default(ray_env, media, tmp_path):
    """No --ray: a private instance on this machine (loopback only). The first worker dies three
    frames into its first video; Ray restarts it and runs the piece again."""
    env, root = ray_env
    ray_tmp = root / "local"  # this run's own Ray folder: its processes name it
    ray_tmp.mkdir()
    marker = tmp_path / "worker-died"
    clip = tmp_path / "clip.mp4"
    shutil.copy(media / "b.mov", clip)
    out = tmp_path / "out"
    code, stdout, stderr, addresses = run_batch_cli(
        [str(clip), "-o", str(out), *STYLE, "--workers", "1", "--no-progress"],
        dict(env, LIVESTYLE_BATCH_FAULT=f"exit-once:{marker}", RAY_TMPDIR=str(ray_tmp)))
    assert code == 0, stderr
    assert marker.exists(), "the worker was never killed"
    assert_loopback_only(addresses)
    assert probe(out / "clip.mp4")["frames"] == probe(clip)["frames"]
    assert probe(out / "clip.mp4")["audio"] == "aac"
    assert [p.name for p in out.iterdir() if not p.name.startswith(".")] == ["clip.mp4"]
    deadline = time.monotonic() + 15
    while _processes_mentioning(ray_tmp) and time.monotonic() < deadline:
        time.sleep(0.3)
    assert not _processes_mentioning(ray_tmp), "the local Ray instance outlived its batch"


def retrained_exported(folder: Path) -> Path:
    """A copy of exported/ where 'mosaic' was retrained: its full net and checkpoint are other
    weights (candy's, the same architecture), its manifest entry updated as an export does; every
    other file is the shipped one (linked)."""
    from livestyle.paths import exported_dir

    shipped = exported_dir()
    folder.mkdir()
    for item in shipped.iterdir():
        if item.name not in ("manifest.json", "mosaic.onnx", "mosaic.pt"):
            (folder / item.name).symlink_to(item)
    shutil.copyfile(shipped / "candy.onnx", folder / "mosaic.onnx")
    shutil.copyfile(shipped / "candy.pt", folder / "mosaic.pt")
    manifest = json.loads((shipped / "manifest.json").read_text())
    manifest["models"]["mosaic"]["sha256"] = digest(folder / "mosaic.onnx")
    (folder / "manifest.json").write_text(json.dumps(manifest, indent=2))
    return folder


def test_a_retrained_net_redoes_its_files_and_an_unchanged_one_skips(ray_env, media, tmp_path):
    """The completion records name the nets by content: after 'mosaic' is retrained (same name,
    another file behind it) every file of the batch is made again, then skipped while the net
    stays as it is."""
    env, root = ray_env
    ray_tmp = root / "nets"
    ray_tmp.mkdir()
    env = dict(env, RAY_TMPDIR=str(ray_tmp))
    inputs = tmp_path / "in"
    inputs.mkdir()
    for name in ("photo.png", "a.mp4"):
        shutil.copy(media / name, inputs / name)
    out = tmp_path / "out"
    args = [str(inputs), "-o", str(out), *STYLE, "--workers", "1", "--no-progress"]

    def state():
        return {name: (digest(out / name), (out / name).stat().st_mtime_ns) for name in ("photo.png", "a.mp4")}

    code, stdout, stderr, _ = run_batch_cli(args, env)
    assert code == 0 and "wrote 2 file(s)" in stdout, stderr
    shipped = state()

    retrained = dict(env, LIVESTYLE_EXPORTED=str(retrained_exported(tmp_path / "exported")))
    code, stdout, stderr, _ = run_batch_cli(args, retrained)
    assert code == 0 and "wrote 2 file(s)" in stdout and "already complete" not in stdout, stdout + stderr
    redone = state()
    for name in shipped:
        assert redone[name][1] != shipped[name][1], f"{name} was not made again"
    # The image ran the retrained full net; the clip, on a CPU, the unchanged fast one (redone
    # all the same: the plan cannot know which of the two a worker picks).
    assert redone["photo.png"][0] != shipped["photo.png"][0]

    code, stdout, stderr, _ = run_batch_cli(args, retrained)
    assert code == 0 and "wrote 0 file(s)" in stdout and "2 already complete" in stdout, stdout + stderr
    assert state() == redone


def listing(folder: Path) -> dict[str, tuple]:
    """Every entry under ``folder``, hidden ones included, with its kind, size and times."""
    found = {}
    for path in sorted(folder.rglob("*")):
        st = path.lstat()
        found[str(path.relative_to(folder))] = ("dir" if path.is_dir() else "file", st.st_size, st.st_mtime_ns)
    return found


def test_a_private_ray_leaves_home_alone_and_a_users_head_still_answers(ray_env, media, tmp_path):
    """A batch without --ray, then the user's own 'ray start --head' and a batch on it, all under
    one HOME and without any Ray setting of the user's: the private instance used to leave a
    token in ~/.ray/auth_token, which made the user's head ask for a token that the second batch
    did not send."""
    _, root = ray_env
    home = tmp_path / "home"
    home.mkdir()
    (home / ".bashrc").write_text("# the user's own\n")
    ray_tmp = root / "home"  # every Ray process of this test names it
    ray_tmp.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAY_")}
    env.update(HOME=str(home), RAY_TMPDIR=str(ray_tmp), PYTHONUNBUFFERED="1",
               # loopback only, for the user's head too (batch sets it for its own instance)
               RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER="0")
    env.pop("ORT_DISABLE_TELEMETRY", None)  # the package itself keeps onnxruntime's files out of HOME
    photo = media / "photo.png"
    before = listing(home)

    code, stdout, stderr, addresses = run_batch_cli(
        [str(photo), "-o", str(tmp_path / "local"), *STYLE, "--workers", "1", "--no-progress"], env)
    assert code == 0, stderr
    assert_loopback_only(addresses)
    assert listing(home) == before, "the private Ray instance wrote into HOME"
    deadline = time.monotonic() + 15
    while _processes_mentioning(ray_tmp) and time.monotonic() < deadline:
        time.sleep(0.3)
    assert not _processes_mentioning(ray_tmp), "the local Ray instance outlived its batch"
    assert not any(ray_tmp.iterdir()), f"the private instance left {sorted(ray_tmp.iterdir())}"

    with head_on_loopback(env, ray_tmp, "--disable-usage-stats") as (head, port):
        # What 'ray start' itself writes under HOME is the user's Ray's, not livestyle's: kept
        # apart, and the batch on the head compared with the listing after it.
        with_head = listing(home)
        code, stdout, stderr, addresses = run_batch_cli(
            [str(photo), "-o", str(tmp_path / "on-head"), *STYLE, "--ray", f"127.0.0.1:{port}", "--workers", "1",
             "--no-progress"], env, watch={head.pid})
        assert code == 0, stderr
        assert_loopback_only(addresses)
        assert listing(home) == with_head, "the batch on the user's head wrote into HOME"
    assert not _processes_mentioning(ray_tmp), "the user's head outlived the test"
    ray_own = sorted(set(with_head) - set(before))
    assert not ray_own, f"'ray start --head' wrote into HOME: {ray_own}"  # none seen with Ray 2.60


# -- bad input: one line, before Ray is started ----------------------------------------------------


def test_an_address_that_does_not_answer_is_one_line_fast(tmp_path, media, capsys, monkeypatch):
    monkeypatch.setenv("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")  # batch sets it for loopback; undone after
    t0 = time.monotonic()
    code = main(["batch", str(media / "a.mp4"), "-o", str(tmp_path / "o"), *STYLE,
                 "--ray", f"127.0.0.1:{_free_port()}", "--connect-timeout", "2"])
    err = capsys.readouterr().err
    assert code == 2 and time.monotonic() - t0 < 20
    assert err.count("\n") == 1 and "cannot connect to the Ray cluster at 127.0.0.1:" in err
    assert "nothing answers there" in err


REFUSALS = {"output inside input": "is inside the input folder", "empty folder": "holds no videos",
            "missing input": "input not found", "input in the output": "would be written over the input",
            "a file of the user's under a result's name": "a.mp4 already exists; add --overwrite"}


@pytest.mark.parametrize("case", sorted(REFUSALS))
def test_bad_inputs_are_refused_before_any_work(tmp_path, case, capsys):
    folder = tmp_path / "in"
    folder.mkdir()
    if case != "empty folder":
        make_clip(folder / "a.mp4", 0.5)
    out = {"output inside input": folder / "styled", "input in the output": folder}.get(case, tmp_path / "out")
    given = {"missing input": tmp_path / "nope", "input in the output": folder / "a.mp4"}.get(case, folder)
    if case == "a file of the user's under a result's name":
        out.mkdir()
        (out / "a.mp4").write_bytes(b"the user's own file")
    before = sorted(tmp_path.rglob("*"))
    code = main(["batch", str(given), "-o", str(out), *STYLE, "--ray", "127.0.0.1:1"])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1, err
    assert REFUSALS[case] in err
    assert sorted(tmp_path.rglob("*")) == before  # nothing written, not even the work folder


def test_overwrite_plans_over_a_users_file_and_a_finished_result_is_redone_without_it(tmp_path):
    from livestyle.pipeline.batch_plan import planned_job

    folder, out = tmp_path / "in", tmp_path / "out"
    folder.mkdir()
    make_clip(folder / "a.mp4", 0.5)
    out.mkdir()
    (out / "a.mp4").write_bytes(b"the user's own file")
    with planned_job([folder], out, {"style": "mosaic"}, 0.0, overwrite=True) as (plan, records):
        assert [f.source.relative for f in plan.files] == [Path("a.mp4")]
        records.save_done(plan.files[0].source, out / "a.mp4", 1)   # as a finished batch leaves it
    # A rerun with other options redoes the batch's own result without being told to.
    with planned_job([folder], out, {"style": "candy"}, 0.0) as (plan, _):
        assert [f.source.relative for f in plan.files] == [Path("a.mp4")]


def test_without_ray_batch_says_how_to_get_it(tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "ray", None)  # what "import ray" sees when it is not installed
    code = main(["batch", str(tmp_path), "-o", str(tmp_path / "out"), *STYLE])
    assert code != 0
    assert capsys.readouterr().err == ("livestyle batch: error: livestyle batch runs on Ray, which is not "
                                       "installed: pip install 'livestyle[cluster]'\n")


# -- pieces, without Ray -------------------------------------------------------------------------


def test_a_piece_that_fails_comes_back_as_a_result_and_the_worker_lives_on(tmp_path, media):
    from livestyle.pipeline.batch_plan import WorkUnit
    from livestyle.pipeline.batch_worker import BatchWorker, WorkerSettings

    worker = BatchWorker(WorkerSettings({"style": "mosaic", "streaming": True}, {"style": "mosaic"}))
    gone = WorkUnit("gone.mp4", "video", tmp_path / "gone.mp4", tmp_path / "staged" / "gone.mp4", 24)
    failed = worker.run(gone)
    assert not failed.ok and not failed.setup_error and "not found" in failed.error
    done = worker.run(WorkUnit("a.mp4", "video", media / "a.mp4", tmp_path / "staged" / "a.mp4", FPS))
    assert done.ok and done.frames == FPS and done.load_seconds == 0.0  # the model was loaded once


def test_a_worker_whose_nets_differ_from_the_plan_refuses_to_run(tmp_path, media):
    """A node with other nets would write other pictures under the plan's fingerprint."""
    from livestyle.pipeline.batch_plan import WorkUnit, net_digests
    from livestyle.pipeline.batch_worker import BatchWorker, WorkerSettings

    options = {"style": "mosaic", "streaming": True}
    planned = dict(net_digests(options), **{"mosaic/net": "0" * 64})
    worker = BatchWorker(WorkerSettings(options, {"style": "mosaic"}, nets=planned))
    result = worker.run(WorkUnit("photo.png", "image", media / "photo.png", tmp_path / "photo.png", 1))
    assert result.setup_error and "differ" in result.error and "(mosaic/net)" in result.error
    same = BatchWorker(WorkerSettings(options, {"style": "mosaic"}, nets=net_digests(options)))
    assert same.run(WorkUnit("photo.png", "image", media / "photo.png", tmp_path / "photo.png", 1)).ok


def test_the_fingerprint_follows_content_not_names(tmp_path):
    from livestyle.pipeline.batch_plan import fingerprint, picture_facts

    painting = tmp_path / "painting.png"
    cv2.imwrite(str(painting), texture(5)[:32, :32])
    base = fingerprint(picture_facts({"style_images": [str(painting)]}))
    moved = tmp_path / "moved.png"
    shutil.copy(painting, moved)
    assert fingerprint(picture_facts({"style_images": [str(moved)]})) == base  # same painting
    cv2.imwrite(str(painting), texture(6)[:32, :32])
    assert fingerprint(picture_facts({"style_images": [str(painting)]})) != base  # repainted
    assert fingerprint(picture_facts({"style": "mosaic"})) != fingerprint(picture_facts({"style": "candy"}))
    assert (fingerprint(picture_facts({"style": "mosaic", "model": "full"}))
            != fingerprint(picture_facts({"style": "mosaic"})))


@pytest.fixture
def failing_ray_init(monkeypatch):
    """``ray.init`` that fails as Ray does, recording what it was asked and the environment then."""
    seen = {}

    def init(**kwargs):
        seen.update(kwargs, env={k: os.environ.get(k) for k in
                                 ("RAY_TMPDIR", "RAY_AUTH_MODE", "RAY_AUTH_TOKEN_PATH", "RAY_AUTH_TOKEN")})
        raise ConnectionError("Failed to connect to Ray cluster\nand pages more")

    monkeypatch.setattr(ray, "init", init)
    return seen


def test_a_private_instance_that_cannot_start_says_so_and_leaves_nothing(failing_ray_init, monkeypatch):
    from livestyle.pipeline.cluster import ClusterError, ClusterSettings, ray_session

    base = Path(tempfile.mkdtemp(prefix="lsb", dir="/tmp"))  # short: Ray's socket paths have a limit
    try:
        monkeypatch.setenv("RAY_TMPDIR", str(base))
        monkeypatch.setenv("RAY_AUTH_TOKEN", "the user's own")
        monkeypatch.delenv("RAY_AUTH_MODE", raising=False)
        monkeypatch.delenv("RAY_AUTH_TOKEN_PATH", raising=False)
        with pytest.raises(ClusterError) as info:
            with ray_session(ClusterSettings()):
                pass
        assert str(info.value) == "cannot start a local Ray instance: Failed to connect to Ray cluster"
        private = Path(failing_ray_init["_temp_dir"])
        assert private.parent == base and failing_ray_init["env"] == {
            "RAY_TMPDIR": str(private), "RAY_AUTH_MODE": "token",
            "RAY_AUTH_TOKEN_PATH": str(private / "auth_token"), "RAY_AUTH_TOKEN": None}
        # the user's settings are back, and the private folder is gone
        assert os.environ["RAY_TMPDIR"] == str(base) and os.environ["RAY_AUTH_TOKEN"] == "the user's own"
        assert "RAY_AUTH_MODE" not in os.environ and "RAY_AUTH_TOKEN_PATH" not in os.environ
        assert not any(base.iterdir())
    finally:
        shutil.rmtree(base, ignore_errors=True)


def test_a_cluster_that_refuses_the_driver_says_it_was_joining(failing_ray_init, monkeypatch):
    from livestyle.pipeline.cluster import ClusterError, ClusterSettings, ray_session

    monkeypatch.delenv("RAY_AUTH_MODE", raising=False)
    monkeypatch.setenv("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")  # batch sets it for loopback; undone after
    with socket.socket() as listener:  # something answers at the address, as a head would
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        address = "127.0.0.1:%d" % listener.getsockname()[1]
        with pytest.raises(ClusterError) as info:
            with ray_session(ClusterSettings(address)):
                pass
    assert str(info.value).startswith(f"cannot connect to the Ray cluster at {address}: Failed to connect "
                                      f"to Ray cluster (if the cluster uses token authentication: set "
                                      f"RAY_AUTH_MODE=token")
    assert failing_ray_init["address"] == address and "_temp_dir" not in failing_ray_init


def test_chunks_are_cut_at_keyframes_with_the_short_tail_merged():
    from livestyle.pipeline.chunks import drop_short_tail, plan_chunks, warmup_frames

    tb = Fraction(1, 12288)
    keys = [k * 6144 for k in range(12)]   # a keyframe every half second, 6 s
    spans = drop_short_tail(plan_chunks(keys, 0, tb, 2.0), 12 * 6144, 2.0)
    assert [(s.start_pts, s.end_pts) for s in spans] == [(0, 24576), (24576, 49152), (49152, None)]
    spans = drop_short_tail(plan_chunks(keys, 0, tb, 2.5), 12 * 6144, 2.5)
    assert [(s.start_pts, s.end_pts) for s in spans] == [(0, 30720), (30720, None)]  # 1 s tail merged
    assert warmup_frames(0.0) == 0 and warmup_frames(0.8) == 28 and warmup_frames(1.0) == float("inf")


def test_help_shows_the_cluster_options(capsys):
    with pytest.raises(SystemExit):
        main(["batch", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    for option in ("--ray ADDRESS", "--workers", "--gpus-per-worker", "--chunk-seconds", "--crf", "--preset"):
        assert option in text
    assert "(default: 60.0)" in text and "(default: None)" not in text
