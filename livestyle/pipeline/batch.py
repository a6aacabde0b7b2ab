"""``livestyle batch`` on Ray: many videos and images through stylizers held by Ray actors.

Each worker is an actor that builds its stylizer once and then takes one piece of work after
another (an image, a video, or a chunk of a long one, see ``chunks.py``); the driver hands out the
pieces longest first, keeps one bar of frames done, and turns the pieces' results into the final
files: checked, moved into place with an atomic rename, and recorded as complete
(``batch_plan.py``). Ray restarts a worker process that dies and runs its piece again
(``max_restarts``/``max_task_retries``); a piece writes only under its staged name, so running it
twice is harmless. Starting or joining Ray is ``cluster.py``'s.

Nothing is printed here: the bar goes through tqdm, and what happened comes back as a
:class:`BatchReport` for the CLI to print.
"""

from __future__ import annotations

import os
import time
import uuid
from dataclasses import dataclass, field, replace
from pathlib import Path

from ..errors import LivestyleError, OutputError
from .batch_plan import BatchPlan, FilePlan, Records, WorkUnit
from .batch_worker import FAULT_ENV, BatchWorker, UnitResult, WorkerSettings
from .chunks import count_frames, join_chunks
from .cluster import ClusterError, ClusterSettings, first_line, ray_session, worker_count

# How often a dead worker is restarted, and its piece retried, before the piece counts as failed.
MAX_RESTARTS = 3
POLL_S = 0.5


@dataclass
class BatchReport:
    written: list[tuple[Path, int]] = field(default_factory=list)   # output, frames
    skipped: list[Path] = field(default_factory=list)               # outputs that were complete
    failed: list[tuple[Path, str]] = field(default_factory=list)    # input, reason
    notices: list[str] = field(default_factory=list)
    frames: int = 0
    seconds: float = 0.0          # all of it, Ray's start included
    start_seconds: float = 0.0    # starting Ray or joining the cluster
    workers: int = 0
    model_load_seconds: list[float] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.failed


# -- actors --------------------------------------------------------------------------------------


class ProgressBoard:
    """Frames done per piece, as the workers report them. Kept as the most seen, so a piece that is
    retried after its worker died does not move the bar backwards."""

    def __init__(self):
        self.done: dict[str, int] = {}

    def report(self, key: str, frames: int) -> None:
        if frames > self.done.get(key, 0):
            self.done[key] = frames

    def total(self) -> int:
        return sum(self.done.values())


class _ActorWorker(BatchWorker):
    def __init__(self, settings: WorkerSettings, board_name: str):
        import ray

        # The board is looked up by name rather than passed in: a restarted actor gets its
        # constructor arguments again, and an actor handle among them would have to outlive
        # the driver's reference to it (Ray warns about exactly that).
        board = ray.get_actor(board_name)
        super().__init__(settings, report=lambda key, frames: board.report.remote(key, frames))


def start_workers(ray, settings: ClusterSettings, worker_settings: WorkerSettings, count: int):
    name = f"livestyle-batch-progress-{uuid.uuid4().hex[:12]}"
    board = ray.remote(num_cpus=0)(ProgressBoard).options(name=name).remote()
    actor = ray.remote(_ActorWorker).options(
        num_cpus=settings.cpus_per_worker, num_gpus=settings.gpus_per_worker,
        max_restarts=MAX_RESTARTS, max_task_retries=MAX_RESTARTS)
    return board, [actor.remote(worker_settings, name) for _ in range(count)]


# -- the run -------------------------------------------------------------------------------------


def worker_settings(video_options: dict, image_options: dict, **encoding) -> WorkerSettings:
    return WorkerSettings(video_options, image_options, fault=os.environ.get(FAULT_ENV) or None, **encoding)


def run_batch(plan: BatchPlan, records: Records, settings: ClusterSettings, worker: WorkerSettings,
              progress: bool = True) -> BatchReport:
    """Stylise everything ``plan`` holds on Ray; returns what was written, skipped and failed."""
    report = BatchReport(skipped=[plan.output_dir / s.relative for s in plan.skipped],
                         failed=[(s.path, reason) for s, reason in plan.unreadable], notices=list(plan.notices))
    t0 = time.perf_counter()
    pending_joins = [f for f in plan.files if f.chunked and not f.units]
    units = [u for f in plan.files for u in f.units]
    if units:
        # The workers check that the nets they load are the ones the plan's records name.
        worker = replace(worker, nets=plan.nets)
        with ray_session(settings) as ray:
            report.start_seconds = time.perf_counter() - t0
            _Scheduler(ray, plan, records, settings, worker, report, progress).run(units)
    for file in pending_joins:  # every chunk was done by an earlier run that stopped before the join
        _finish_file(file, records, report, {})
    report.seconds = time.perf_counter() - t0
    return report


