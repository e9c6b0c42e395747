"""De-identification policies written by users (built-ins live in policies.py) and dataset jobs."""
from datetime import datetime

from sqlalchemy import JSON, BigInteger, DateTime, ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from portal.extensions import db
from portal.timeutil import utcnow


class DeidPolicy(db.Model):
    __tablename__ = "deid_policies"

    # the slug is the key: it is what clients send as `policy_id` and what URLs carry
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    yaml: Mapped[str] = mapped_column(Text)
    description: Mapped[str] = mapped_column(Text, default="")
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, onupdate=utcnow)


class DeidJob(db.Model):
    """De-identifying one dataset file into a new file of the same dataset, in the background."""
    __tablename__ = "deid_jobs"

    id: Mapped[int] = mapped_column(primary_key=True)
    dataset_id: Mapped[str] = mapped_column(ForeignKey("datasets.id", ondelete="CASCADE"), index=True)
    source_id: Mapped[str] = mapped_column(String(36))  # the upload_id of the file it reads
    policy_id: Mapped[str] = mapped_column(String(64))
    fields: Mapped[list | None] = mapped_column(JSON)  # dotted paths; None: every string value
    seed: Mapped[int | None]
    with_mapping: Mapped[bool] = mapped_column(default=False)
    status: Mapped[str] = mapped_column(String(16), default="queued")  # queued running succeeded failed
    bytes_total: Mapped[int] = mapped_column(BigInteger, default=0)
    bytes_done: Mapped[int] = mapped_column(BigInteger, default=0)
    output_id: Mapped[str | None] = mapped_column(String(36))  # the upload_id of the file it wrote
    counts: Mapped[dict | None] = mapped_column(JSON)  # records, entities per type, per field
    samples: Mapped[list | None] = mapped_column(JSON)  # before/after pairs: admins only
    mapping_file: Mapped[str | None] = mapped_column(String(500))  # admins only
    error: Mapped[str] = mapped_column(String(500), default="")
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    ended_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    @property
    def progress(self) -> float:
        return 1.0 if self.status == "succeeded" else (self.bytes_done / self.bytes_total if self.bytes_total else 0.0)
