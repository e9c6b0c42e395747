"""Training configs: the library (`train_configs`) and every saved version of each."""
from datetime import datetime

from sqlalchemy import JSON, DateTime, ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.extensions import db
from portal.timeutil import utcnow


class TrainConfig(db.Model):
    """A config in the library; its file is `configs/<name>.yaml` under the training dir."""

    __tablename__ = "train_configs"

    # the slug is the key: URLs, the file name and datasets' links all carry it
    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    # of the latest version: the name it was uploaded as, its size, digest and summary
    filename: Mapped[str] = mapped_column(String(255))
    size: Mapped[int]
    sha256: Mapped[str] = mapped_column(String(64))
    version: Mapped[int] = mapped_column(default=1)
    summary: Mapped[dict] = mapped_column(JSON, default=dict)  # kept so lists need not parse YAML
    is_current: Mapped[bool] = mapped_column(default=False)  # the one `/v1/train-config` answers with
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    versions: Mapped[list["TrainConfigVersion"]] = relationship(
        back_populates="config", cascade="all, delete-orphan", passive_deletes=True,
        order_by="desc(TrainConfigVersion.number)")

    @property
    def path(self) -> str:
        """Relative to the training dir: what a project's `training_yaml_name` says."""
        return f"configs/{self.name}.yaml"


class TrainConfigVersion(db.Model):
    """One saved content of a config; the highest number is what the file holds."""

    __tablename__ = "train_config_versions"
    __table_args__ = (UniqueConstraint("config_name", "number"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    config_name: Mapped[str] = mapped_column(ForeignKey("train_configs.name", ondelete="CASCADE"))
    number: Mapped[int]
    content: Mapped[str] = mapped_column(Text)
    filename: Mapped[str] = mapped_column(String(255))
    size: Mapped[int]
    sha256: Mapped[str] = mapped_column(String(64))
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    config: Mapped[TrainConfig] = relationship(back_populates="versions")