class _Scheduler:
    def __init__(self, ray, plan: BatchPlan, records: Records, settings: ClusterSettings,
                 worker: WorkerSettings, report: BatchReport, progress: bool):
        self.ray, self.plan, self.records, self.settings = ray, plan, records, settings
        self.worker, self.report, self.progress = worker, report, progress
        self.file_of: dict[str, FilePlan] = {u.key: f for f in plan.files for u in f.units}
        self.open_units: dict[int, set[str]] = {id(f): {u.key for u in f.units} for f in plan.files}
        self.results: dict[int, dict[str, UnitResult]] = {id(f): {} for f in plan.files}
        self.failed_files: set[int] = set()

    def run(self, units: list[WorkUnit]) -> None:
        from tqdm import tqdm

        ray = self.ray
        count, note = worker_count(ray, self.settings, len(units))
        if note:
            self.report.notices.append(note)
        self.report.workers = count
        board, actors = start_workers(ray, self.settings, self.worker, count)
        # Longest first: the last pieces to finish are short ones, so workers run out together.
        queue = sorted(units, key=lambda u: -u.frames)
        in_flight: dict = {}
        bar = tqdm(total=self.plan.frames, unit="frame", desc="batch", disable=not self.progress,
                   dynamic_ncols=True, smoothing=0.1)
        try:
            for actor in actors:
                self._submit(actor, queue, in_flight)
            while in_flight:
                ready, _ = ray.wait(list(in_flight), num_returns=1, timeout=POLL_S)
                for ref in ready:
                    actor, unit = in_flight.pop(ref)
                    result, alive = self._result(ref, unit)
                    self._take(unit, result)
                    if alive:
                        self._submit(actor, queue, in_flight)
                    else:
                        actors.remove(actor)
                if not actors:
                    for unit in queue:
                        self._take(unit, UnitResult(unit.key, error="every worker died and Ray gave up "
                                                                    "restarting them; see the Ray logs"))
                    break
                self._show(bar, board)
            self._show(bar, board)
        finally:
            bar.close()
            for actor in actors:
                ray.kill(actor, no_restart=True)

    def _submit(self, actor, queue: list[WorkUnit], in_flight: dict) -> None:
        while queue:
            unit = queue.pop(0)
            if id(self.file_of[unit.key]) in self.failed_files:
                continue  # another piece of this file failed: the file cannot be completed
            in_flight[actor.run.remote(unit)] = (actor, unit)
            return

    def _result(self, ref, unit: WorkUnit) -> tuple[UnitResult, bool]:
        try:
            return self.ray.get(ref), True
        except self.ray.exceptions.RayActorError as exc:
            return UnitResult(unit.key, error=f"its worker died {MAX_RESTARTS + 1} times "
                                              f"({first_line(exc)})"), False
        except self.ray.exceptions.RayError as exc:
            return UnitResult(unit.key, error=first_line(exc)), True

    def _take(self, unit: WorkUnit, result: UnitResult) -> None:
        file = self.file_of[unit.key]
        if result.setup_error:
            raise _setup_error(result.error)
        if result.load_seconds:
            self.report.model_load_seconds.append(result.load_seconds)
        self.report.notices += [f"{file.source.path.name}: {n}" for n in result.notices]
        if id(file) in self.failed_files:
            return
        if not result.ok:
            self.failed_files.add(id(file))
            self.report.failed.append((file.source.path, result.error))
            return
        if unit.kind == "chunk":
            self.records.save_chunk(file.source, unit)
        self.results[id(file)][unit.key] = result
        self.open_units[id(file)].discard(unit.key)
        if not self.open_units[id(file)]:
            _finish_file(file, self.records, self.report, self.results[id(file)])

    def _show(self, bar, board) -> None:
        try:
            done = self.ray.get(board.total.remote(), timeout=5)
        except Exception:  # noqa: BLE001 - a slow answer only delays the bar
            return
        done = min(done, bar.total)
        if done > bar.n:
            bar.update(done - bar.n)


def _finish_file(file: FilePlan, records: Records, report: BatchReport, results: dict[str, UnitResult]) -> None:
    """Check a file's staged result (joining its chunks first), move it to its final name and
    record it as complete; a failure is the file's, not the batch's."""
    try:
        staged = _join(file) if file.chunked else file.units[0].staged
        frames = count_frames(staged) if file.source.kind == "video" else 1
        expected = sum(r.frames for r in results.values()) if not file.chunked else None
        if expected is not None and frames != expected:
            raise OutputError(f"the stylised file holds {frames} frames, the worker wrote {expected}")
        file.output.parent.mkdir(parents=True, exist_ok=True)
        os.replace(staged, file.output)
        records.save_done(file.source, file.output, frames)
        if file.chunked:
            records.forget_chunks(file.source)
    except (LivestyleError, OSError) as exc:
        report.failed.append((file.source.path, str(exc)))
        return
    report.written.append((file.output, frames))
    report.frames += frames


def _join(file: FilePlan) -> Path:
    staged = file.staged
    staged.parent.mkdir(parents=True, exist_ok=True)
    tmp = staged.with_name(f".{staged.name}.joining{staged.suffix}")
    try:
        join_chunks([(u.staged, u.span) for u in file.chunks], file.source.path, tmp, file.rotation)
        os.replace(tmp, staged)
    finally:
        tmp.unlink(missing_ok=True)
    return staged


def _setup_error(message: str) -> LivestyleError:
    return ClusterError(f"the workers cannot build the stylizer: {message}")
