"""The supervisor's work on runs: place and launch queued ones, follow started ones, stop.

Every step is driven by what the rows say, so a restarted supervisor simply carries on:
output is consumed from the byte offsets saved in the row, in the same transaction as the
progress and metrics derived from it, so nothing is parsed twice or skipped. Executor calls
run in the supervisor's pool: one observation per executor per tick (`poll_many`, output
copies, file listings) whose result the tick applies, and each launch or signal on its own.
An external effect follows a fenced commit that records the intent (`starting`,
`stop_sent_at`), so a supervisor that lost the lease does not act at all.
"""
import logging
import time
from concurrent.futures import wait
from dataclasses import dataclass, field

from flask import current_app
from sqlalchemy import select

from portal.extensions import db
from portal.i18n import N_
from portal.runs import artifacts, metrics, snapshot
from portal.runs.cleanup import LIST_DEPTH as CHECKPOINT_DEPTH  # a checkpoint's size is its whole folder's
from portal.runs.gpu_usage import Sampler as GpuSampler
from portal.runs.models import STARTED, Run
from portal.runs.transitions import log_event, transition
from portal.supervisor import executors, handler, lease, placement
from portal.supervisor import gpus as gpu_probe
from portal.supervisor.executors.base import Executor, LaunchSpec, PollResult
from portal.supervisor.transition import reason
from portal.supervisor.logparse import Metrics, OutputParser, Phase, Progress, TrainerLogParser
from portal.supervisor.onevalue import OneValuePerStep
from portal.timeutil import as_utc, utcnow

log = logging.getLogger("portal.runs")
READ_LIMIT = 4 * 1024 * 1024  # per run per tick, so one chatty run cannot starve the others
FINAL_READ_LIMIT = 256 * 1024 * 1024  # what an ended run may still have to say, read at once
ARTIFACT_SCAN_SECONDS = 30.0
LAUNCH_SECONDS = 120.0  # a launch still in the pool after this fails its run (docker calls time out at 30 s)


@dataclass
class Followed:
    """In-memory state for one run; rebuilt from the row after a restart."""
    output: OutputParser = field(default_factory=OutputParser)
    trainer_log: TrainerLogParser = field(default_factory=TrainerLogParser)
    one_value: OneValuePerStep = field(default_factory=OneValuePerStep)  # of both, one value per key and step
    scanned_at: float = 0.0


@dataclass(frozen=True)
class Ask:
    """What the pool should find out about one run (a snapshot of its row)."""
    run_id: int
    handle: dict
    output_dir: str
    output_bytes: int  # copy output from here, when the executor does not write it in place
    trainer_log: str
    trainer_log_bytes: int
    scan: bool  # list its output dir for artifacts


@dataclass
class Seen:
    """What the pool found out about one run."""
    poll: PollResult
    output: bytes = b""
    trainer_log: bytes = b""
    files: list | None = None


def observe(executor: Executor, asks: list[Ask]) -> dict[int, Seen]:
    """In the pool: poll every run of one executor at once, then read what each wrote."""
    polls = executor.poll_many({ask.run_id: ask.handle for ask in asks})
    seen = {}
    for ask in asks:
        result = seen[ask.run_id] = Seen(polls[ask.run_id])
        ended = result.poll.state in ("exited", "lost")
        limit = FINAL_READ_LIMIT if ended else READ_LIMIT  # after the poll: all it wrote before it ended
        if not executor.output_in_place:
            result.output = executor.read_output(ask.handle, ask.output_bytes, limit)
        result.trainer_log = executor.read_file(ask.handle, ask.trainer_log, ask.trainer_log_bytes, limit)
        if ask.scan or ended:
            result.files = executor.list_files(ask.handle, ask.output_dir, max_depth=CHECKPOINT_DEPTH)
    return seen


def run_env(run: Run, executor: Executor) -> dict[str, str]:
    """The environment of a run: the executor's base, the project's variables, then ours (which win)."""
    env = {**executor.base_env(), **(run.env or {})}
    env.update({"PYTHONUNBUFFERED": "1", "LLAMABOARD_ENABLED": "1", "LLAMABOARD_WORKDIR": run.output_dir,
                "PORTAL_RUN_ID": str(run.id)})
    if executor.places_gpus:  # else the scheduler or the remote host decides what the run sees
        env["CUDA_VISIBLE_DEVICES"] = ",".join(run.gpus or [])
    return env


