"""The one function that changes a deployment's status (the runs' pattern, `portal/runs/transitions.py`).

The shared race rule (`portal/supervisor/transition.py`), the event row, the notification
outbox's event, and for an end the
release of its GPUs and port, in the caller's transaction; the supervisor's commits are fenced by
the lease.
"""
from portal.deployments.models import ENDED, Deployment, DeploymentEvent
from portal.extensions import db
from portal.notify import outbox
from portal.supervisor import placement, ports
from portal.i18n import said
from portal.supervisor.transition import conditional_update
from portal.timeutil import utcnow


def transition(item: Deployment, to: str, allowed: tuple[str, ...], message, level: str = "info",
               when=None, **values) -> bool:
    """Move `item` from one of `allowed` to `to` (setting `values`), with its event. True if it won.

    `message` is an `N_()` message or plain text; `when` is an extra condition on the row.
    """
    if to in ENDED:
        values = {"stopped_at": utcnow(), "health_ok": False, **values}
    before = item.status
    if not conditional_update(item, to, allowed, when, **values):
        return False
    log_event(item, message, level)
    outbox.deployment_changed(item, before, message, values)
    if to in ENDED:
        placement.release("deployment", item.id)
        ports.release("deployment", item.id)
    return True


def log_event(item: Deployment, message, level: str = "info") -> None:
    db.session.add(DeploymentEvent(deployment_id=item.id, level=level, **said(message)))
