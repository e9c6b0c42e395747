"""Projects (seed-api.md: POST /projects) and their runs (POST /projects/{name}/runs)."""
from typing import Literal

from flask_login import current_user
from pydantic import BaseModel, ConfigDict, Field

from portal.api import bp
from portal.api.runs import RunInfo
from portal.api.schemas import Id, Timestamp
from portal.api.spec import operation
from portal.projects import services
from portal.runs import services as runs

NOT_FOUND = {404: "No such project"}


def _range(key: str) -> dict:
    low, high = services.SLURM_NUMBERS[key]
    return {"ge": low, "le": high}


class SlurmSettings(BaseModel):
    """The Slurm executor's job settings; unset: the server's PORTAL_SLURM_* (or Slurm's own default)."""
    model_config = ConfigDict(extra="forbid")

    partition: str | None = None
    account: str | None = None
    qos: str | None = None
    time_limit: str | None = Field(None, description="sbatch --time, e.g. 2-00:00:00", examples=["12:00:00"])
    nodes: int | None = Field(None, **_range("nodes"))
    gpus_per_node: int | None = Field(None, description="--gres=gpu:N; default: the run's GPUs (gpus_per_run or the start's gpus)",
                                      **_range("gpus_per_node"))
    cpus_per_task: int | None = Field(None, **_range("cpus_per_task"))
    memory: str | None = Field(None, description="sbatch --mem (per node; one task per node)", examples=["64G"])
    container_image: str | None = Field(None, description="pyxis/enroot --container-image")
    container_mounts: list[str] | None = Field(None, description="pyxis --container-mounts entries, SRC:DST")
    extra: list[str] | None = Field(None, description="more sbatch options, --name or --name=value, from: "
                                    + " ".join(services.SBATCH_EXTRA), examples=[["--constraint=a100"]])


class CleanupPolicy(BaseModel):
    """Which checkpoints of a run a clean-up keeps; the rest lose their optimizer state or go."""
    model_config = ConfigDict(extra="forbid")

    metric: str | None = Field(None, description="best by this metric (trainer_state.json's best_model_checkpoint "
                               "first, when present)", examples=["eval_loss"])
    mode: Literal["min", "max"] | None = Field(None, description="min: lower is better")
    keep_best: int | None = Field(None, ge=services.CLEANUP_KEEP[0], le=services.CLEANUP_KEEP[1])
    keep_latest: int | None = Field(None, ge=services.CLEANUP_KEEP[0], le=services.CLEANUP_KEEP[1])
    action: Literal["optimizer", "delete"] | None = Field(None, description="optimizer: delete only global_step*/, "
                                                          "optimizer.pt, scheduler.pt; delete: the whole checkpoint")


class ExecutionSettings(BaseModel):
    executor: str | None = Field(None, description="local, docker or slurm; empty: the server's PORTAL_EXECUTOR")
    container: str | None = Field(None, description="docker: the training container")
    workdir: str | None = Field(None, description="working directory (in the container for docker, "
                                                  "under the training dir otherwise)")
    start_command: str | None = Field(None, description="template; placeholders {config} {dataset} "
                                      "{output_dir} {run_id} {config_path} {dataset_path}")
    gpus_per_run: int = Field(0, ge=0, le=64)
    env: dict[str, str] = Field(default_factory=dict)
    stop_signal: Literal["SIGTERM", "SIGINT", "SIGABRT", "SIGHUP", "SIGUSR1", "SIGUSR2", "SIGKILL"] = "SIGTERM"
    grace_seconds: int = Field(30, ge=0, le=3600)
    slurm: SlurmSettings = Field(default_factory=SlurmSettings)
    idle_gpu_percent: int = Field(0, ge=0, le=100, description="idle-GPU guard: stop a run when all its GPUs stay "
                                  "below this utilisation (%) for idle_gpu_minutes; 0: off")
    idle_gpu_minutes: int = Field(0, ge=services.IDLE_MINUTES[0], le=services.IDLE_MINUTES[1])
    cleanup: CleanupPolicy | None = Field(None, description="checkpoint clean-up policy; null: none")


class ProjectCreate(ExecutionSettings):
    # the service's own rule, checked here too so a bad name is a 422 like any invalid field (FastAPI's answer)
    name: str = Field(description="slug: lowercase letters, digits, . _ -, at most 64", examples=["demo-project"],
                      pattern=services.NAME.pattern)
    description: str = ""
    owner: str = ""
    tags: list[str] = Field(default_factory=list)
    dataset_name: str = Field("", examples=["datasets/sample.jsonl"])
    training_yaml_name: str = Field("", examples=["configs/train.yaml"])


class ProjectUpdate(BaseModel):
    """Only the fields sent change. `null` means "the portal's default" where there is one
    (executor, container, workdir, start_command); elsewhere it is refused with 422. The
    `None` defaults are never validated: they only mark a field as not sent."""

    description: str = None
    owner: str = None
    tags: list[str] = None
    dataset_name: str = None
    training_yaml_name: str = None
    executor: str | None = None
    container: str | None = None
    workdir: str | None = None
    start_command: str | None = None
    gpus_per_run: int = Field(None, ge=0, le=64)
    env: dict[str, str] = None
    stop_signal: str = None
    grace_seconds: int = Field(None, ge=0, le=3600)
    slurm: SlurmSettings = None
    idle_gpu_percent: int = Field(None, ge=0, le=100)
    idle_gpu_minutes: int = Field(None, ge=services.IDLE_MINUTES[0], le=services.IDLE_MINUTES[1])
    cleanup: CleanupPolicy | None = None


