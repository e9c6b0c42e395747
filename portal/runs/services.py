"""Every change to runs made on a user's behalf: create, stop, re-run, tag, push metrics.

The supervisor (`portal/runs/supervise.py`) makes the changes that come from the world.
"""
import os
import secrets
import shlex

from flask import current_app
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from portal.auth.models import User
from portal.errors import Conflict, Invalid, found
from portal.extensions import db
from portal.projects import services as projects
from portal.runs import command
from portal.runs.models import ACTIVE, Artifact, Run, RunLog
from portal.storage import resolve_under
from portal.timeutil import as_utc, utcnow

PORTAL_ENV = ("PATH", "HOME", "LANG", "LC_ALL", "TZ")  # what a local run inherits from the portal


def _settings():
    return current_app.config["PORTAL"]


def output_in_place(run: Run) -> bool:
    """True when the run writes its output.log where the portal reads it (no copying)."""
    return run.executor == "local" or (run.executor == "docker" and _settings().docker_run_dir_host is not None)


def run_folder(run: Run):
    """The run's folder as the portal sees it: output.log (and pid, exit_code of the wrapper).

    A docker run on a host-mounted run dir is read where it writes, so its output is as live
    as a local run's; otherwise the supervisor copies it here.
    """
    settings = _settings()
    if run.executor == "docker" and settings.docker_run_dir_host is not None:
        return settings.docker_run_dir_host / run.folder
    return settings.data_dir / "runs" / run.folder


def log_event(run: Run, message: str, level: str = "info") -> None:
    """Add a portal event to a run's log (committed by the caller)."""
    db.session.add(RunLog(run_id=run.id, level=level, message=message))


def _missing_resources(project) -> list[str]:
    missing = []
    for entry in projects.resources(project):
        if entry["error"] and entry["error"] != "not set":
            raise Invalid(entry["error"])
        if not entry["exists"]:
            missing.append(f"{entry['field']} {entry['path'] or '(not set)'}")
    return missing


def create_run(project_name: str, created_by: int | None = None, gpus: int | None = None) -> Run:
    """Queue a run; the dataset and config must exist under the training dir first."""
    project = projects.get_project(project_name)
    if project.status != "active":
        raise Conflict(f"project {project.name!r} is archived")
    missing = _missing_resources(project)
    if missing:
        raise Invalid(f"missing under the training directory {_settings().training_dir}: {', '.join(missing)}")
    run_settings = projects.effective(project)
    gpu_count = run_settings["gpus_per_run"] if gpus is None else gpus
    if not 0 <= gpu_count <= projects.MAX_GPUS:
        raise Invalid(f"gpus must be between 0 and {projects.MAX_GPUS}")
    for _ in range(3):  # two creators may race for the next number; the unique key decides
        number = (db.session.scalar(select(func.max(Run.number)).filter_by(project_id=project.id)) or 0) + 1
        run = Run(project_id=project.id, number=number, status="queued", created_by=created_by,
                  gpu_count=gpu_count, argv=[], workdir="", output_dir="", **_frozen(run_settings))
        db.session.add(run)
        try:
            db.session.flush()
        except IntegrityError:
            db.session.rollback()
            continue
        _render(run, project, run_settings)
        log_event(run, f"queued by {_who(created_by)}")
        db.session.commit()
        return run
    raise Conflict("could not allocate a run number; try again")


def _who(user_id: int | None) -> str:
    user = db.session.get(User, user_id) if user_id else None
    return user.username if user else "the portal"


def _frozen(run_settings: dict) -> dict:
    return {key: run_settings[key] for key in ("executor", "env", "stop_signal", "grace_seconds")} | {
        "container": run_settings["container"] if run_settings["executor"] == "docker" else None}


def _render(run: Run, project, run_settings: dict) -> None:
    """Fill the run's argv, working and output directories from the project's settings."""
    training = _settings().training_dir
    run.folder = f"{run.id}-{secrets.token_hex(4)}"
    if run.executor == "docker":
        run.output_dir = f"{_settings().docker_run_dir}/{run.folder}/output"
        run.workdir = run_settings["workdir"]
    else:
        run.output_dir = str(training / "outputs" / project.name / f"run-{run.number}")
        run.workdir = str(resolve_under(training, run_settings["workdir"] or ".", "workdir"))
    values = {
        "config": project.training_yaml_name, "dataset": project.dataset_name,
        "config_path": str(resolve_under(training, project.training_yaml_name, "training_yaml_name")),
        "dataset_path": str(resolve_under(training, project.dataset_name, "dataset_name")),
        "output_dir": run.output_dir, "run_id": str(run.id),
    }
    run.argv = command.render(run_settings["start_command"], values)


