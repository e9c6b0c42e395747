"""Deployments (vLLM servers) and their events."""
import uuid
from datetime import datetime

from sqlalchemy import JSON, Boolean, DateTime, Float, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from portal.extensions import db
from portal.i18n import translated
from portal.timeutil import utcnow

SPAWNED = ("starting", "running", "unhealthy")  # a server process is (or should be) up
LIVE = ("pending", *SPAWNED, "stopping")  # holds its GPUs and its port
ENDED = ("stopped", "failed")


class Deployment(db.Model):
    __tablename__ = "deployments"
    __table_args__ = (Index("ix_deployments_status", "status"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=lambda: str(uuid.uuid4()))
    model_path: Mapped[str] = mapped_column(String(1000))  # as the user gave it
    model: Mapped[str] = mapped_column(String(1000))  # what vLLM is given: a resolved path or a hub id
    model_version: Mapped[str] = mapped_column(String(100), default="")
    tags: Mapped[list] = mapped_column(JSON, default=list)
    extra_args: Mapped[str] = mapped_column(Text, default="")
    preferred_gpu: Mapped[int | None]
    health_path: Mapped[str] = mapped_column(String(200), default="/health")
    served_model_name: Mapped[str] = mapped_column(String(200))
    tensor_parallel_size: Mapped[int] = mapped_column(default=1)
    gpu_memory_utilization: Mapped[float] = mapped_column(Float, default=0.9)
    max_model_len: Mapped[int | None]
    lora_adapters: Mapped[list] = mapped_column(JSON, default=list)  # [{name, path, base_model_name, rank}]
    executor: Mapped[str] = mapped_column(String(16), default="local")
    status: Mapped[str] = mapped_column(String(16), default="pending")
    status_reason: Mapped[str] = mapped_column(String(500), default="")  # English, for the API
    status_reason_i18n: Mapped[dict | None] = mapped_column(JSON)  # the same as N_(), for pages
    gpus: Mapped[list] = mapped_column(JSON, default=list)  # UUIDs held
    gpu_indexes: Mapped[list] = mapped_column(JSON, default=list)
    port: Mapped[int | None]
    argv: Mapped[list] = mapped_column(JSON, default=list)  # the exact command of the current start
    env: Mapped[dict] = mapped_column(JSON, default=dict)  # what the portal adds to it
    handle: Mapped[dict | None] = mapped_column(JSON)  # pid + create time of the current start
    restart_count: Mapped[int] = mapped_column(default=0)  # starts after the first
    next_start_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))  # back-off, survives restarts
    health_ok: Mapped[bool] = mapped_column(Boolean, default=False)
    health_failures: Mapped[int] = mapped_column(default=0)
    last_health_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    server_metrics: Mapped[dict] = mapped_column(JSON, default=dict)  # last /metrics scrape
    stop_requested_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    stop_force: Mapped[bool] = mapped_column(Boolean, default=False)
    restart_requested: Mapped[bool] = mapped_column(Boolean, default=False)  # start again once stopped
    stop_sent_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    kill_sent_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    spawned_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))  # the current start
    started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))  # the first start
    stopped_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    @property
    def live(self) -> bool:
        return self.status in LIVE

    @property
    def pid(self) -> int | None:
        return (self.handle or {}).get("pid")

    @property
    def reason_text(self) -> str:
        """The status reason in the reader's language (older rows have only the English text)."""
        return translated(self.status_reason_i18n or self.status_reason)


class DeploymentEvent(db.Model):
    __tablename__ = "deployment_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    deployment_id: Mapped[str] = mapped_column(ForeignKey("deployments.id", ondelete="CASCADE"), index=True)
    level: Mapped[str] = mapped_column(String(8), default="info")
    message: Mapped[str] = mapped_column(Text)  # English, for the API
    i18n: Mapped[dict | None] = mapped_column(JSON)  # the same as N_(), shown in the reader's language
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    @property
    def text(self) -> str:
        """The event in the reader's language (older rows have only the English text)."""
        return translated(self.i18n or self.message)
