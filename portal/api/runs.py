"""Runs: detail, stop, re-run, portal events, raw output, metrics, artifacts."""
from datetime import date
from typing import Literal
from urllib.parse import quote

from flask import Response, stream_with_context
from flask_login import current_user
from pydantic import BaseModel, Field

from portal.api import bp
from portal.api.schemas import Id, Int32, Timestamp
from portal.api.spec import operation
from portal.errors import NotFound
from portal.i18n import _l
from portal.runs import cleanup, metrics, output, search, services

NOT_FOUND = {404: "No such run"}


class RunInfo(BaseModel):
    id: int
    project: str
    number: int
    status: str
    status_reason: str
    progress: float
    phase: str = Field("", description="loading: data and model loading bars run before training (progress stays)")
    step: int | None
    total_steps: int | None
    eta_seconds: float | None
    start_command: str = Field(description="the launched command (argv joined for display)")
    argv: list[str]
    executor: str
    container: str | None
    workdir: str
    output_dir: str = Field(description="where the run's outputs are read from (trainer_log.jsonl, checkpoints)")
    output_source: str = Field(description="why there: config (its output_dir), command (passes {output_dir}) "
                                           "or portal (neither: the portal's folder)")
    gpu_count: int
    gpus: list[str]
    exit_code: int | None
    metrics: dict[str, float] = Field(description="latest value of each metric")
    created_at: Timestamp
    started_at: Timestamp | None
    ended_at: Timestamp | None
    stop_requested_at: Timestamp | None
    tags: list[str] = Field(default_factory=list)
    note: str = ""
    duration_seconds: float | None = Field(None, description="from start to end (or now)")

    @classmethod
    def of(cls, r) -> "RunInfo":
        return cls(id=r.id, project=r.project.name, number=r.number, status=r.status,
                   status_reason=r.status_reason, progress=r.progress, phase=r.phase, step=r.step, total_steps=r.total_steps,
                   eta_seconds=r.eta_seconds, start_command=services.command_text(r), argv=r.argv,
                   executor=r.executor, container=r.container, workdir=r.workdir, output_dir=r.output_dir,
                   output_source=r.output_source,
                   gpu_count=r.gpu_count, gpus=r.gpus or [], exit_code=r.exit_code, metrics=r.last_metrics or {},
                   created_at=r.created_at, started_at=r.started_at, ended_at=r.ended_at,
                   stop_requested_at=r.stop_requested_at, tags=r.tags or [], note=r.note or "",
                   duration_seconds=services.duration(r))


class ConfigUsed(BaseModel):
    path: str = Field(description="relative to the training dir, as the run read it")
    name: str | None = Field(description="the library config whose version holds this text, if any")
    version: int | None
    sha256: str
    size: int
    text: str | None = Field(description="the full text (None when larger than PORTAL_MAX_CONFIG_BYTES)")


class DatasetUsed(BaseModel):
    path: str
    size: int
    mtime: str
    sha256: str | None
    sha256_from: str | None = Field(description="upload, supervisor (hashed before the launch), pending, "
                                                "or size_mtime (too large to hash: known by size and mtime)")


class RunSnapshot(BaseModel):
    """What the run used, recorded when it was queued; later edits of the config do not change it."""
    config: ConfigUsed
    dataset: DatasetUsed
    argv: list[str]
    workdir: str
    executor: str
    container: str | None
    gpu_count: int
    gpus: list[str] = Field(description="the GPUs it was given, recorded at launch")
    env: dict[str, str] = Field(description="values of names with TOKEN, KEY, SECRET or PASSWORD masked")


class RunDetail(RunInfo):
    snapshot: RunSnapshot | None = Field(description="None for runs queued before snapshots were recorded")

    @classmethod
    def of(cls, r) -> "RunDetail":
        return cls(**RunInfo.of(r).model_dump(), snapshot=r.snapshot or None)


class RerunQuery(BaseModel):
    mode: Literal[services.RERUN_MODES] = Field(
        "current", description="current: the project's settings now; snapshot: the config text and dataset "
                               "this run recorded")


class RunsQuery(BaseModel):
    status: str = Field("", description="comma-separated statuses")
    project: str = Field("", max_length=64)
    user: str = Field("", max_length=64, description="who queued it (username)")
    tag: str = Field("", max_length=40)
    since: date | None = Field(None, description="created on or after this day (UTC)")
    until: date | None = Field(None, description="created on or before this day (UTC)")
    q: str = Field("", max_length=200, description="search: project name, note, run number")
    sort: Literal["created", "duration", "metric"] = "created"
    key: str = Field(search.BEST_KEY, max_length=100, description="the metric of sort=metric (its best value)")
    order: Literal["desc", "asc"] = "desc"
    before: Id | None = Field(None, description="keyset cursor (sort=created): the last id of the previous page")
    page: int = Field(0, ge=0, le=search.MAX_PAGE, description="page number for the other sorts")
    limit: int = Field(50, ge=1, le=200)


