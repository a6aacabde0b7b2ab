"""Ray for ``livestyle batch``: found, started on this machine or joined, and asked how many
workers fit.

Ray is the engine, not a dependency of the rest of livestyle: it is imported here, late, and only
when a batch runs (``pip install 'livestyle[cluster]'``). This module imports nothing heavy, so
the command line can read its defaults without loading video or model code.
"""

from __future__ import annotations

import importlib.util
import ipaddress
import logging
import math
import os
import secrets
import shutil
import socket
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from ..errors import ClusterError

RAY_MISSING = "livestyle batch runs on Ray, which is not installed: pip install 'livestyle[cluster]'"
LOOPBACK = "127.0.0.1"


# One worker per core, though a video worker runs decoding, encoding and the optical flow on
# threads beside the net: while one worker waits on its video, another's net runs, so a worker
# per core finishes a folder sooner than fewer workers on the same cores (docs/scaling.md).
DEFAULT_CPUS_PER_WORKER = 1.0


@dataclass(frozen=True)
class ClusterSettings:
    address: str | None = None     # None or "local": a private instance on this machine
    workers: int | None = None     # None: as many as the cluster's resources allow
    cpus_per_worker: float = DEFAULT_CPUS_PER_WORKER
    gpus_per_worker: float = 0.0
    connect_timeout: float = 10.0


# -- Ray, imported late --------------------------------------------------------------------------


def require_ray() -> None:
    """Fail early, with the install command, where Ray is missing; without importing it (the
    import reads settings that :func:`connect` still has to make)."""
    if importlib.util.find_spec("ray") is None:
        raise ClusterError(RAY_MISSING)


def import_ray():
    try:
        import ray
    except ImportError:
        raise ClusterError(RAY_MISSING) from None
    return ray


def _keep_to_loopback() -> None:
    """Make the Ray processes started from here listen on 127.0.0.1 instead of every interface.

    Ray does that when it believes multi-node clusters are off (its Windows/macOS default),
    which it reads from this variable when ``ray`` is imported, here and in every Ray process
    started from here. If this process imported ray already, its copy of the flag is set too.
    """
    os.environ["RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"] = "0"
    constants = sys.modules.get("ray._private.ray_constants")
    if constants is not None:
        constants.ENABLE_RAY_CLUSTER = False


def _is_local(address: str | None) -> bool:
    return address in (None, "", "local")


def _host_port(address: str) -> tuple[str, int] | None:
    """``host:port`` or ``ray://host:port`` -> the pair; None for ``auto``."""
    if address == "auto":
        return None
    rest = address.removeprefix("ray://")
    host, sep, port = rest.rpartition(":")
    if not sep or not port.isdigit() or not host:
        raise ClusterError(f"--ray {address}: expected HOST:PORT, ray://HOST:PORT, auto or local")
    return host.strip("[]"), int(port)


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def probe(address: str, timeout: float) -> None:
    """A TCP connect to the cluster's port first: ``ray.init`` retries an address that does not
    answer for a long time, and says so in pages of log."""
    pair = _host_port(address)
    if pair is None:
        return
    try:
        socket.create_connection(pair, timeout=timeout).close()
    except OSError as exc:
        reason = "timed out" if isinstance(exc, socket.timeout) else (exc.strerror or str(exc)).lower()
        raise ClusterError(f"cannot connect to the Ray cluster at {address}: nothing answers there ({reason} "
                           f"after at most {timeout:g} s); start one with 'ray start --head' there, or "
                           f"leave out --ray to run on this machine") from None


@contextmanager
def ray_session(settings: ClusterSettings) -> Iterator:
    """Ray, initialised for one batch: a private instance started on this machine (``address``
    unset or 'local') or the cluster at ``settings.address``, joined. Yields the ``ray`` module;
    Ray is shut down when the block ends, and a private instance's folder removed."""
    if _is_local(settings.address):
        with _private_instance(settings) as ray:
            yield ray
        return
    ray = _join(settings)
    try:
        yield ray
    finally:
        ray.shutdown()


def _join(settings: ClusterSettings):
    """Join the cluster at ``settings.address`` with the user's own Ray settings (token included)."""
    address = settings.address
    host = (_host_port(address) or ("",))[0]
    if _is_loopback(host):
        _keep_to_loopback()
    probe(address, settings.connect_timeout)
    ray = import_ray()
    kwargs = dict(address=address, logging_level=logging.ERROR, log_to_driver=False, configure_logging=True)
    if _is_loopback(host):
        kwargs["_node_ip_address"] = LOOPBACK
    try:
        ray.init(**kwargs)
    except Exception as exc:  # Ray raises ConnectionError, RuntimeError, its own types...
        reason = first_line(exc)
        if os.environ.get(AUTH_MODE_ENV, "").lower() != "token":
            # A head that wants a token answers a driver without one only with "failed to connect".
            reason += (f" (if the cluster uses token authentication: set {AUTH_MODE_ENV}=token and "
                       f"{AUTH_TOKEN_PATH_ENV} to its token file, or {AUTH_TOKEN_ENV} to the token)")
        raise ClusterError(f"cannot connect to the Ray cluster at {address}: {reason}") from exc
    return ray


# Ray settings a private instance overrides while it runs, put back as they were afterwards.
AUTH_MODE_ENV, AUTH_TOKEN_PATH_ENV, AUTH_TOKEN_ENV = "RAY_AUTH_MODE", "RAY_AUTH_TOKEN_PATH", "RAY_AUTH_TOKEN"
PRIVATE_ENV = ("RAY_TMPDIR", AUTH_MODE_ENV, AUTH_TOKEN_PATH_ENV, AUTH_TOKEN_ENV, "RAY_USAGE_STATS_ENABLED",
               "RAY_worker_niceness", "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER")
