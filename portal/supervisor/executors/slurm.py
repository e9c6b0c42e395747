"""Runs training jobs on a Slurm cluster through its CLI (`sbatch`, `squeue`, `scontrol`, `scancel`).

Each run gets a folder under PORTAL_SHARED_DIR, a path the portal host and the compute nodes
share: the job's settings frozen when the run is queued (`slurm.json`), the batch script, the
exit-code wrapper, and what the wrapper writes (`output.log`, `exit_code`), which the portal
reads in place. The handle is the job id, so a restarted supervisor re-attaches by it. Every
CLI call has a timeout; its failure is a LaunchError carrying Slurm's own message. The job
runs as the user the portal submits as, not as PORTAL_RUN_USER.
"""
import json
import logging
import os
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from portal.i18n import N_
from portal.supervisor.executors.base import WRAPPER, Executor, Handle, LaunchError, LaunchSpec, Plan, PollResult
from portal.supervisor.executors.local import PORTAL_ENV, host_output_dir, list_tree, read_range
from portal.supervisor.executors.slurm_text import (
    RUNTIME,
    SINFO_FORMAT,
    SQUEUE_FORMAT,
    VALUE,
    batch_script,
    exit_code_of,
    job_gpus,
    parse_scontrol,
    parse_sinfo,
)

log = logging.getLogger("portal.executors.slurm")

# squeue states in which the job still holds (or is about to hold) its nodes
ACTIVE_STATES = {"RUNNING", "CONFIGURING", "COMPLETING", "SUSPENDED", "STOPPED", "RESIZING", "SIGNALING",
                 "STAGE_OUT", "REQUEUED", "REQUEUE_HOLD", "REQUEUE_FED", "RESV_DEL_HOLD"}
GONE = ("Invalid job id", "already completing or completed")  # scancel/squeue/scontrol on a finished job
CLUSTER_SECONDS = 5.0  # how long one sinfo answer is shown again (every open dashboard polls it)
# states in which Slurm itself ended a job: the run's failure event names it beside the exit code
SLURM_ENDED = {"TIMEOUT", "DEADLINE", "OUT_OF_MEMORY", "NODE_FAIL", "PREEMPTED", "BOOT_FAIL"}
ENDED_BY_REASON = {"TimeLimit": "TIMEOUT", "DeadLine": "DEADLINE", "OutOfMemory": "OUT_OF_MEMORY", "NodeDown": "NODE_FAIL"}


@dataclass(frozen=True)
class SlurmHandle(Handle):
    job_id: str
    cluster: str  # empty on a single-cluster setup
    run_dir: str
    gpus_per_node: int  # asked for: the GPUs it got are then looked up once it runs


