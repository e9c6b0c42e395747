"""The supervisor's work on runs: start queued ones on free GPUs, follow running ones, stop.

Every step is driven by what the rows say, so a restarted supervisor simply carries on:
output is consumed from the byte offsets saved in the row, in the same transaction as the
progress and metrics derived from it, so nothing is parsed twice or skipped.
"""
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path

from flask import current_app
from sqlalchemy import select

from portal.extensions import db
from portal.runs import artifacts, metrics
from portal.runs.models import Run
from portal.runs.services import launch_env, log_event, output_in_place, run_folder
from portal.supervisor import gpus as gpu_probe
from portal.supervisor import on_tick
from portal.supervisor import executors
from portal.supervisor.executors.base import LaunchError, LaunchSpec
from portal.supervisor.logparse import Metrics, OutputParser, Progress, TrainerLogParser
from portal.timeutil import as_utc, utcnow

log = logging.getLogger("portal.runs")
READ_LIMIT = 4 * 1024 * 1024  # per run per tick, so one chatty run cannot starve the others
ARTIFACT_SCAN_SECONDS = 30.0


@dataclass
class Followed:
    """In-memory state for one run; rebuilt from the row after a restart."""
    output: OutputParser
    trainer_log: TrainerLogParser
    scanned_at: float = 0.0


@dataclass
class RunsState:
    followed: dict[int, Followed] = field(default_factory=dict)


def _complete(data: bytes) -> int:
    """Bytes of `data` up to its last line end (\\n or \\r): the parsers see whole segments only."""
    return max(data.rfind(b"\n"), data.rfind(b"\r")) + 1


def _apply(run: Run, events) -> None:
    points = []
    for event in events:
        if isinstance(event, Progress) and event.total:
            run.step, run.total_steps = event.n, event.total
            # the parser hands over from loading bars to the training bar, so the latest bar wins
            run.progress = min(1.0, max(0.05, event.n / event.total))
            run.eta_seconds = event.eta_seconds
        elif isinstance(event, Metrics):
            points.append((event.step, event.values))
    metrics.record_many(run, points)  # one INSERT per batch: a chatty run costs one statement


def _ingest(run: Run, followed: Followed, final: bool = False) -> bool:
    """Copy new output (when the executor keeps it elsewhere) and parse it. True if anything was new.

    While the run goes, only whole lines are parsed; `final` also takes a last unterminated one.
    """
    executor = executors.get(run.executor)
    host_log = run_folder(run) / "output.log"
    if output_in_place(run):
        run.output_bytes = host_log.stat().st_size if host_log.exists() else 0
    else:
        chunk = executor.read_output(run.handle, run.output_bytes, READ_LIMIT)
        if chunk:
            host_log.parent.mkdir(parents=True, exist_ok=True)
            with open(host_log, "ab") as out:
                out.truncate(run.output_bytes)  # drop bytes a crash left past the recorded offset
                out.write(chunk)
            run.output_bytes += len(chunk)
    new = False
    if run.parsed_bytes < run.output_bytes:
        with open(host_log, "rb") as src:
            src.seek(run.parsed_bytes)
            data = src.read(min(READ_LIMIT, run.output_bytes - run.parsed_bytes))
        used = len(data) if final else _complete(data)
        _apply(run, followed.output.feed(data[:used]) + (followed.output.flush() if final else []))
        run.parsed_bytes += used
        new = used > 0
    trainer_log = str(Path(run.output_dir) / "trainer_log.jsonl")
    data = executor.read_file(run.handle, trainer_log, run.trainer_log_bytes, READ_LIMIT)
    used = len(data) if final else data.rfind(b"\n") + 1
    if used:
        _apply(run, followed.trainer_log.feed(data[:used]) + (followed.trainer_log.flush() if final else []))
        run.trainer_log_bytes += used
        new = True
    return new


def _end(run: Run, status: str, exit_code: int | None, message: str, level: str = "info") -> None:
    run.status, run.exit_code, run.ended_at, run.eta_seconds = status, exit_code, utcnow(), None
    if status == "succeeded":
        run.progress = 1.0
    log_event(run, message, level)


