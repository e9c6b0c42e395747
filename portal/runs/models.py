"""Training runs, their portal events (`logs`), metric points and artifacts."""
from datetime import datetime

from sqlalchemy import JSON, DateTime, Float, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.extensions import db
from portal.i18n import translated
from portal.projects.models import Project
from portal.timeutil import utcnow

STARTED = ("starting", "running", "stopping")  # the supervisor follows these; they hold their GPUs
ACTIVE = ("queued", *STARTED)
ENDED = ("succeeded", "failed", "cancelled", "lost")


class Run(db.Model):
    __tablename__ = "runs"
    __table_args__ = (UniqueConstraint("project_id", "number"), Index("ix_runs_status_id", "status", "id"))

    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"), index=True)
    number: Mapped[int]
    status: Mapped[str] = mapped_column(String(16), default="queued")
    status_reason: Mapped[str] = mapped_column(String(500), default="")  # English, for the API
    status_reason_i18n: Mapped[dict | None] = mapped_column(JSON)  # the same as N_(), for pages
    progress: Mapped[float] = mapped_column(Float, default=0.0)
    step: Mapped[int | None]
    total_steps: Mapped[int | None]
    # "loading" while data and model loading bars run before training (they never move progress)
    phase: Mapped[str] = mapped_column(String(16), default="", server_default="")
    eta_seconds: Mapped[float | None] = mapped_column(Float)
    last_metrics: Mapped[dict] = mapped_column(JSON, default=dict)  # latest value of each key
    # raised by every batch of metric points: a chart series cached at this version is still whole
    metrics_version: Mapped[int] = mapped_column(default=0, server_default="0")
    # what was launched, frozen at creation so editing the project never changes a run
    executor: Mapped[str] = mapped_column(String(16))
    argv: Mapped[list] = mapped_column(JSON)
    workdir: Mapped[str] = mapped_column(String(500))
    container: Mapped[str | None] = mapped_column(String(200))
    env: Mapped[dict] = mapped_column(JSON, default=dict)
    # what the run used, recorded at queue time (config text, dataset digest, masked env):
    # deferred, as the config text may be a MiB and lists never show it
    snapshot: Mapped[dict] = mapped_column(JSON, default=dict, server_default="{}", deferred=True)
    # where the run's outputs are (trainer_log.jsonl, checkpoints), as its executor sees them: the
    # one place every reader looks, decided at queue time by portal/runs/outputs.py, which also
    # says why there (`output_source`: config, command or portal)
    output_dir: Mapped[str] = mapped_column(String(500))
    output_source: Mapped[str] = mapped_column(String(16), default="portal", server_default="portal")
    # the run's folder name (portal data dir, and run root in a container): unique even when
    # a database is reset or two portals share a container, so no run appends to another's files
    folder: Mapped[str] = mapped_column(String(64), default="")
    gpu_count: Mapped[int] = mapped_column(default=0)
    gpus: Mapped[list] = mapped_column(JSON, default=list)  # UUIDs held while active
    stop_signal: Mapped[str] = mapped_column(String(16), default="SIGTERM")
    grace_seconds: Mapped[int] = mapped_column(default=30)
    # how the supervisor finds what it launched again after a restart
    handle: Mapped[dict | None] = mapped_column(JSON)
    exit_code: Mapped[int | None]
    stop_requested_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    stop_sent_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    kill_sent_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))  # SIGKILL after the grace
    output_bytes: Mapped[int] = mapped_column(default=0)  # bytes in the portal's output.log
    parsed_bytes: Mapped[int] = mapped_column(default=0)  # of those, fed to the parser
    trainer_log_bytes: Mapped[int] = mapped_column(default=0)  # of trainer_log.jsonl, parsed
    tags: Mapped[list] = mapped_column(JSON, default=list, server_default="[]")  # a user's labels, for finding runs
    note: Mapped[str] = mapped_column(Text, default="", server_default="")  # free text a user keeps on the run
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    ended_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    project: Mapped[Project] = relationship(lazy="joined")

    @property
    def active(self) -> bool:
        return self.status in ACTIVE

    @property
    def reason_text(self) -> str:
        """The status reason in the reader's language (older rows have only the English text)."""
        return translated(self.status_reason_i18n or self.status_reason)


class RunLog(db.Model):
    """A portal event of a run (queued, started, stop requested, exit code…)."""
    __tablename__ = "logs"

    id: Mapped[int] = mapped_column(primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"), index=True)
    level: Mapped[str] = mapped_column(String(8), default="info")
    message: Mapped[str] = mapped_column(Text)  # English, for the API
    i18n: Mapped[dict | None] = mapped_column(JSON)  # the same as N_(), shown in the reader's language
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    @property
    def text(self) -> str:
        """The event in the reader's language (older rows have only the English text)."""
        return translated(self.i18n or self.message)


class Metric(db.Model):
    __tablename__ = "metrics"
    # the second index sorts runs by a metric's best value (portal/runs/search.py) from the index alone
    __table_args__ = (Index("ix_metrics_run_key_step", "run_id", "key", "step"),
                      Index("ix_metrics_key_run_value", "key", "run_id", "value"))

    id: Mapped[int] = mapped_column(primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"))
    key: Mapped[str] = mapped_column(String(100))
    step: Mapped[int | None]
    value: Mapped[float] = mapped_column(Float)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Artifact(db.Model):
    __tablename__ = "artifacts"
    __table_args__ = (UniqueConstraint("run_id", "path"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"), index=True)
    path: Mapped[str] = mapped_column(String(1000))  # relative to the run's output dir
    kind: Mapped[str] = mapped_column(String(32))  # checkpoint | weights | trainer_state
    size: Mapped[int] = mapped_column(default=0)
    modified_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    tags: Mapped[list] = mapped_column(JSON, default=list)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    run: Mapped[Run] = relationship()