class SlurmExecutor(Executor):
    name = "slurm"
    places_gpus = False  # Slurm does
    on_portal_host = False
    queues = True

    def __init__(self, shared_dir: Path, training_dir: Path, timeout: float):
        self.runs_dir = shared_dir / "runs"
        self.training_dir = training_dir
        self.timeout = timeout
        self._cluster: tuple[float, dict] | None = None
        self._down = ""  # the error squeue last gave, while it lasts
        self._gpus: dict[str, dict[str, list[str]]] = {}  # job id -> what it got (it never changes)

    # ---------------------------------------------------------------- the CLI door
    def cli(self, *argv: str, timeout: float | None = None) -> str:
        """Run one Slurm command with a timeout; its failure says Slurm's own words."""
        timeout = timeout or self.timeout
        try:
            done = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL,
                                  check=False)
        except FileNotFoundError:
            raise LaunchError(f"{argv[0]} is not installed on the portal host (Slurm's client tools are "
                              "needed where the portal runs)") from None
        except subprocess.TimeoutExpired:
            raise LaunchError(f"{argv[0]} did not answer within {timeout:.0f}s: is slurmctld reachable?") from None
        if done.returncode:
            message = "; ".join(line.strip() for line in (done.stderr or done.stdout).splitlines() if line.strip())
            message = message or f"exit code {done.returncode}"
            raise LaunchError(message if message.startswith(argv[0]) else f"{argv[0]}: {message}")
        return done.stdout

    def cluster(self) -> dict | None:
        """Partitions and nodes from ONE `sinfo` (kept a few seconds); None where Slurm's tools are absent.

        Called from requests (the dashboard, /v1/cluster), so its timeout is short.
        """
        if shutil.which("sinfo") is None:
            return None
        now = time.monotonic()
        if self._cluster is not None and now - self._cluster[0] < CLUSTER_SECONDS:
            return self._cluster[1]
        try:
            found = {"partitions": parse_sinfo(self.cli("sinfo", "-h", "-N", "-O", SINFO_FORMAT,
                                                        timeout=min(self.timeout, CLUSTER_SECONDS))), "error": ""}
        except LaunchError as error:
            found = {"partitions": [], "error": str(error)}
        self._cluster = (now, found)
        return found

    # ---------------------------------------------------------------- plan and launch
    def plan(self, folder, project, number, workdir, container):
        """Paths as on the local host: the training dir is shared with the nodes."""
        from portal.storage import resolve_under

        return Plan(workdir=str(resolve_under(self.training_dir, workdir or ".", "workdir")),
                    output_dir=str(self.training_dir / "outputs" / project / f"run-{number}"))

    def output_dir_of(self, workdir, configured):
        return host_output_dir(self.training_dir, workdir, configured)  # the shared training dir, as here

    def freeze(self, folder, project):
        """The job's settings go into the run folder, so editing the project never changes a queued run."""
        from portal.errors import Invalid
        from portal.i18n import _l
        from portal.projects import services as projects

        options = projects.slurm_options(projects.get_project(project))
        run_dir = self.runs_dir / folder
        try:
            run_dir.mkdir(parents=True, exist_ok=True)
            (run_dir / "slurm.json").write_text(json.dumps(options, indent=1))
        except OSError as error:
            raise Invalid(_l("cannot write the run folder under PORTAL_SHARED_DIR: %(error)s", error=error)) from None
        return options

    def topology(self, frozen, run_id, gpu_count):
        """Nodes and GPUs as the job asks for them; the first node and the port only the job knows."""
        return {"nodes": str(frozen.get("nodes") or 1), "gpus_per_node": str(frozen.get("gpus_per_node") or gpu_count),
                **RUNTIME}

    def missing(self, workdir: str, program: str, container: str | None = None) -> list[str]:
        """The workdir is on the shared training dir, so it is checked here; the program is looked
        up on a node (its PATH, or a container image), which only the job can do."""
        return [] if Path(workdir).is_dir() else [f"workdir {workdir}"]

    def log_path(self, folder: str) -> Path:
        return self.runs_dir / folder / "output.log"

    def base_env(self) -> dict[str, str]:
        env = {k: os.environ[k] for k in PORTAL_ENV if k in os.environ}
        env["HOME"] = os.environ.get("HOME", "/")
        return env

    def launch(self, spec: LaunchSpec) -> dict:
        run_dir = self.runs_dir / spec.folder
        if not VALUE.match(str(run_dir)):  # it goes into `#SBATCH --output=…` as one word
            raise LaunchError(f"PORTAL_SHARED_DIR must be a path without spaces or quotes for sbatch: {run_dir}")
        try:
            options = json.loads((run_dir / "slurm.json").read_text())
            options.setdefault("gpus_per_node", spec.gpu_count)  # the project's own setting wins
            Path(spec.output_dir).mkdir(parents=True, exist_ok=True)
            (run_dir / "output.log").touch()
            (run_dir / "wrapper.sh").write_text(WRAPPER.lstrip())
            mounts = [f"{p}:{p}" for p in dict.fromkeys((str(self.runs_dir.parent), str(self.training_dir)))]
            (run_dir / "job.sh").write_text(batch_script(spec, options, str(run_dir), mounts))
        except (OSError, ValueError) as error:
            raise LaunchError(f"cannot prepare the run folder {run_dir}: {error}") from None
        out = self.cli("sbatch", "--parsable", "--export=NONE", str(run_dir / "job.sh")).strip()
        job_id, _, cluster = out.partition(";")
        if not job_id.isdigit():
            raise LaunchError(f"sbatch answered {out!r} instead of a job id")
        return SlurmHandle(job_id=job_id, cluster=cluster, run_dir=str(run_dir),
                           gpus_per_node=int(options.get("gpus_per_node") or 0)).dump()

    def describe(self, handle: dict) -> str:
        return f"Slurm job {handle['job_id']}"

    # ---------------------------------------------------------------- follow
    def _queue(self, job_ids: list[str]) -> dict[str, tuple[str, str, str]]:
        """ONE squeue for every job: {job id: (state, reason, nodes)} of those still in the queue."""
        try:
            out = self.cli("squeue", f"--jobs={','.join(job_ids)}", "-h", "-o", SQUEUE_FORMAT)
        except LaunchError as error:
            if any(gone in str(error) for gone in GONE):  # every one of them has left the queue
                return {}
            raise
        queue = {}
        for line in out.splitlines():
            parts = line.split("|")
            if len(parts) == 4:
                queue[parts[0]] = (parts[1], parts[2], parts[3])
        return queue

    def _left(self, handle: SlurmHandle) -> PollResult:
        """A job that left the queue without an exit file: what Slurm still remembers of it."""
        try:
            fields = parse_scontrol(self.cli("scontrol", "show", "job", handle.job_id))
        except LaunchError as error:
            if "Invalid job id" not in str(error):
                raise
            fields = self._accounted(handle.job_id)
            if fields is None:
                return PollResult("lost", detail=N_("Slurm no longer knows job %(job)s and it left no exit code",
                                                        job=handle.job_id))
        state = fields.get("JobState", "UNKNOWN")
        if state == "PENDING":  # requeued between squeue and now
            return PollResult("pending", detail=N_("Slurm job %(job)s is waiting in the queue", job=handle.job_id))
        if state in ACTIVE_STATES:
            return PollResult("running", detail=N_("Slurm job %(job)s on %(nodes)s", job=handle.job_id,
                                                    nodes=fields.get("NodeList", "?")))
        reason = fields.get("Reason", "None")
        detail = N_("Slurm job %(job)s ended %(state)s", job=handle.job_id, state=state) if reason == "None" else \
            N_("Slurm job %(job)s ended %(state)s (%(reason)s)", job=handle.job_id, state=state, reason=reason)
        return PollResult("exited", exit_code=exit_code_of(state, fields.get("ExitCode", "")), detail=detail)

    def _ended_why(self, handle: SlurmHandle) -> str | dict:
        """Slurm's reason for a job that ended badly (its time limit, memory, a node), once, at its end."""
        try:
            fields = parse_scontrol(self.cli("scontrol", "show", "job", handle.job_id))
        except LaunchError:  # forgotten already, or the controller is away: the exit code says enough
            return ""
        state = fields.get("JobState", "")
        if state == "COMPLETING":  # still tidying up, which scontrol shows instead of the end state: its reason says it
            state = ENDED_BY_REASON.get(fields.get("Reason", ""), state)
        return N_("Slurm ended job %(job)s: %(state)s", job=handle.job_id, state=state) if state in SLURM_ENDED else ""

    def _accounted(self, job_id: str) -> dict[str, str] | None:
        """What accounting (sacct) remembers of a job the controller forgot; None without accounting."""
        if shutil.which("sacct") is None:
            return None
        try:
            out = self.cli("sacct", "-j", job_id, "-X", "-n", "-P", "-o", "State,ExitCode")
        except LaunchError:  # e.g. "Slurm accounting storage is disabled"
            return None
        line = next((line for line in out.splitlines() if "|" in line), "")
        if not line:
            return None
        state, _, code = line.partition("|")
        return {"JobState": state.split()[0], "ExitCode": code, "Reason": "None"}

    def poll_many(self, handles):
        loaded = {key: SlurmHandle.load(data) for key, data in handles.items()}
        followed = {h.job_id for h in loaded.values()}
        self._gpus = {job: gpus for job, gpus in self._gpus.items() if job in followed}  # ended jobs' go
        if not loaded:
            return {}
        try:
            queue = self._queue(sorted({h.job_id for h in loaded.values()}, key=int))
        except LaunchError as error:  # controller down or slow: ask again next tick, lose nothing
            if str(error) != self._down:  # once, not every tick while it lasts
                log.warning("squeue failed: %s", error)
            self._down = str(error)
            return {key: PollResult("running", detail=str(error)) for key in loaded}
        if self._down:
            log.info("squeue answers again")
            self._down = ""
        results = {}
        for key, handle in loaded.items():
            code = self._exit_file(handle)
            state, reason, nodes = queue.get(handle.job_id, ("", "", ""))
            if code is not None:  # the wrapper's word is the truth, even while Slurm still tidies up
                results[key] = PollResult("exited", exit_code=code, detail=self._ended_why(handle) if code else "")
            elif state == "PENDING":
                results[key] = PollResult("pending", detail=N_(
                    "Slurm job %(job)s is waiting in the queue", job=handle.job_id) if reason == "None" else N_(
                    "Slurm job %(job)s is waiting in the queue: %(reason)s", job=handle.job_id, reason=reason))
            elif state in ACTIVE_STATES:
                results[key] = PollResult("running", detail=N_("Slurm job %(job)s on %(nodes)s", job=handle.job_id, nodes=nodes),
                                          gpus=self._job_gpus(handle) if state == "RUNNING" else None)
            else:
                try:
                    results[key] = self._left(handle)
                except LaunchError as error:
                    log.warning("scontrol failed: %s", error)
                    results[key] = PollResult("running", detail=str(error))
        return results

    def _job_gpus(self, handle: SlurmHandle) -> dict[str, list[str]] | None:
        """{node: [GPU index]} Slurm gave a running job, from `scontrol -d show job` once per job."""
        if not handle.gpus_per_node:
            return None
        if handle.job_id not in self._gpus:
            try:
                found = job_gpus(self.cli("scontrol", "-d", "show", "job", handle.job_id))
            except LaunchError as error:
                log.warning("scontrol -d failed: %s", error)
                return None
            if not found:
                return None
            self._gpus[handle.job_id] = found
        return self._gpus[handle.job_id]

    @staticmethod
    def _exit_file(handle: SlurmHandle) -> int | None:
        try:
            return int((Path(handle.run_dir) / "exit_code").read_text().strip())
        except (FileNotFoundError, ValueError):
            return None

    def read_output(self, handle, offset, limit):
        return read_range(Path(handle["run_dir"]) / "output.log", offset, limit)

    def read_file(self, handle, path, offset, limit):
        return read_range(Path(path), offset, limit)

    def list_files(self, handle, root, max_depth=2):
        return list_tree(Path(root), max_depth)

    # ---------------------------------------------------------------- stop
    def signal(self, handle, signame):
        """The stop signal to every process of the job (`--full`: the batch shell too); SIGKILL,
        and any signal to a job still queued, cancel the job (Slurm's own TERM, then KILL)."""
        job = SlurmHandle.load(handle)
        try:
            if signame != "SIGKILL" and self._queue([job.job_id]).get(job.job_id, ("",))[0] != "PENDING":
                self.cli("scancel", f"--signal={signame.removeprefix('SIG')}", "--full", job.job_id)
            else:
                self.cli("scancel", job.job_id)
        except LaunchError as error:
            if not any(gone in str(error) for gone in GONE):
                raise
