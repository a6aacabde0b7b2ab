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
import socket
import sys
from dataclasses import dataclass

from ..errors import ClusterError

RAY_MISSING = "livestyle batch runs on Ray, which is not installed: pip install 'livestyle[cluster]'"
LOOPBACK = "127.0.0.1"


# One worker per core, though a video worker runs decoding, encoding and the optical flow on
# threads beside the net: on this 2-core machine, quiet, two workers stylised the same 600 frames
# in 65.8 s and one in 75.9 s (docs/scaling.md); while one waits on its video, the other's net runs.
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
        raise ClusterError(f"no Ray cluster answers at {address} ({reason} after at most {timeout:g} s); "
                           f"start one with 'ray start --head' there, or leave out --ray to run on this "
                           f"machine") from None


def connect(settings: ClusterSettings):
    """Start a private Ray instance on this machine, or join the cluster at ``settings.address``.

    The private instance listens on 127.0.0.1 only and sends no usage statistics: a batch on one
    machine needs no network. Returns the ``ray`` module, initialised.
    """
    address = settings.address
    local = _is_local(address)
    if local or _is_loopback((_host_port(address) or ("",))[0]):
        _keep_to_loopback()
    if local:
        os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
        # Ray starts workers at nice 15 by default, so that on a shared node its own daemons stay
        # responsive. A private instance's workers are this command's work, and should get the
        # CPU a 'livestyle video' run would get (read by the raylet this process starts).
        os.environ.setdefault("RAY_worker_niceness", "0")
    if not local:
        probe(address, settings.connect_timeout)
    ray = import_ray()
    kwargs = dict(logging_level=logging.ERROR, log_to_driver=False, configure_logging=True)
    if local:
        # A one-core machine still gets its one worker.
        cpus = max(os.cpu_count() or 1, math.ceil(settings.cpus_per_worker))
        if settings.workers:
            # Workers asked for explicitly run even where they outnumber the cores.
            cpus = max(cpus, math.ceil(settings.workers * settings.cpus_per_worker))
        kwargs.update(address="local", num_cpus=cpus, include_dashboard=False, _node_ip_address=LOOPBACK)
    else:
        host = (_host_port(address) or ("",))[0]
        kwargs.update(address=address, **({"_node_ip_address": LOOPBACK} if _is_loopback(host) else {}))
    try:
        ray.init(**kwargs)
    except Exception as exc:  # Ray raises ConnectionError, RuntimeError, its own types...
        first = first_line(exc)
        if local and "timed out" in first:
            # Ray gives a new node's raylet a fixed 30 s to register, which a machine busy with
            # other work can miss.
            first += " (this machine may be too busy; try again when it is quieter)"
        raise ClusterError(f"cannot start Ray on {address or 'this machine'}: {first}") from exc
    return ray


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
