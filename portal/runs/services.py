"""Every change to runs made on a user's behalf: create, stop, re-run, tag, push metrics.

The supervisor (`portal/runs/supervise.py`) makes the changes that come from the world.
"""
import secrets
import shlex
from pathlib import Path

from flask import current_app
from sqlalchemy import select, update

from portal.auth.models import User
from portal.errors import Conflict, Invalid, NotFound, found
from portal.extensions import db
from portal.i18n import N_, _l
from portal.projects import services as projects
from portal.projects.models import Project
from portal.runs import command, outputs, snapshot
from portal.runs.models import Artifact, Run, RunLog
from portal.runs.search import TAG
from portal.runs.transitions import log_event, transition
from portal import storage
from portal.storage import resolve_under
from portal.supervisor import executors, placement
from portal.supervisor.executors.base import LaunchError
from portal.supervisor.transition import reason
from portal.timeutil import as_utc, utcnow


RUN_FOLDER_ROOM = 16 * 1024 * 1024  # what a new run folder should have to start its output


def _settings():
    return current_app.config["PORTAL"]


def _missing_resources(files: dict[str, str]) -> list[str]:
    missing = []
    checked = projects.preview({"dataset_name": files["dataset"], "training_yaml_name": files["config"]})
    for entry in projects.resources(checked):
        if entry["error"] and entry["error"] != "not set":
            raise Invalid(entry["error"])
        if not entry["exists"]:
            missing.append(f"{entry['field']} {entry['path'] or '(not set)'}")
    return missing


def missing_to_start(project: Project, files: dict[str, str] | None = None) -> list[str]:
    """Every thing a run of `project` would not find (dataset, config, workdir, program), checked
    as the executor will run it; said by the 400 of a start and on the project page before one."""
    files = files or {"config": project.training_yaml_name, "dataset": project.dataset_name}
    run_settings = projects.effective(project)
    executor = executors.get(run_settings["executor"])
    container = run_settings["container"] if executor.uses_container else None
    where = executor.plan("check", project.name, 0, run_settings["workdir"], container).workdir
    program = command.render(run_settings["start_command"], _placeholders(files))[0]
    missing = _missing_resources(files) + executor.missing(where, program, container)
    if not missing:  # Invalid when the config's output_dir is where the portal could not read it
        outputs.choose(executor, where, run_settings["start_command"], files["config"])
    return missing


def create_run(project_name: str, created_by: int | None = None, gpus: int | None = None,
               same_as: dict | None = None) -> Run:
    """Queue a run; the dataset and config must exist under the training dir first.

    `same_as` (a snapshot) runs its recorded config text and dataset instead of the project's.
    """
    project = projects.get_project(project_name)
    if project.status != "active":
        raise Conflict(_l("project %(name)s is archived", name=repr(project.name)))
    run_settings = projects.effective(project)
    files = {"config": project.training_yaml_name, "dataset": project.dataset_name}
    if same_as:
        files = {"config": snapshot.write_config(same_as["config"]["text"]), "dataset": same_as["dataset"]["path"]}
    executor = executors.get(run_settings["executor"])
    container = run_settings["container"] if executor.uses_container else None
    missing = missing_to_start(project, files)
    if missing:  # every missing thing at once, as the original names its missing resources
        raise Invalid(_l("missing under the training directory %(dir)s: %(missing)s",
                         dir=str(_settings().training_dir), missing=", ".join(missing)))
    where = executor.plan("check", project.name, 0, run_settings["workdir"], container).workdir
    outs = outputs.choose(executor, where, run_settings["start_command"], files["config"])
    outputs.refuse_shared(outs, container)
    gpu_count = run_settings["gpus_per_run"] if gpus is None else gpus
    if not 0 <= gpu_count <= projects.MAX_GPUS:
        raise Invalid(_l("gpus must be between 0 and %(max)s", max=projects.MAX_GPUS))
    # a run folder needs room for its output: a full data dir refuses the run now (507), not at launch
    storage.ensure_room(_settings().data_dir, RUN_FOLDER_ROOM, _settings().disk_reserve_bytes)
    # the project's counter hands out numbers: one UPDATE, so concurrent starts never collide
    number = db.session.execute(update(Project).where(Project.id == project.id)
                                .values(runs_created=Project.runs_created + 1)
                                .returning(Project.runs_created)).scalar_one()
    run = Run(project_id=project.id, number=number, status="queued", created_by=created_by, gpu_count=gpu_count,
              executor=run_settings["executor"], env=run_settings["env"], stop_signal=run_settings["stop_signal"],
              grace_seconds=run_settings["grace_seconds"], argv=[], workdir="", output_dir="")
    db.session.add(run)
    db.session.flush()
    run.folder = f"{run.id}-{secrets.token_hex(4)}"
    plan = executor.plan(run.folder, project.name, number, run_settings["workdir"], container)
    run.workdir, run.container = plan.workdir, plan.container
    run.output_dir, run.output_source = outs.path or plan.output_dir, outs.source
    topology = executor.topology(executor.freeze(run.folder, project.name), run.id, gpu_count)
    run.argv = command.render(run_settings["start_command"], _placeholders(files, run, topology))
    run.snapshot = snapshot.build(run, files, run.env, same_as["config"] if same_as else None)
    log_event(run, N_("queued by %(who)s", who=who(created_by)))
    db.session.commit()
    return run


