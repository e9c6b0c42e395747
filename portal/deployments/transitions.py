"""The one function that changes a deployment's status (the runs' pattern, `portal/runs/transitions.py`).

A conditional UPDATE from allowed states, the event row, and for an end the release of its
GPUs and port, in the caller's transaction; the supervisor's commits are fenced by the lease.
"""
from sqlalchemy import update

from portal.deployments.models import ENDED, Deployment, DeploymentEvent
from portal.extensions import db
from portal.supervisor import placement, ports
from portal.timeutil import utcnow


def transition(item: Deployment, to: str, allowed: tuple[str, ...], message: str, level: str = "info",
               when=None, **values) -> bool:
    """Move `item` from one of `allowed` to `to` (setting `values`), with its event. True if it won.

    `when` is an extra condition on the row, checked in the same UPDATE.
    """
    if to in ENDED:
        values = {"stopped_at": utcnow(), "health_ok": False, **values}
    where = [Deployment.id == item.id, Deployment.status.in_(allowed)] + ([when] if when is not None else [])
    won = db.session.execute(
        update(Deployment).where(*where)
        .values(status=to, **values).execution_options(synchronize_session="fetch")).rowcount == 1
    if not won:
        db.session.refresh(item)
        return False
    log_event(item, message, level)
    if to in ENDED:
        placement.release("deployment", item.id)
        ports.release("deployment", item.id)
    return True


def log_event(item: Deployment, message: str, level: str = "info") -> None:
    db.session.add(DeploymentEvent(deployment_id=item.id, level=level, message=message))