def launch(run_id: int) -> None:
    """In the pool (app context, fenced): start a `starting` run and record its handle.

    The lease is checked right before the launch; if it is lost after, the commit is refused
    and the just-started process is killed, as nobody could follow it.
    """
    run = db.session.get(Run, run_id)
    if run is None or run.status not in ("starting", "stopping") or run.handle is not None:
        return
    if not lease.may_act():
        log.warning("not launching run %s: this supervisor lost the lease", run_id)
        return
    executor = executors.get(run.executor)
    spec = LaunchSpec(run_id=run.id, folder=run.folder, argv=list(run.argv), workdir=run.workdir,
                      env=run_env(run, executor), output_dir=run.output_dir, container=run.container,
                      gpu_count=run.gpu_count)
    snapshot.complete(run, spec.env)  # committed with the launch's transition below
    try:
        handle = executor.launch(spec)
    except Exception as error:  # whatever the reason, the run says it and the tick goes on
        transition(run, "failed", STARTED, N_("failed to start: %(error)s", error=str(error)), "error", progress=0.0)
        db.session.commit()
        return
    started = {"handle": handle, "started_at": utcnow(), **reason(""), "progress": max(run.progress, 0.05)}
    with lease.recorded_or_undone(lambda: executor.signal(handle, "SIGKILL"), f"the run {run_id}"):
        to = "starting" if executor.queues else "running"
        won = transition(run, to, ("starting",), _launched(run, executor, handle), **started)
        if not won and run.status == "stopping":  # a stop came while it launched: it is signalled next tick
            for key, value in started.items():
                setattr(run, key, value)
            log_event(run, _launched(run, executor, handle, stopping=True))
        elif not won:  # the run ended meanwhile (its launch outlived LAUNCH_SECONDS): nobody would follow it
            executor.signal(handle, "SIGKILL")
            log_event(run, N_("killed what the late launch started (%(handle)s)", handle=executor.describe(handle)),
                      "warning")


def _launched(run: Run, executor: Executor, handle: dict, stopping: bool = False) -> dict:
    """The launch event: what was started (or submitted to a scheduler), where, on which GPUs."""
    what = {"handle": executor.describe(handle), "container": run.container, "gpus": ", ".join(run.gpus)}
    if stopping:
        return N_("started (%(handle)s) while a stop was requested", **what)
    if executor.queues:
        return N_("submitted (%(handle)s)", **what)
    if run.container and run.gpus:
        return N_("started in container %(container)s on GPUs %(gpus)s (%(handle)s)", **what)
    if run.container:
        return N_("started in container %(container)s (%(handle)s)", **what)
    if run.gpus:
        return N_("started on GPUs %(gpus)s (%(handle)s)", **what)
    return N_("started (%(handle)s)", **what)


def _set_reason(run: Run, message) -> None:
    """Say why a run waits (or where it runs), written only when it changed."""
    fields = reason(message)
    if (run.status_reason, run.status_reason_i18n) != (fields["status_reason"], fields["status_reason_i18n"]):
        run.status_reason, run.status_reason_i18n = fields["status_reason"], fields["status_reason_i18n"]


def send_signal(run_id: int, executor_name: str, handle: dict, signame: str) -> None:
    """In the pool: signal a run whose intent to do so was committed; a failure is logged on the run."""
    try:
        executors.get(executor_name).signal(handle, signame)
    except Exception as error:
        run = db.session.get(Run, run_id)
        log_event(run, N_("could not send %(signal)s: %(error)s", signal=signame, error=str(error)), "error")
        db.session.commit()


def _complete(data: bytes) -> int:
    """Bytes of `data` up to its last line end (\\n or \\r): the parsers see whole segments only."""
    return max(data.rfind(b"\n"), data.rfind(b"\r")) + 1


def _apply(run: Run, events) -> None:
    points = []
    for event in events:
        if isinstance(event, Phase):
            run.phase = event.name
        elif isinstance(event, Progress) and event.total:
            run.step, run.total_steps, run.phase = event.n, event.total, ""
            # the parser hands over from loading bars to the training bar, so the latest bar wins
            run.progress = min(1.0, max(0.05, event.n / event.total))
            run.eta_seconds = event.eta_seconds
        elif isinstance(event, Metrics):
            points.append((event.step, {**event.values, **event.nonfinite}))  # record_many stores finite ones
    metrics.record_many(run, points)  # one INSERT per batch: a chatty run costs one statement