def who(user_id: int | None) -> str:
    user = db.session.get(User, user_id) if user_id else None
    return user.username if user else "the portal"


def _placeholders(files: dict[str, str], run: Run | None = None, topology: dict | None = None) -> dict[str, str]:
    """The start command's values (`run` None: before it exists, to check the program)."""
    training = _settings().training_dir
    values = dict.fromkeys(command.PLACEHOLDERS, "")
    values.update(config=files["config"], dataset=files["dataset"],
                  config_path=str(resolve_under(training, files["config"], "training_yaml_name")),
                  dataset_path=str(resolve_under(training, files["dataset"], "dataset_name")))
    if run is not None:
        values.update(output_dir=run.output_dir, run_id=str(run.id), **(topology or {}))
    return values


def command_text(run: Run) -> str:
    return shlex.join(run.argv)


def get_run(run_id: int) -> Run:
    return found(db.session.get(Run, run_id), _l("run %(id)s not found", id=run_id))


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


def request_stop(run_id: int, by: int | None = None, because: dict | None = None) -> Run:
    """A queued run is cancelled at once; a started one is signalled by the supervisor.

    Each step is a conditional transition, so a stop that meets the supervisor launching the
    run becomes a stop of the launched run, never a cancelled row with a live process.
    `because` (an `N_()` message) is the stop event of a started run the portal itself stops.
    """
    run = get_run(run_id)
    name, now = who(by), utcnow()
    if transition(run, "cancelled", ("queued",), N_("cancelled while queued by %(who)s", who=name),
                  stop_requested_at=now, **reason("")):
        db.session.commit()
        return run
    if transition(run, "stopping", ("starting", "running"),
                  because or N_("stop requested by %(who)s; %(signal)s, then SIGKILL after %(seconds)ss", who=name,
                                signal=run.stop_signal, seconds=run.grace_seconds),
                  stop_requested_at=now):
        db.session.commit()
        return run
    if run.status == "stopping":
        return run
    raise Conflict(_l("run %(id)s has already ended (%(status)s)", id=run.id, status=run.status))


RERUN_MODES = ("current", "snapshot")


def rerun(run_id: int, created_by: int | None = None, mode: str = "current") -> Run:
    """A new run of the same project with the same GPU count: with the project's current settings,
    or (`snapshot`) with the config text and dataset the old run recorded."""
    old = get_run(run_id)
    if mode not in RERUN_MODES:
        raise Invalid(_l("mode must be one of %(modes)s", modes=", ".join(RERUN_MODES)))
    same_as = None
    if mode == "snapshot":
        same_as = old.snapshot or {}
        if (same_as.get("config") or {}).get("text") is None or not same_as.get("dataset"):
            raise Conflict(_l("run %(id)s recorded no config text to run again", id=old.id))
    return create_run(old.project.name, created_by=created_by, gpus=old.gpu_count, same_as=same_as)


