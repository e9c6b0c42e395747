"""Datasets and their files; a file row is also its upload, from the first byte to validation."""
from datetime import datetime

from sqlalchemy import JSON, BigInteger, DateTime, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.extensions import db
from portal.timeutil import utcnow

# receiving → validating → ready | invalid; receiving → aborted | failed
IN_FLIGHT = ("receiving",)
COMPLETE = ("validating", "ready", "invalid")


class Dataset(db.Model):
    __tablename__ = "datasets"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)  # a UUID, as the original's
    name: Mapped[str] = mapped_column(String(64), unique=True)  # also the folder under datasets/
    type: Mapped[str] = mapped_column(String(32), default="")
    description: Mapped[str] = mapped_column(Text, default="")
    task_type: Mapped[str] = mapped_column(String(32), default="")
    # `metadata` is reserved on declarative models, hence the attribute name
    meta: Mapped[dict] = mapped_column("metadata", JSON, default=dict)
    train_config: Mapped[str | None] = mapped_column(String(200))  # a training config's name
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, onupdate=utcnow)

    files: Mapped[list["DatasetFile"]] = relationship(back_populates="dataset", order_by="DatasetFile.created_at",
                                                      cascade="all, delete-orphan", passive_deletes=True)


class DatasetFile(db.Model):
    __tablename__ = "dataset_files"
    __table_args__ = (Index("ix_dataset_files_status_updated_at", "status", "updated_at"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True)  # the upload_id
    dataset_id: Mapped[str] = mapped_column(ForeignKey("datasets.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(255))  # the sanitized file name
    stored_name: Mapped[str] = mapped_column(String(300))  # <upload_id>_<name>
    kind: Mapped[str] = mapped_column(String(16))  # multipart | raw | resumable
    status: Mapped[str] = mapped_column(String(16), default="receiving")
    error: Mapped[str] = mapped_column(String(500), default="")
    bytes_expected: Mapped[int | None] = mapped_column(BigInteger)
    bytes_received: Mapped[int] = mapped_column(BigInteger, default=0)  # the resumable offset
    # raised by every resumable chunk: a worker's running sha256 is valid only for the generation it wrote
    write_generation: Mapped[int] = mapped_column(default=0, server_default="0")
    sha256: Mapped[str | None] = mapped_column(String(64))
    format: Mapped[str | None] = mapped_column(String(16))  # alpaca | sharegpt | openai | text | …
    records: Mapped[int | None] = mapped_column(BigInteger)
    validated_bytes: Mapped[int] = mapped_column(BigInteger, default=0)  # validation progress
    report: Mapped[dict | None] = mapped_column(JSON)  # bad records with line numbers, notes
    stats: Mapped[dict | None] = mapped_column(JSON)  # chars per field: avg and max
    registered_as: Mapped[str | None] = mapped_column(String(200))  # its dataset_info.json entry
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    # touched by the writer every few MB, so the sweep can tell a live upload from an orphan
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, onupdate=utcnow)
    uploaded_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    dataset: Mapped[Dataset] = relationship(back_populates="files")

    @property
    def in_flight(self) -> bool:
        return self.status in IN_FLIGHT

    @property
    def complete(self) -> bool:
        return self.status in COMPLETE