class RunPatch(BaseModel):
    tags: list[str] | None = Field(None, max_length=services.RUN_TAGS)
    note: str | None = Field(None, max_length=services.NOTE_BYTES)


class LogEntry(BaseModel):
    id: int
    level: str
    message: str
    created_at: Timestamp


class LogsQuery(BaseModel):
    after: Id = Field(0, description="cursor: the last id already seen")
    limit: int = Field(200, ge=1, le=1000)


class LogPage(BaseModel):
    items: list[LogEntry]
    next_after: int


class OutputQuery(BaseModel):
    offset: Id = Field(0, description="byte offset to read from")
    limit: int = Field(output.PAGE, ge=1, le=output.PAGE)
    tail: int | None = Field(None, ge=1, le=5000, description="instead: the last N lines")


class OutputPage(BaseModel):
    offset: int
    next_offset: int
    size: int
    data: str
    complete: bool = Field(description="the run has ended and nothing is left to read")


class MetricsQuery(BaseModel):
    keys: str = Field("", description="comma-separated keys; empty: all")
    max_points: int = Field(2000, ge=10, le=10000)


class Series(BaseModel):
    steps: list[int]
    values: list[float]
    count: int
    downsampled: bool


class MetricsOut(BaseModel):
    run_id: int
    keys: list[str]
    groups: dict[str, list[str]] = Field(description="every recorded key by chart group (loss, eval, learning_rate, "
                                                     "grad_norm, throughput, system, other)")
    series: dict[str, Series]


class MetricPoint(BaseModel):
    key: str = Field(min_length=1, max_length=100)
    value: float = Field(allow_inf_nan=False)  # JSON has no NaN: a stored one would break every reader
    step: Int32 | None = None


class MetricBatch(BaseModel):
    metrics: list[MetricPoint] = Field(max_length=1000)


class ArtifactInfo(BaseModel):
    id: int
    run_id: int
    path: str
    kind: str
    size: int
    modified_at: Timestamp | None
    tags: list[str]
    step: int | None = Field(None, description="a checkpoint's step")
    metric: str | None = Field(None, description="the metric of the project's clean-up policy (default eval_loss)")
    metric_value: float | None = Field(None, description="that metric at the checkpoint's step")

    @classmethod
    def of(cls, a, checkpoint=None, metric: str | None = None) -> "ArtifactInfo":
        extra = {"step": checkpoint.step, "metric": metric, "metric_value": checkpoint.metric} if checkpoint else {}
        return cls(id=a.id, run_id=a.run_id, path=a.path, kind=a.kind, size=a.size, modified_at=a.modified_at,
                   tags=a.tags or [], **extra)


class ArtifactPatch(BaseModel):
    tags: list[str]


@operation(bp, "GET", "/v1/runs", summary="Runs across projects", tag="runs", query=RunsQuery,
           response=list[RunInfo])
def list_runs(query: RunsQuery):
    """Filtered, searched and sorted; sort=metric orders by each run's best value of `key`."""
    return [RunInfo.of(r) for r in search.find(search.RunFilter(**query.model_dump()))]


# not PATCH /v1/runs/{id}: werkzeug checks methods before converters, so a second method on that
# path would turn the 404 of an id past INTEGER (routing.IdConverter) into a 405
@operation(bp, "PATCH", "/v1/runs/<int:run_id>/annotations", summary="Tag a run or change its note", tag="runs",
           body=RunPatch, response=RunInfo, errors=NOT_FOUND)
def annotate_run(run_id: int, body: RunPatch):
    """Only the fields sent change."""
    return RunInfo.of(services.annotate(run_id, body.tags, body.note))


@operation(bp, "GET", "/v1/runs/<int:run_id>", summary="A run, with what it used", tag="runs", response=RunDetail,
           errors=NOT_FOUND)
def get_run(run_id: int):
    return RunDetail.of(services.get_run(run_id))


@operation(bp, "POST", "/v1/runs/<int:run_id>/stop", summary="Stop a run", tag="runs", response=RunInfo,
           errors={**NOT_FOUND, 409: "The run has already ended"})
def stop_run(run_id: int):
    """Queued: cancelled at once. Running: the stop signal, then SIGKILL after the grace period."""
    return RunInfo.of(services.request_stop(run_id, by=current_user.id))


