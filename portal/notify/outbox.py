"""The outbox: the event row a state change writes in its own transaction.

The transition functions of runs and deployments call these after their conditional UPDATE
won, before their caller commits; so a state change and its event are written together or
not at all, and a crash between the change and a delivery loses nothing: the supervisor
delivers what the outbox holds. The payload is a snapshot of the row as the change left it.
"""
from portal.extensions import db
from portal.i18n import english
from portal.notify.models import Event
from portal.timeutil import as_utc, utcnow

RUN_EVENTS = {"running": "run.started", "succeeded": "run.succeeded", "failed": "run.failed", "lost": "run.lost",
              "cancelled": "run.stopped"}
DEPLOYMENT_EVENTS = {"running": "deployment.running", "unhealthy": "deployment.unhealthy",
                     "failed": "deployment.failed"}


def _seconds(start, end) -> float | None:
    if start is None:
        return None
    return round((as_utc(end or utcnow()) - as_utc(start)).total_seconds(), 1)


def _reason(message) -> dict:
    return {"reason": english(message)[:500], "reason_i18n": message if isinstance(message, dict) else None}


def run_snapshot(run, message="") -> dict:
    return {"id": run.id, "project": run.project.name, "number": run.number, "status": run.status,
            "exit_code": run.exit_code, "duration_seconds": _seconds(run.started_at, run.ended_at),
            "last_metrics": dict(run.last_metrics or {}), **_reason(message)}


def run_changed(run, before: str, message) -> None:
    """After `run` moved from `before` to its status: its event, if the change is one we report."""
    kind = RUN_EVENTS.get(run.status)
    if kind is None or (kind == "run.started" and before == "running"):
        return
    db.session.add(Event(kind=kind, run_id=run.id, project=run.project.name,
                         payload={"run": run_snapshot(run, message)}))


def deployment_changed(item, before: str, message, values: dict) -> None:
    """After a deployment moved: running, unhealthy, failed, and pending again for a restart."""
    kind = DEPLOYMENT_EVENTS.get(item.status)
    if item.status == "pending" and "restart_count" in values:
        kind = "deployment.restarted"
    if kind is None or before == item.status:
        return
    payload = {"id": item.id, "name": item.served_model_name, "model": item.model_path, "status": item.status,
               "port": item.port, "restart_count": item.restart_count, **_reason(message)}
    db.session.add(Event(kind=kind, deployment_id=item.id, payload={"deployment": payload}))


def rule_fired(run, channel_id: int, rule: dict) -> None:
    """A channel's rule fired for `run`: an event for that channel alone."""
    db.session.add(Event(kind="run.rule", run_id=run.id, project=run.project.name, channel_id=channel_id,
                         payload={"run": run_snapshot(run), "rule": rule}))
