"""A database lease: exactly one supervisor acts at a time.

A holder renews the lease every tick. When it dies, its lease expires after `ttl` seconds
and the next supervisor to try takes it over. Acquire and renew are one conditional UPDATE
(plus an INSERT the very first time), which is atomic on SQLite and PostgreSQL alike.
Times are Unix seconds from the holders' clocks, which share a host or NTP.
"""
import time

from sqlalchemy import Float, String, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, mapped_column

from portal.extensions import db

SUPERVISOR = "supervisor"


class Lease(db.Model):
    __tablename__ = "leases"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    holder: Mapped[str] = mapped_column(String(200))
    acquired_at: Mapped[float] = mapped_column(Float)
    heartbeat_at: Mapped[float] = mapped_column(Float)
    expires_at: Mapped[float] = mapped_column(Float)


def try_acquire(holder: str, ttl: float, name: str = SUPERVISOR, now: float | None = None) -> bool:
    """Take or renew the lease for `holder`; False while someone else holds it."""
    now = time.time() if now is None else now
    table = Lease.__table__
    renewed = db.session.execute(
        update(table)
        .where(table.c.name == name, table.c.holder == holder)
        .values(heartbeat_at=now, expires_at=now + ttl))
    if renewed.rowcount:
        db.session.commit()
        return True
    taken = db.session.execute(
        update(table)
        .where(table.c.name == name, table.c.expires_at < now)
        .values(holder=holder, acquired_at=now, heartbeat_at=now, expires_at=now + ttl))
    if taken.rowcount:
        db.session.commit()
        return True
    try:
        db.session.execute(insert(table).values(
            name=name, holder=holder, acquired_at=now, heartbeat_at=now, expires_at=now + ttl))
        db.session.commit()
        return True
    except IntegrityError:  # the row exists and is held by someone alive
        db.session.rollback()
        return False


def release(holder: str, name: str = SUPERVISOR) -> None:
    """Give the lease up at once (on clean shutdown) so a successor need not wait."""
    table = Lease.__table__
    db.session.execute(
        update(table).where(table.c.name == name, table.c.holder == holder).values(expires_at=0.0))
    db.session.commit()


def current(name: str = SUPERVISOR) -> Lease | None:
    return db.session.scalar(select(Lease).filter_by(name=name))