def _ingest(run: Run, executor: Executor, followed: Followed, seen: Seen, final: bool) -> None:
    """Take in what the run wrote: output (copied here unless written in place) and trainer_log.jsonl.

    While the run goes, only whole lines are parsed; `final` also takes a last unterminated one.
    """
    host_log = executor.log_path(run.folder)
    if executor.output_in_place:
        run.output_bytes = host_log.stat().st_size if host_log.exists() else 0
    elif seen.output:
        host_log.parent.mkdir(parents=True, exist_ok=True)
        with open(host_log, "ab") as out:
            out.truncate(run.output_bytes)  # drop bytes a crash left past the recorded offset
            out.write(seen.output)
        run.output_bytes += len(seen.output)
    limit = FINAL_READ_LIMIT if final else READ_LIMIT
    events = []
    if run.parsed_bytes < run.output_bytes:
        with open(host_log, "rb") as src:
            src.seek(run.parsed_bytes)
            data = src.read(min(limit, run.output_bytes - run.parsed_bytes))
        used = len(data) if final else _complete(data)
        events += followed.output.feed(data[:used]) + (followed.output.flush() if final else [])
        run.parsed_bytes += used
    data = seen.trainer_log
    used = len(data) if final else data.rfind(b"\n") + 1
    if used:
        events += followed.trainer_log.feed(data[:used]) + (followed.trainer_log.flush() if final else [])
        run.trainer_log_bytes += used
    _apply(run, followed.one_value.take(events, final))


def _end(run: Run, poll: PollResult) -> None:
    stopped = run.stop_requested_at is not None
    never_stepped = {} if run.step else {"progress": 0.0}  # a run that failed before any step had none
    if poll.state == "exited" and stopped:
        transition(run, "cancelled", STARTED, N_("stopped; exit code %(code)s", code=poll.exit_code),
                   exit_code=poll.exit_code)
    elif poll.state == "exited" and poll.exit_code == 0:
        transition(run, "succeeded", STARTED, N_("finished with exit code 0"), exit_code=0, progress=1.0)
    elif poll.state == "exited":
        why = N_("failed with exit code %(code)s: %(detail)s", code=poll.exit_code, detail=poll.detail) \
            if poll.detail else N_("failed with exit code %(code)s", code=poll.exit_code)  # e.g. Slurm's TIMEOUT
        transition(run, "failed", STARTED, why, "error",
                   exit_code=poll.exit_code, **never_stepped)
    elif stopped and run.kill_sent_at is not None:
        transition(run, "cancelled", STARTED, N_("killed with SIGKILL"), exit_code=-9)
    else:
        transition(run, "lost", STARTED, N_("lost: %(detail)s", detail=poll.detail), "error", **never_stepped)


def _hold_scheduled(run: Run, gpus: dict[str, list[str]]) -> None:
    """Record the GPUs a scheduler gave a run (on its nodes), for its page; released when it ends."""
    for host, ids in gpus.items():
        if not placement.record("run", run.id, ids, host):
            log.warning("run %s: GPUs %s on %s are held by another holder; not recorded", run.id, ids, host)
            return
    run.gpus = [f"{host}:{gpu}" for host, ids in gpus.items() for gpu in ids]