def command_text(run: Run) -> str:
    return shlex.join(run.argv)


def launch_env(run: Run) -> dict[str, str]:
    """The environment of a run: portal basics, the project's variables, then ours (which win)."""
    env = {k: os.environ[k] for k in PORTAL_ENV if k in os.environ} if run.executor == "local" else {}
    env.update(run.env or {})
    env.update({
        "PYTHONUNBUFFERED": "1",
        "CUDA_VISIBLE_DEVICES": ",".join(run.gpus or []),
        "LLAMABOARD_ENABLED": "1",
        "LLAMABOARD_WORKDIR": run.output_dir,
        "PORTAL_RUN_ID": str(run.id),
    })
    return env


def get_run(run_id: int) -> Run:
    return found(db.session.get(Run, run_id), f"run {run_id} not found")


def list_runs(project_name: str | None = None, status: str | None = None, before: int | None = None,
              limit: int = 50) -> list[Run]:
    """Newest first; `before` is the id of the last run of the previous page."""
    stmt = select(Run).order_by(Run.id.desc()).limit(min(max(limit, 1), 200))
    if project_name:
        stmt = stmt.where(Run.project_id == projects.get_project(project_name).id)
    if status:
        stmt = stmt.where(Run.status.in_(status.split(",")))
    if before:
        stmt = stmt.where(Run.id < before)
    return list(db.session.scalars(stmt))


def request_stop(run_id: int, by: int | None = None) -> Run:
    """A queued run is cancelled at once; a running one is signalled by the supervisor."""
    run = get_run(run_id)
    if run.status not in ACTIVE:
        raise Conflict(f"run {run.id} has already ended ({run.status})")
    if run.status == "stopping":
        return run
    now = utcnow()
    run.stop_requested_at = now
    if run.status == "queued":
        run.status, run.ended_at, run.status_reason = "cancelled", now, ""
        log_event(run, f"cancelled while queued by {_who(by)}")
    else:
        run.status = "stopping"
        log_event(run, f"stop requested by {_who(by)}; {run.stop_signal}, then SIGKILL after "
                       f"{run.grace_seconds}s")
    db.session.commit()
    return run


def rerun(run_id: int, created_by: int | None = None) -> Run:
    """A new run of the same project with its current settings and the same GPU count."""
    old = get_run(run_id)
    return create_run(old.project.name, created_by=created_by, gpus=old.gpu_count)


def gpu_holders() -> dict[str, Run]:
    """The run holding each allocated GPU (by UUID), for the GPU panel."""
    held = select(Run).where(Run.status.in_(("starting", "running", "stopping")))
    return {uuid: run for run in db.session.scalars(held) for uuid in run.gpus or []}


def list_logs(run_id: int, after: int = 0, limit: int = 200) -> list[RunLog]:
    get_run(run_id)
    return list(db.session.scalars(select(RunLog).where(RunLog.run_id == run_id, RunLog.id > after)
                                   .order_by(RunLog.id).limit(min(max(limit, 1), 1000))))


def list_artifacts(run_id: int) -> list[Artifact]:
    get_run(run_id)
    return list(db.session.scalars(select(Artifact).filter_by(run_id=run_id).order_by(Artifact.path)))


def set_artifact_tags(artifact_id: int, tags: list[str]) -> Artifact:
    artifact = found(db.session.get(Artifact, artifact_id), f"artifact {artifact_id} not found")
    clean = list(dict.fromkeys(t.strip() for t in tags if t.strip()))
    if len(clean) > 20 or any(len(t) > 40 for t in clean):
        raise Invalid("tags: at most 20 tags of at most 40 characters")
    artifact.tags = clean
    db.session.commit()
    return artifact


def duration(run: Run) -> float | None:
    start, end = run.started_at, run.ended_at or utcnow()
    if start is None:
        return None
    return (as_utc(end) - as_utc(start)).total_seconds()
