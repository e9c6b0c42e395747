"""Training projects: what to train and how to run it."""
from datetime import datetime

from sqlalchemy import JSON, DateTime, ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from portal.extensions import db
from portal.timeutil import utcnow


class Project(db.Model):
    __tablename__ = "projects"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    description: Mapped[str] = mapped_column(Text, default="")
    owner: Mapped[str] = mapped_column(String(64), default="", index=True)
    tags: Mapped[list] = mapped_column(JSON, default=list)
    dataset_name: Mapped[str] = mapped_column(String(500), default="")
    training_yaml_name: Mapped[str] = mapped_column(String(500), default="")
    status: Mapped[str] = mapped_column(String(16), default="active")  # active | archived
    # execution settings; None means "the server's setting"
    executor: Mapped[str | None] = mapped_column(String(16))
    container: Mapped[str | None] = mapped_column(String(200))
    workdir: Mapped[str | None] = mapped_column(String(500))
    start_command: Mapped[str | None] = mapped_column(Text)
    gpus_per_run: Mapped[int] = mapped_column(default=0)
    env: Mapped[dict] = mapped_column(JSON, default=dict)
    stop_signal: Mapped[str] = mapped_column(String(16), default="SIGTERM")
    grace_seconds: Mapped[int] = mapped_column(default=30)
    # the Slurm executor's job settings (see projects.services.SLURM_FIELDS); unset keys: the server's
    slurm: Mapped[dict] = mapped_column(JSON, default=dict, server_default="{}")
    # the idle-GPU guard: stop a run whose GPUs all stay below this utilisation (%) for this long (0: off)
    idle_gpu_percent: Mapped[int] = mapped_column(default=0, server_default="0")
    idle_gpu_minutes: Mapped[int] = mapped_column(default=0, server_default="0")
    # which checkpoints a clean-up keeps and what it does to the rest (see portal/runs/cleanup.py)
    cleanup: Mapped[dict] = mapped_column(JSON, default=dict, server_default="{}")
    runs_created: Mapped[int] = mapped_column(default=0, server_default="0")  # hands out run numbers
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, onupdate=utcnow)