@handler
class RunsHandler:
    """Follows every started run and starts queued ones, first come, first served."""

    def __init__(self):
        self.followed: dict[int, Followed] = {}
        self.observing: dict[str, object] = {}  # executor name -> Future of observe()
        self.launching: dict[int, float] = {}  # run id -> when its launch went to the pool
        self.gpu_sampler = GpuSampler()

    def tick(self, supervisor) -> None:
        started = db.session.scalars(select(Run).where(Run.status.in_(STARTED)).order_by(Run.id)).all()
        self._ask(supervisor, started)
        self._collect(supervisor)
        self.gpu_sampler.tick(supervisor)
        self._stop(supervisor)
        self._start_queued(supervisor)

    def _ask(self, supervisor, started: list[Run]) -> None:
        asks: dict[str, list[Ask]] = {}
        now = time.monotonic()
        for run in started:
            if run.handle is None:
                # the portal died between `starting` and the launch; the row is checked again in the
                # UPDATE, as our own launch may have recorded its handle since we read it
                if not supervisor.in_pool(("launch", run.id)):
                    transition(run, "lost", STARTED, N_("the portal stopped while launching this run; it is not "
                                                        "launched again"), "error", when=Run.handle.is_(None))
                    db.session.commit()
                elif now - self.launching.get(run.id, now) > LAUNCH_SECONDS:
                    transition(run, "failed", STARTED, N_("the launch did not finish within %(seconds)ss",
                                                          seconds=round(LAUNCH_SECONDS)),
                               "error", when=Run.handle.is_(None), progress=0.0)
                    db.session.commit()
                continue
            self.launching.pop(run.id, None)
            followed = self.followed.setdefault(run.id, Followed())
            scan = now - followed.scanned_at >= ARTIFACT_SCAN_SECONDS
            if run.executor not in self.observing:
                if scan:
                    followed.scanned_at = now
                asks.setdefault(run.executor, []).append(Ask(
                    run.id, run.handle, run.output_dir, run.output_bytes, f"{run.output_dir}/trainer_log.jsonl",
                    run.trainer_log_bytes, scan))
        for name, group in asks.items():
            self.observing[name] = supervisor.call(observe, executors.get(name), group)

    def _collect(self, supervisor) -> None:
        """Apply the observations that are done, waiting a little so fast executors answer this tick."""
        if self.observing:
            wait(list(self.observing.values()), timeout=min(1.0, supervisor.ttl / 6))
        for name, future in list(self.observing.items()):
            if not future.done():
                continue  # a slow daemon: its answer is applied on a later tick, nothing is asked twice
            del self.observing[name]
            try:
                seen = future.result()
            except Exception:
                log.exception("observing %s runs failed", name)
                continue
            for run_id, result in seen.items():
                try:
                    self._apply_seen(run_id, executors.get(name), result)
                    db.session.commit()
                except lease.LeaseLost:
                    raise
                except Exception:
                    log.exception("following run %s failed", run_id)
                    db.session.rollback()
                    self.followed.pop(run_id, None)  # its parsers saw bytes the rolled-back row did not

    def _apply_seen(self, run_id: int, executor: Executor, seen: Seen) -> None:
        run = db.session.get(Run, run_id)
        if run is None or run.status not in STARTED:
            return
        if seen.poll.gpus and not run.gpus and run.status in STARTED:
            _hold_scheduled(run, seen.poll.gpus)  # first in the transaction: a lost race rolls it back
        followed = self.followed.setdefault(run.id, Followed())
        ended = seen.poll.state in ("exited", "lost")
        _ingest(run, executor, followed, seen, final=ended)
        if seen.files is not None:
            artifacts.record(run, seen.files)
        if seen.poll.state in ("pending", "running"):
            _set_reason(run, seen.poll.detail)  # a scheduler's pending reason, then its job and nodes
        if seen.poll.state == "running" and run.status == "starting":  # a scheduler's job left its queue
            transition(run, "running", ("starting",), N_("running"), started_at=utcnow())
        elif ended:
            _end(run, seen.poll)
            self.followed.pop(run.id, None)

    def _stop(self, supervisor) -> None:
        """Signal stopping runs: the stop signal, then SIGKILL after the grace period."""
        now = utcnow()
        for run in db.session.scalars(select(Run).where(Run.status == "stopping", Run.handle.is_not(None))).all():
            if run.stop_sent_at is None:
                signame, run.stop_sent_at = run.stop_signal, now
                log_event(run, N_("sent %(signal)s to the run's process group", signal=run.stop_signal))
            elif run.kill_sent_at is None and (now - as_utc(run.stop_sent_at)).total_seconds() >= run.grace_seconds:
                signame, run.kill_sent_at = "SIGKILL", now
                log_event(run, N_("still running %(seconds)ss after %(signal)s: sent SIGKILL", seconds=run.grace_seconds,
                                  signal=run.stop_signal), "warning")
            else:
                continue
            db.session.commit()  # fenced: a supervisor that lost the lease sends nothing
            supervisor.submit(("signal", run.id, signame), send_signal, run.id, run.executor, run.handle, signame)

    def _start_queued(self, supervisor) -> None:
        """First come, first served: a run that cannot get its GPUs holds back later GPU runs."""
        inventory = [g.uuid for g in gpu_probe.probe(current_app.config["PORTAL"].fake_gpus)]
        blocked_by = None
        for run in db.session.scalars(select(Run).filter_by(status="queued").order_by(Run.id)).all():
            executor = executors.get(run.executor)
            placed = executor.places_gpus and run.gpu_count > 0
            if placed and executor.on_portal_host and run.gpu_count > len(inventory):
                transition(run, "failed", ("queued",), N_("asks for %(asked)s GPUs; this host has %(has)s",
                                                          asked=run.gpu_count, has=len(inventory)), "error")
                db.session.commit()
                continue
            if placed and blocked_by is not None:
                _set_reason(run, N_("waiting behind run %(run)s", run=blocked_by))
                db.session.commit()
                continue
            gpus = placement.allocate("run", run.id, run.gpu_count, inventory) if placed else []
            if gpus is None:
                free = len(set(inventory) - set(placement.held()))
                _set_reason(run, N_("waiting for %(asked)s GPUs; %(free)s free", asked=run.gpu_count, free=free))
                blocked_by = run.id
                db.session.commit()
                continue
            launching = N_("launching on GPUs %(gpus)s", gpus=", ".join(gpus)) if gpus else N_("launching")
            if transition(run, "starting", ("queued",), launching, gpus=gpus, **reason("")):
                db.session.commit()  # recorded before the launch, so a crash never launches it twice
                supervisor.submit(("launch", run.id), launch, run.id)
                self.launching[run.id] = time.monotonic()
            else:  # stopped meanwhile: its GPUs go back
                db.session.rollback()