def _stop(run: Run, executor) -> None:
    now = utcnow()
    if run.stop_sent_at is None:
        executor.signal(run.handle, run.stop_signal)
        run.stop_sent_at = now
        log_event(run, f"sent {run.stop_signal} to the run's process group")
    elif not run.handle.get("killed") and (now - as_utc(run.stop_sent_at)).total_seconds() >= run.grace_seconds:
        executor.signal(run.handle, "SIGKILL")
        run.handle = {**run.handle, "killed": True}
        log_event(run, f"still running {run.grace_seconds}s after {run.stop_signal}: sent SIGKILL", "warning")


def follow(run: Run, state: RunsState) -> None:
    """One tick of a started run: output, stop requests, exit."""
    if run.handle is None:  # the portal died between marking it starting and recording the launch
        _end(run, "lost", None, "the portal stopped while launching this run; it is not launched again",
             "error")
        return
    executor = executors.get(run.executor)
    followed = state.followed.get(run.id)
    if followed is None:
        followed = state.followed[run.id] = Followed(OutputParser(), TrainerLogParser())
    _ingest(run, followed)
    if run.status == "stopping":
        _stop(run, executor)
    result = executor.poll(run.handle)
    if result.state == "running":
        if run.status == "starting":
            run.status = "running"
    else:
        while _ingest(run, followed, final=True):  # everything it wrote before it ended
            pass
        stopped = run.stop_requested_at is not None
        if result.state == "exited":
            if stopped:
                _end(run, "cancelled", result.exit_code, f"stopped; exit code {result.exit_code}")
            elif result.exit_code == 0:
                _end(run, "succeeded", 0, "finished with exit code 0")
            else:
                _end(run, "failed", result.exit_code, f"failed with exit code {result.exit_code}", "error")
        elif stopped and run.handle.get("killed"):
            _end(run, "cancelled", -9, "killed with SIGKILL")
        else:
            _end(run, "lost", None, f"lost: {result.detail}", "error")
        state.followed.pop(run.id, None)
    now = time.monotonic()
    if not run.active or now - followed.scanned_at >= ARTIFACT_SCAN_SECONDS:
        followed.scanned_at = now
        artifacts.scan(run, executor)


def _launch(run: Run) -> None:
    executor = executors.get(run.executor)
    spec = LaunchSpec(run_id=run.id, folder=run.folder, argv=list(run.argv), workdir=run.workdir,
                      env=launch_env(run), output_dir=run.output_dir, container=run.container)
    try:
        run.handle = executor.launch(spec)
    except LaunchError as error:
        _end(run, "failed", None, f"failed to start: {error}", "error")
        return
    run.status, run.started_at, run.status_reason = "running", utcnow(), ""
    run.progress = max(run.progress, 0.05)
    where = f" in container {run.container}" if run.container else ""
    gpus = f" on GPUs {', '.join(run.gpus)}" if run.gpus else ""
    log_event(run, f"started{where}{gpus} (pid {run.handle.get('pid')})")


def start_queued() -> None:
    """First come, first served: a run that cannot get its GPUs holds back later GPU runs."""
    settings = current_app.config["PORTAL"]
    host = [g.uuid for g in gpu_probe.probe(settings.fake_gpus)]
    busy = {u for r in db.session.scalars(select(Run).where(Run.status.in_(("starting", "running", "stopping"))))
            for u in r.gpus or []}
    free = [u for u in host if u not in busy]
    blocked_by = None
    for run in db.session.scalars(select(Run).filter_by(status="queued").order_by(Run.id)).all():
        if run.gpu_count > len(host):
            _end(run, "failed", None, f"asks for {run.gpu_count} GPUs; this host has {len(host)}", "error")
        elif run.gpu_count and blocked_by is not None:
            run.status_reason = f"waiting behind run {blocked_by}"
        elif run.gpu_count > len(free):
            run.status_reason = f"waiting for {run.gpu_count} GPUs; {len(free)} free"
            blocked_by = run.id
        else:
            run.gpus, free = free[:run.gpu_count], free[run.gpu_count:]
            run.status = "starting"
            db.session.commit()  # recorded before the launch, so a crash never launches it twice
            _launch(run)
        db.session.commit()


@on_tick
def supervise_runs(supervisor) -> None:
    state = supervisor.__dict__.setdefault("runs_state", RunsState())
    active = db.session.scalars(select(Run).where(Run.status.in_(("starting", "running", "stopping")))
                                .order_by(Run.id)).all()
    for run in active:
        try:
            follow(run, state)
            db.session.commit()
        except Exception:
            log.exception("following run %s failed", run.id)
            db.session.rollback()
    start_queued()