@operation(bp, "POST", "/v1/runs/<int:run_id>/rerun", summary="Run the same project again", tag="runs",
           query=RerunQuery, response=RunDetail, errors={**NOT_FOUND, 409: "The run recorded no config text"})
def rerun(run_id: int, query: RerunQuery):
    return RunDetail.of(services.rerun(run_id, created_by=current_user.id, mode=query.mode))


@operation(bp, "GET", "/v1/runs/<int:run_id>/logs", summary="Portal events of a run", tag="runs",
           query=LogsQuery, response=LogPage, errors=NOT_FOUND)
def run_logs(run_id: int, query: LogsQuery):
    items = services.list_logs(run_id, query.after, query.limit)
    return LogPage(items=[LogEntry(id=e.id, level=e.level, message=e.message, created_at=e.created_at)
                          for e in items], next_after=items[-1].id if items else query.after)


@operation(bp, "GET", "/v1/runs/<int:run_id>/output", summary="Raw training output by byte offset", tag="runs",
           query=OutputQuery, response=OutputPage, errors=NOT_FOUND)
def run_output(run_id: int, query: OutputQuery):
    run = services.get_run(run_id)
    return output.tail(run, query.tail) if query.tail else output.read(run, query.offset, query.limit)


@operation(bp, "GET", "/v1/runs/<int:run_id>/output/download", summary="The whole training output as a file",
           tag="runs", errors={404: "No such run, or it wrote no output yet"})
def download_output(run_id: int):
    """Streamed as it is read, so a log of any size downloads without being held in memory."""
    run = services.get_run(run_id)
    blocks = output.stream(run)
    if blocks is None:
        raise NotFound(_l("run %(id)s has written no output yet", id=run.id))
    response = Response(stream_with_context(blocks), mimetype="text/plain; charset=utf-8")
    response.headers["Content-Disposition"] = (
        f"attachment; filename*=UTF-8''{quote(f'{run.project.name}-run{run.number}-output.log')}")
    return response


@operation(bp, "GET", "/v1/runs/<int:run_id>/metrics", summary="Metric series, downsampled", tag="runs",
           query=MetricsQuery, response=MetricsOut, errors=NOT_FOUND)
def run_metrics(run_id: int, query: MetricsQuery):
    run = services.get_run(run_id)
    wanted = [k for k in query.keys.split(",") if k]
    return MetricsOut(run_id=run_id, keys=sorted(run.last_metrics or {}), groups=metrics.grouped(run.last_metrics or {}),
                      series=metrics.series(run, wanted, query.max_points))


@operation(bp, "POST", "/v1/runs/<int:run_id>/metrics", summary="Push metric points (batched)", tag="runs",
           body=MetricBatch, response=dict, errors=NOT_FOUND)
def push_metrics(run_id: int, body: MetricBatch):
    return {"accepted": metrics.push(run_id, [p.model_dump() for p in body.metrics])}


@operation(bp, "GET", "/v1/runs/<int:run_id>/artifacts", summary="Artifacts of a run", tag="runs",
           response=list[ArtifactInfo], errors=NOT_FOUND)
def run_artifacts(run_id: int):
    """Checkpoints come with their step and the clean-up policy's metric at that step; sizes are folder totals."""
    run = services.get_run(run_id)
    checkpoints, metric = {c.path: c for c in cleanup.describe(run)}, cleanup.policy_metric(run)
    return [ArtifactInfo.of(a, checkpoints.get(a.path), metric) for a in services.list_artifacts(run_id)]


@operation(bp, "PATCH", "/v1/artifacts/<int:artifact_id>", summary="Tag an artifact", tag="runs",
           body=ArtifactPatch, response=ArtifactInfo, errors={404: "No such artifact"})
def tag_artifact(artifact_id: int, body: ArtifactPatch):
    return ArtifactInfo.of(services.set_artifact_tags(artifact_id, body.tags))


@operation(bp, "GET", "/v1/artifacts/<int:artifact_id>/download", summary="Download an artifact", tag="runs",
           errors={404: "No such artifact, or no longer on disk", 409: "Its run's files cannot be read"})
def download_artifact(artifact_id: int):
    """A file as it is; a folder (a checkpoint) as a tar streamed while it is read."""
    name, kind, chunks = services.download_artifact(artifact_id)
    response = Response(stream_with_context(chunks), mimetype="application/x-tar" if kind == "tar"
                        else "application/octet-stream")
    response.headers["Content-Disposition"] = f"attachment; filename*=UTF-8''{quote(name)}"
    return response
