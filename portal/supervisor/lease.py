"""A fenced database lease: exactly one supervisor acts at a time, and only while it holds it.

A holder renews the lease every tick. When it dies, its lease expires after `ttl` seconds
and the next supervisor to try takes it over, raising the lease's `epoch`. Acquire and renew
are one conditional UPDATE (plus an INSERT the very first time), atomic on SQLite and
PostgreSQL alike. Times are Unix seconds from the holders' clocks, which share a host or NTP.

Fencing: while a supervisor acts it sets its `Fence` (holder + epoch) for the thread, and
every commit that thread makes first runs `UPDATE leases … WHERE holder = … AND epoch = …`
in the same transaction. The UPDATE locks the lease row (PostgreSQL) or holds the database's
write lock (SQLite), so a take-over cannot slip in between; when it matches no row, the
commit is refused with `LeaseLost` and nothing of that transaction is written. A paused or
partitioned old holder therefore cannot write anything once another took over.
"""
import logging
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass

from sqlalchemy import Float, Integer, String, event, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, Session, mapped_column

from portal.extensions import db

SUPERVISOR = "supervisor"
log = logging.getLogger("portal.supervisor")


class Lease(db.Model):
    __tablename__ = "leases"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    holder: Mapped[str] = mapped_column(String(200))
    epoch: Mapped[int] = mapped_column(Integer, default=1, server_default="1")
    acquired_at: Mapped[float] = mapped_column(Float)
    heartbeat_at: Mapped[float] = mapped_column(Float)
    expires_at: Mapped[float] = mapped_column(Float)


class LeaseLost(Exception):
    """This supervisor no longer holds the lease it acts under; it must stand by."""


def try_acquire(holder: str, ttl: float, name: str = SUPERVISOR, now: float | None = None) -> int | None:
    """Take or renew the lease for `holder`: its epoch, or None while someone else holds it."""
    now = time.time() if now is None else now
    table = Lease.__table__
    with unfenced():
        renewed = db.session.execute(
            update(table)
            .where(table.c.name == name, table.c.holder == holder)
            .values(heartbeat_at=now, expires_at=now + ttl)
            .returning(table.c.epoch)).scalar()
        if renewed is not None:
            db.session.commit()
            return renewed
        taken = db.session.execute(
            update(table)
            .where(table.c.name == name, table.c.expires_at < now)
            .values(holder=holder, epoch=table.c.epoch + 1, acquired_at=now, heartbeat_at=now, expires_at=now + ttl)
            .returning(table.c.epoch)).scalar()
        if taken is not None:
            db.session.commit()
            return taken
        try:
            db.session.execute(insert(table).values(
                name=name, holder=holder, epoch=1, acquired_at=now, heartbeat_at=now, expires_at=now + ttl))
            db.session.commit()
            return 1
        except IntegrityError:  # the row exists and is held by someone alive
            db.session.rollback()
            return None


def release(holder: str, name: str = SUPERVISOR) -> None:
    """Give the lease up at once (on clean shutdown) so a successor need not wait."""
    table = Lease.__table__
    with unfenced():
        db.session.execute(
            update(table).where(table.c.name == name, table.c.holder == holder).values(expires_at=0.0))
        db.session.commit()


def current(name: str = SUPERVISOR) -> Lease | None:
    return db.session.scalar(select(Lease).filter_by(name=name))


@dataclass(frozen=True)
class Fence:
    """The lease as one supervisor holds it: writes made under it fail once it moved on."""
    holder: str
    epoch: int
    name: str = SUPERVISOR

    def guard(self, session: Session) -> None:
        """In `session`'s transaction: lock the lease row if it is still ours, else raise LeaseLost."""
        table = Lease.__table__
        held = session.execute(
            update(table)
            .where(table.c.name == self.name, table.c.holder == self.holder, table.c.epoch == self.epoch)
            .values(epoch=self.epoch)).rowcount
        if held != 1:
            raise LeaseLost(f"{self.holder} lost the lease (epoch {self.epoch})")

    def holds(self) -> bool:
        """Whether the lease is still ours (checked right before an external effect, e.g. a launch)."""
        row = db.session.execute(select(Lease.holder, Lease.epoch).filter_by(name=self.name)).first()
        db.session.rollback()  # end the read so the next statement sees fresh data
        return row is not None and (row.holder, row.epoch) == (self.holder, self.epoch)


_local = threading.local()


@contextmanager
def acting(fence: Fence | None):
    """Fence every commit this thread makes inside the block (None: unfenced)."""
    previous = getattr(_local, "fence", None)
    _local.fence = fence
    try:
        yield
    finally:
        _local.fence = previous


def unfenced():
    return acting(None)


def fence_in_force() -> Fence | None:
    return getattr(_local, "fence", None)


def may_act() -> bool:
    """In the pool, right before starting something outside the portal: is the lease still ours?"""
    fence = fence_in_force()
    return fence is None or fence.holds()


@contextmanager
def recorded_or_undone(undo, what: str):
    """Commit the record of a thing just started; if the lease moved on meanwhile, nobody would
    follow it: roll back and `undo()` it (kill what was started)."""
    try:
        yield
        db.session.commit()
    except LeaseLost:
        db.session.rollback()
        undo()
        log.warning("killed %s just started: this supervisor lost the lease meanwhile", what)


# A commit is fenced when its transaction writes: flushed ORM changes, changes about to be
# flushed, or an INSERT/UPDATE/DELETE run through the session. A read-only commit stays free
# (no extra write per run per tick).
_WRITES = "portal.fenced_writes"


@event.listens_for(Session, "after_flush")
def _flushed(session: Session, _context) -> None:
    session.info[_WRITES] = True


@event.listens_for(Session, "do_orm_execute")
def _executed(state) -> None:
    if state.is_insert or state.is_update or state.is_delete:
        state.session.info[_WRITES] = True


@event.listens_for(Session, "after_commit")
@event.listens_for(Session, "after_rollback")
def _ended(session: Session) -> None:
    session.info.pop(_WRITES, None)


@event.listens_for(Session, "before_commit")
def _guard_commit(session: Session) -> None:
    fence = fence_in_force()
    if fence is not None and (session.info.get(_WRITES) or session.new or session.dirty or session.deleted):
        fence.guard(session)
