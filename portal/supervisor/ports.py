"""Port reservations: never two servers on one port of one host.

vLLM binds with SO_REUSEPORT, so a second server on a taken port would not fail by itself;
`port_reservations` has one row per (host, port), and a port is also skipped while anything
on this host listens on it. Reserve in the transaction that records the server, release in
the one that ends it.
"""
import errno
import socket
from datetime import datetime

from sqlalchemy import DateTime, String, UniqueConstraint, delete, insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, mapped_column

from portal.extensions import db
from portal.supervisor.placement import HOLDER_KINDS, this_host
from portal.timeutil import utcnow


class PortReservation(db.Model):
    __tablename__ = "port_reservations"
    __table_args__ = (UniqueConstraint("host", "port"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    host: Mapped[str] = mapped_column(String(255))
    port: Mapped[int]
    holder_kind: Mapped[str] = mapped_column(String(16))
    holder_id: Mapped[str] = mapped_column(String(64), index=True)
    reserved_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


def in_use(port: int) -> bool:
    """Something on this host listens on `port` (a bind without SO_REUSEPORT fails)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        try:
            probe.bind(("0.0.0.0", port))
        except OSError as error:
            return error.errno in (errno.EADDRINUSE, errno.EACCES)
    return False


def reserve(kind: str, holder_id, ports: range, host: str | None = None, check_local: bool = True) -> int | None:
    """The lowest free port of `ports`, now held by the holder (in the caller's transaction), or None.

    Call it first in a transaction: when another process takes a port at the same instant, the
    transaction is rolled back (no savepoint: SQLite's Python driver would commit at its release)
    and the next port is tried.
    """
    assert kind in HOLDER_KINDS
    host = host or this_host()
    taken = set(db.session.scalars(select(PortReservation.port).where(
        PortReservation.host == host, PortReservation.port >= ports.start, PortReservation.port < ports.stop)))
    for port in ports:
        if port in taken or (check_local and in_use(port)):
            continue
        try:
            db.session.execute(insert(PortReservation).values(
                host=host, port=port, holder_kind=kind, holder_id=str(holder_id), reserved_at=utcnow()))
        except IntegrityError:
            db.session.rollback()
            continue
        return port
    return None


def release(kind: str, holder_id) -> None:
    db.session.execute(delete(PortReservation).where(PortReservation.holder_kind == kind,
                                                     PortReservation.holder_id == str(holder_id)))


def reserved(host: str | None = None) -> dict[int, tuple[str, str]]:
    rows = db.session.execute(select(PortReservation.port, PortReservation.holder_kind, PortReservation.holder_id)
                              .where(PortReservation.host == (host or this_host())))
    return {port: (kind, holder) for port, kind, holder in rows}