class Resource(BaseModel):
    field: str
    path: str
    exists: bool
    error: str


class ProjectDetail(ProjectCreate):
    id: int
    status: Literal["active", "archived"]
    created_at: Timestamp
    updated_at: Timestamp
    effective: dict = Field(description="execution settings a new run gets (project's, else the server's)")
    resources: list[Resource]

    @classmethod
    def of(cls, p) -> "ProjectDetail":
        return cls(id=p.id, name=p.name, description=p.description, owner=p.owner, tags=p.tags or [],
                   dataset_name=p.dataset_name, training_yaml_name=p.training_yaml_name, status=p.status,
                   executor=p.executor, container=p.container, workdir=p.workdir, start_command=p.start_command,
                   gpus_per_run=p.gpus_per_run, env=p.env or {}, stop_signal=p.stop_signal,
                   grace_seconds=p.grace_seconds, slurm=p.slurm or {}, idle_gpu_percent=p.idle_gpu_percent,
                   idle_gpu_minutes=p.idle_gpu_minutes, cleanup=p.cleanup or None, created_at=p.created_at, updated_at=p.updated_at,
                   effective=services.effective(p), resources=services.resources(p))


class ProjectQuery(BaseModel):
    q: str = Field("", description="search in name, owner, description")
    tag: str = ""
    status: Literal["", "active", "archived"] = ""
    after: str = Field("", description="keyset cursor: the last name of the previous page")
    limit: int = Field(50, ge=1, le=200)


class ProjectPage(BaseModel):
    items: list[ProjectDetail]
    next_after: str | None


class RunCreate(BaseModel):
    gpus: int | None = Field(None, ge=0, le=64, description="GPUs for this run; default: the project's")


class RunQuery(BaseModel):
    status: str = Field("", description="comma-separated statuses")
    before: Id | None = Field(None, description="keyset cursor: the last id of the previous page")
    limit: int = Field(50, ge=1, le=200)


@operation(bp, "POST", "/projects", summary="Create a project", tag="projects", body=ProjectCreate,
           response=ProjectDetail, errors={400: "A field breaks a rule", 409: "The name is taken"})
def create_project(body: ProjectCreate):
    fields = body.model_dump(exclude={"name"})
    return ProjectDetail.of(services.create_project(body.name, created_by=current_user.id, **fields))


@operation(bp, "GET", "/projects", summary="List projects", tag="projects", query=ProjectQuery,
           response=ProjectPage)
def list_projects(query: ProjectQuery):
    items = services.list_projects(query.q, query.tag, query.status, query.after, query.limit)
    return ProjectPage(items=[ProjectDetail.of(p) for p in items],
                       next_after=items[-1].name if len(items) == query.limit else None)


@operation(bp, "GET", "/projects/<name>", summary="A project", tag="projects", response=ProjectDetail,
           errors=NOT_FOUND)
def get_project(name: str):
    return ProjectDetail.of(services.get_project(name))


@operation(bp, "PATCH", "/projects/<name>", summary="Change a project", tag="projects", body=ProjectUpdate,
           response=ProjectDetail, errors=NOT_FOUND)
def update_project(name: str, body: ProjectUpdate):
    return ProjectDetail.of(services.update_project(name, **body.model_dump(exclude_unset=True)))


@operation(bp, "POST", "/projects/<name>/archive", summary="Archive a project", tag="projects",
           response=ProjectDetail, errors=NOT_FOUND)
def archive_project(name: str):
    return ProjectDetail.of(services.set_archived(name, True))


@operation(bp, "POST", "/projects/<name>/unarchive", summary="Unarchive a project", tag="projects",
           response=ProjectDetail, errors=NOT_FOUND)
def unarchive_project(name: str):
    return ProjectDetail.of(services.set_archived(name, False))


@operation(bp, "POST", "/projects/<name>/runs", summary="Start a training run", tag="runs", response=RunInfo,
           body=RunCreate, body_required=False,
           errors={400: "The dataset or config is missing under the training dir", **NOT_FOUND,
                   409: "The project is archived, or an active run already writes to the config's output_dir"})
def create_run(name: str, body: RunCreate):
    """Checks the project's dataset and config under the training dir, then queues the run;
    the supervisor starts it (status `running`, progress 0.05) or records why it failed."""
    return RunInfo.of(runs.create_run(name, created_by=current_user.id, gpus=body.gpus))


@operation(bp, "GET", "/projects/<name>/runs", summary="Runs of a project", tag="runs", query=RunQuery,
           response=list[RunInfo], errors=NOT_FOUND)
def project_runs(name: str, query: RunQuery):
    return [RunInfo.of(r) for r in runs.list_runs(name, query.status or None, query.before, query.limit)]
