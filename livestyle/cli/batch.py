"""``livestyle batch INPUT... -o OUTDIR``: stylise folders of videos and images on Ray, on this
machine or on a cluster, resuming where an earlier run stopped."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..argtypes import non_negative_float, positive_float, positive_int
from ..pipeline.cluster import DEFAULT_CPUS_PER_WORKER
from . import video
from .common import add_overwrite, add_stylizer_options, stylizer_options

DEFAULT_CHUNK_SECONDS = 60.0


def add_parser(p: argparse.ArgumentParser) -> None:
    p.add_argument("inputs", nargs="+", type=Path, metavar="INPUT",
                   help="video and image files, and folders of them (searched recursively)")
    p.add_argument("-o", "--output", type=Path, required=True, metavar="OUTDIR",
                   help="folder for the results, each under its input's name (made if missing)")
    add_overwrite(p, "files in OUTDIR under a result's name that no batch wrote")
    add_stylizer_options(p)
    video.add_encoding_options(p.add_argument_group("video"))
    g = p.add_argument_group("cluster")
    g.add_argument("--ray", metavar="ADDRESS",
                   help="Ray cluster to run on: HOST:PORT of its head (ray start --head --port PORT), "
                        "ray://HOST:10001 (Ray Client) or auto (the cluster this machine is part of). "
                        "Unset or 'local': a private Ray instance on this machine, on 127.0.0.1 only")
    g.add_argument("--workers", type=positive_int,
                   help="stylizers running at once (unset: as many as the cluster has room for)")
    g.add_argument("--cpus-per-worker", type=positive_float, default=DEFAULT_CPUS_PER_WORKER, metavar="C",
                   help="CPUs each worker reserves; unset --workers runs one worker per C CPUs")
    g.add_argument("--gpus-per-worker", type=non_negative_float, default=0.0, metavar="G",
                   help="GPUs each worker reserves (0.5: two workers share a GPU); 0 = CPU workers")
    g.add_argument("--chunk-seconds", type=non_negative_float, default=DEFAULT_CHUNK_SECONDS, metavar="S",
                   help="videos at least twice this long are cut at keyframes into pieces of about "
                        "this length that run in parallel; 0 = never cut")
    g.add_argument("--connect-timeout", type=positive_float, default=10.0, metavar="S",
                   help="seconds to wait for the cluster at --ray to answer")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")


def run(args: argparse.Namespace) -> int:
    from ..pipeline.batch import run_batch, worker_settings
    from ..pipeline.batch_plan import planned_job
    from ..pipeline.cluster import ClusterSettings, require_ray

    require_ray()  # before looking at any file: without Ray nothing else matters
    video = stylizer_options(args, streaming=True)
    image = stylizer_options(args, streaming=False)
    encoding = dict(codec=args.codec, crf=args.crf, preset=args.preset, batch=args.batch)
    cluster = ClusterSettings(args.ray, args.workers, args.cpus_per_worker, args.gpus_per_worker,
                              args.connect_timeout)
    with planned_job(args.inputs, args.output, {**video, **encoding}, args.chunk_seconds,
                     args.overwrite) as (plan, records):
        report = run_batch(plan, records, cluster, worker_settings(video, image, **encoding),
                           progress=not args.no_progress)
    for notice in report.notices:
        print(f"livestyle batch: note: {notice}", file=sys.stderr)
    done = f"wrote {len(report.written)} file(s)"
    if report.written:
        rate = report.frames / report.seconds if report.seconds else 0.0
        done += (f" ({report.frames} frames in {report.seconds:.1f} s, {report.start_seconds:.1f} s of it to start "
                 f"Ray; {rate:.1f} frames/s on {report.workers} worker(s))")
    done += f" to {args.output}"
    if report.skipped:
        done += f"; {len(report.skipped)} already complete, left as they were"
    print(done)
    if report.failed:
        print(f"livestyle batch: {len(report.failed)} file(s) failed:", file=sys.stderr)
        for path, reason in report.failed:
            print(f"  {path}: {reason}", file=sys.stderr)
        return 1
    return 0
