"""The one function that changes a run's status.

A conditional `UPDATE runs SET status = … WHERE id = … AND status IN (allowed)`, the run's
event row and (for an end) the release of its GPUs, in the caller's transaction: the caller
commits, and when the supervisor commits, the lease fence (`portal/supervisor/lease.py`)
makes the same transaction fail if the lease moved on. The result says whether it won; a lost
race leaves the row as the winner wrote it and the in-memory run refreshed to match.
"""
from sqlalchemy import update

from portal.extensions import db
from portal.runs.models import ENDED, Run, RunLog
from portal.supervisor import placement
from portal.timeutil import utcnow


def transition(run: Run, to: str, allowed: tuple[str, ...], message: str, level: str = "info", when=None,
               **values) -> bool:
    """Move `run` from one of `allowed` to `to` (setting `values`), with its event. True if it won.

    `when` is an extra condition on the row (e.g. `Run.handle.is_(None)`), checked in the same UPDATE.
    """
    if to in ENDED:
        values = {"ended_at": utcnow(), "eta_seconds": None, **values}
    where = [Run.id == run.id, Run.status.in_(allowed)] + ([when] if when is not None else [])
    won = db.session.execute(
        update(Run).where(*where).values(status=to, **values)
        .execution_options(synchronize_session="fetch")).rowcount == 1
    if not won:
        db.session.refresh(run)
        return False
    db.session.add(RunLog(run_id=run.id, level=level, message=message))
    if to in ENDED:
        placement.release("run", run.id)
    return True


def log_event(run: Run, message: str, level: str = "info") -> None:
    """Add a portal event to a run's log that changes no state (committed by the caller)."""
    db.session.add(RunLog(run_id=run.id, level=level, message=message))
