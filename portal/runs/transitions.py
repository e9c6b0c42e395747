"""The one function that changes a run's status.

The race rule is `portal/supervisor/transition.py`'s; here is what it means for a run: the
event row and the notification outbox's event in the same transaction, and at an end its end
time and the release of its GPUs. The
caller commits. The result says whether it won; a lost race leaves the row as the winner wrote it
and the in-memory run refreshed to match.
"""
from portal.extensions import db
from portal.i18n import said
from portal.notify import outbox
from portal.runs.models import ENDED, Run, RunLog
from portal.supervisor import placement
from portal.supervisor.transition import conditional_update, reason
from portal.timeutil import utcnow


def transition(run: Run, to: str, allowed: tuple[str, ...], message, level: str = "info", when=None,
               **values) -> bool:
    """Move `run` from one of `allowed` to `to` (setting `values`), with its event. True if it won.

    `message` is an `N_()` message (shown in the reader's language) or plain text; `when` is an
    extra condition on the row (e.g. `Run.handle.is_(None)`), checked in the same UPDATE.
    """
    if to in ENDED:
        values = {"ended_at": utcnow(), "eta_seconds": None, **values}
    if to in ("failed", "lost"):  # why it failed is the first thing its page says, not only an event
        values = {**reason(message), **values}
    before = run.status
    if not conditional_update(run, to, allowed, when, **values):
        return False
    log_event(run, message, level)
    outbox.run_changed(run, before, message)
    if to in ENDED:
        placement.release("run", run.id)
    return True


def log_event(run: Run, message, level: str = "info") -> None:
    """Add a portal event to a run's log that changes no state (committed by the caller)."""
    db.session.add(RunLog(run_id=run.id, level=level, **said(message)))
