"""GPU placement for runs and deployments alike, decided in the database.

A GPU is held by at most one holder because `gpu_allocations` has one row per (host, GPU
UUID): two processes choosing the same GPU at the same instant cannot both insert it, and
the one that loses simply tries again on its next tick. Allocations are written in the same
transaction as the state change that needs them, and released with the one that ends it.
Executors whose scheduler places GPUs itself (Slurm) `record` what it gave instead.
"""
import socket
from datetime import datetime

from sqlalchemy import DateTime, String, UniqueConstraint, delete, insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, mapped_column

from portal.extensions import db
from portal.timeutil import utcnow

HOLDER_KINDS = ("run", "deployment")


class GpuAllocation(db.Model):
    __tablename__ = "gpu_allocations"
    __table_args__ = (UniqueConstraint("host", "gpu_uuid"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    host: Mapped[str] = mapped_column(String(255))
    gpu_uuid: Mapped[str] = mapped_column(String(100))
    holder_kind: Mapped[str] = mapped_column(String(16))  # run | deployment
    holder_id: Mapped[str] = mapped_column(String(64), index=True)
    allocated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


def this_host() -> str:
    return socket.gethostname()


def held(host: str | None = None) -> dict[str, tuple[str, str]]:
    """{GPU UUID: (holder kind, holder id)} on `host` (default: this one)."""
    rows = db.session.execute(select(GpuAllocation.gpu_uuid, GpuAllocation.holder_kind, GpuAllocation.holder_id)
                              .where(GpuAllocation.host == (host or this_host())))
    return {uuid: (kind, holder) for uuid, kind, holder in rows}


def allocate(kind: str, holder_id, count: int, inventory: list[str], host: str | None = None) -> list[str] | None:
    """Give `count` free GPUs of `inventory` (UUIDs in order) to the holder, or None.

    Call it first in a transaction: None when too few are free; when another process took
    one of them at the same instant it is None too, and the transaction was rolled back.
    """
    if count == 0:
        return []
    host = host or this_host()
    busy = held(host)
    free = [uuid for uuid in inventory if uuid not in busy][:count]
    if len(free) < count:
        return None
    return free if record(kind, holder_id, free, host) else None


def record(kind: str, holder_id, uuids: list[str], host: str | None = None) -> bool:
    """Hold exactly `uuids` on `host` (e.g. what a scheduler gave). False if one is held already.

    No savepoint: SQLite's Python driver would commit at its release. A lost race rolls back
    the caller's transaction, so call this before anything else in it.
    """
    assert kind in HOLDER_KINDS
    if not uuids:
        return True
    rows = [{"host": host or this_host(), "gpu_uuid": u, "holder_kind": kind, "holder_id": str(holder_id),
             "allocated_at": utcnow()} for u in uuids]
    try:
        db.session.execute(insert(GpuAllocation), rows)
    except IntegrityError:
        db.session.rollback()
        return False
    return True


def release(kind: str, holder_id) -> None:
    """Free every GPU the holder has (in the caller's transaction)."""
    db.session.execute(delete(GpuAllocation).where(GpuAllocation.holder_kind == kind,
                                                   GpuAllocation.holder_id == str(holder_id)))