# Ray's Unix sockets sit at <base>/lsray-XXXXXXXX/session_<date>_<time>_<pid>/sockets/plasma_store
# (79 bytes after <base> with a 7-digit pid) and a socket path holds at most 107 bytes (Ray
# refuses longer ones): a longer base folder falls back to /tmp.
MAX_TEMP_BASE = 28


@contextmanager
def _private_instance(settings: ClusterSettings) -> Iterator:
    """Start Ray on this machine with everything it writes in a folder of its own, removed after.

    Ray 2.60's ``ray.init()`` that starts a new instance turns token authentication on and, finding
    no token, writes a new one to ``~/.ray/auth_token``; a later ``ray start --head`` by the user
    finds that file and asks every client for the token. So this instance gets a token file in its
    own folder (``RAY_AUTH_TOKEN_PATH``), and its session, logs and sockets go there too
    (``_temp_dir``, and ``RAY_TMPDIR`` for the processes it starts): the user's home and Ray
    settings stay as they were. It listens on 127.0.0.1 only and sends no usage statistics.
    """
    folder = _private_folder()
    saved = {name: os.environ.get(name) for name in PRIVATE_ENV}
    ray = None
    try:
        token = folder / "auth_token"
        fd = os.open(token, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(secrets.token_hex(32))
        os.environ.update({"RAY_TMPDIR": str(folder), AUTH_MODE_ENV: "token", AUTH_TOKEN_PATH_ENV: str(token)})
        os.environ.pop(AUTH_TOKEN_ENV, None)  # it would win over the file
        os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
        # Ray starts workers at nice 15 by default, so that on a shared node its own daemons stay
        # responsive. A private instance's workers are this command's work, and should get the
        # CPU a 'livestyle video' run would get (read by the raylet this process starts).
        os.environ.setdefault("RAY_worker_niceness", "0")
        _keep_to_loopback()
        ray = import_ray()
        _reload_auth_settings()  # a ray imported earlier in this process read them already
        # A one-core machine still gets its one worker.
        cpus = max(os.cpu_count() or 1, math.ceil(settings.cpus_per_worker))
        if settings.workers:
            # Workers asked for explicitly run even where they outnumber the cores.
            cpus = max(cpus, math.ceil(settings.workers * settings.cpus_per_worker))
        try:
            ray.init(address="local", num_cpus=cpus, include_dashboard=False, _node_ip_address=LOOPBACK,
                     _temp_dir=str(folder), logging_level=logging.ERROR, log_to_driver=False,
                     configure_logging=True)
        except Exception as exc:  # Ray raises ConnectionError, RuntimeError, its own types...
            reason = first_line(exc)
            if "timed out" in reason:
                # Ray gives a new node's raylet a fixed 30 s to register, which a machine busy with
                # other work can miss.
                reason += " (this machine may be too busy; try again when it is quieter)"
            raise ClusterError(f"cannot start a local Ray instance: {reason}") from exc
        try:
            yield ray
        finally:
            ray.shutdown()
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        if ray is not None:
            _reload_auth_settings()  # before the token file goes: Ray reloads it in token mode
        _remove(folder)


def _private_folder() -> Path:
    base = os.environ.get("RAY_TMPDIR") or tempfile.gettempdir()
    if len(base) > MAX_TEMP_BASE:
        base = "/tmp"
    try:
        return Path(tempfile.mkdtemp(prefix="lsray-", dir=base))
    except OSError as exc:
        raise ClusterError(f"cannot start a local Ray instance: cannot make its folder in {base} "
                           f"({exc.strerror}); set RAY_TMPDIR to a writable folder") from exc


def _reload_auth_settings() -> None:
    """Make this process's Ray read its authentication settings from the environment again, as
    Ray's own tests do between settings (its config first, then its token cache)."""
    try:
        from ray._raylet import AuthenticationTokenLoader, Config
    except ImportError:  # a Ray without token authentication: nothing cached
        return
    Config.initialize("")
    AuthenticationTokenLoader.instance().reset_cache()


def _remove(folder: Path) -> None:
    """Remove the private instance's folder; its last processes may still be writing logs there
    for a moment after the shutdown."""
    for _ in range(10):
        shutil.rmtree(folder, ignore_errors=True)
        if not folder.exists():
            return
        time.sleep(0.3)


def worker_count(ray, settings: ClusterSettings, pieces: int) -> tuple[int, str | None]:
    """Workers that fit the cluster (a worker that does not fit would wait for ever), and a note
    when fewer than asked for."""
    resources = ray.cluster_resources()
    if settings.gpus_per_worker > 0:
        gpus = resources.get("GPU", 0.0)
        if gpus < settings.gpus_per_worker:
            raise ClusterError(f"--gpus-per-worker {settings.gpus_per_worker:g}: the cluster has "
                               f"{gpus:g} GPUs; use 0 for CPU workers")
        fit = int(gpus // settings.gpus_per_worker)
    else:
        fit = int(resources.get("CPU", 0.0) // settings.cpus_per_worker)
    if fit < 1:
        raise ClusterError(f"--cpus-per-worker {settings.cpus_per_worker:g}: the cluster has "
                           f"{resources.get('CPU', 0):g} CPUs")
    wanted = settings.workers or fit
    count = max(1, min(wanted, fit, pieces))
    note = None
    if settings.workers and settings.workers > fit:
        note = (f"the cluster has room for {fit} worker(s) of {settings.cpus_per_worker:g} CPU(s)"
                + (f" and {settings.gpus_per_worker:g} GPU(s)" if settings.gpus_per_worker else "")
                + f"; running {count}, not {settings.workers}")
    return count, note


def first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0][:300] if text else type(exc).__name__