def gpu_holders() -> dict[str, Run]:
    """The run holding each allocated GPU of this host (by UUID), for the GPU panel."""
    held = {uuid: int(holder) for uuid, (kind, holder) in placement.held().items() if kind == "run"}
    runs = {run.id: run for run in db.session.scalars(select(Run).where(Run.id.in_(set(held.values()))))}
    return {uuid: runs[run_id] for uuid, run_id in held.items() if run_id in runs}


def list_logs(run_id: int, after: int = 0, limit: int = 200) -> list[RunLog]:
    get_run(run_id)
    return list(db.session.scalars(select(RunLog).where(RunLog.run_id == run_id, RunLog.id > after)
                                   .order_by(RunLog.id).limit(min(max(limit, 1), 1000))))


def list_artifacts(run_id: int) -> list[Artifact]:
    get_run(run_id)
    return list(db.session.scalars(select(Artifact).filter_by(run_id=run_id).order_by(Artifact.path)))


def download_artifact(artifact_id: int) -> tuple[str, str, object]:
    """(file name, "file" or "tar", the bytes as they are read) of an artifact, read through its run's executor."""
    artifact = found(db.session.get(Artifact, artifact_id), _l("artifact %(id)s not found", id=artifact_id))
    run = artifact.run
    if run.handle is None:
        raise Conflict(_l("run %(id)s never started: it has no files", id=run.id))
    if ".." in Path(artifact.path).parts or artifact.path.startswith("/"):
        raise Invalid(_l("artifact %(id)s has a path outside its run's output dir", id=artifact_id))
    try:
        kind, chunks = executors.get(run.executor).download(run.handle, f"{run.output_dir}/{artifact.path}")
    except FileNotFoundError:
        raise NotFound(_l("%(path)s is no longer in the output dir", path=artifact.path)) from None
    except LaunchError as error:
        raise Conflict(str(error)) from None
    name = Path(artifact.path).name
    return (f"{name}.tar" if kind == "tar" else name), kind, chunks


RUN_TAGS = 20
NOTE_BYTES = 10_000


def annotate(run_id: int, tags: list[str] | None = None, note: str | None = None) -> Run:
    """Set a run's tags and/or its free-text note (None: left as it is)."""
    run = get_run(run_id)
    if tags is not None:
        clean = list(dict.fromkeys(t.strip() for t in tags if t.strip()))
        if len(clean) > RUN_TAGS or not all(TAG.match(t) for t in clean):
            raise Invalid(_l("tags: at most %(count)s tags of at most 40 characters, without quotes, commas or "
                             "backslashes", count=RUN_TAGS))
        run.tags = clean
    if note is not None:
        if "\x00" in note or len(note.encode()) > NOTE_BYTES:
            raise Invalid(_l("note: at most %(limit)s bytes of UTF-8, no NUL character", limit=NOTE_BYTES))
        run.note = note
    db.session.commit()
    return run


def set_artifact_tags(artifact_id: int, tags: list[str]) -> Artifact:
    artifact = found(db.session.get(Artifact, artifact_id), _l("artifact %(id)s not found", id=artifact_id))
    clean = list(dict.fromkeys(t.strip() for t in tags if t.strip()))
    if len(clean) > 20 or any(len(t) > 40 for t in clean):
        raise Invalid(_l("tags: at most 20 tags of at most 40 characters"))
    artifact.tags = clean
    db.session.commit()
    return artifact


def duration(run: Run) -> float | None:
    start, end = run.started_at, run.ended_at or utcnow()
    if start is None:
        return None
    return (as_utc(end) - as_utc(start)).total_seconds()
