"""The conditional state change that runs and deployments share, and how a status reason is kept.

Each domain's `transitions.py` says what an end means for it (times, GPUs, ports, the event
table); the race rule is here once: an `UPDATE … WHERE id = … AND status IN (allowed) [AND when]`
that either wins or refreshes the loser's row to what the winner wrote. The supervisor's commits
are fenced by the lease (`portal/supervisor/lease.py`), so a transition it writes after losing the
lease fails with its whole transaction.
"""
from sqlalchemy import update

from portal.extensions import db
from portal.i18n import said


def conditional_update(row, to: str, allowed: tuple[str, ...], when=None, **values) -> bool:
    """Set `row`'s status to `to` (and `values`) if it is in `allowed` and `when` holds. True if it won."""
    model = type(row)
    where = [model.id == row.id, model.status.in_(allowed)] + ([when] if when is not None else [])
    won = db.session.execute(
        update(model).where(*where).values(status=to, **values)
        .execution_options(synchronize_session="fetch")).rowcount == 1
    if not won:
        db.session.refresh(row)
    return won


def reason(message) -> dict:
    """A status reason as its row keeps it: `status_reason` in English, `status_reason_i18n` the `N_()`
    message (`portal.i18n.said`), for `transition(..., **reason(...))`."""
    fields = said(message, limit=500)
    return {"status_reason": fields["message"], "status_reason_i18n": fields["i18n"]}
