"""The portal's view of its own health: database, supervisor lease, disk space."""
import shutil
import time

from flask import current_app
from sqlalchemy import text

from portal.extensions import db
from portal.supervisor import lease


def _disk(path) -> dict:
    usage = shutil.disk_usage(path)
    return {"free_bytes": usage.free, "total_bytes": usage.total}


def report() -> dict:
    """A dict for /_internal/health and the dashboard; `status` is ok or degraded."""
    settings = current_app.config["PORTAL"]
    try:
        db.session.execute(text("SELECT 1"))
        database = {"ok": True, "dialect": db.engine.dialect.name}
        held = lease.current()
    except Exception as exc:  # the point of a health check is to report this, not raise it
        db.session.rollback()
        database = {"ok": False, "error": type(exc).__name__}
        held = None
    now = time.time()
    supervisor = {"holder": None, "heartbeat_at": None, "heartbeat_age_seconds": None, "alive": False}
    if held is not None:
        supervisor = {
            "holder": held.holder,
            "heartbeat_at": held.heartbeat_at,
            "heartbeat_age_seconds": round(now - held.heartbeat_at, 1),
            "alive": held.expires_at > now,
        }
    ok = database["ok"] and supervisor["alive"]
    return {
        "status": "ok" if ok else "degraded",
        "database": database,
        "supervisor": supervisor,
        "disk": {"data_dir": _disk(settings.data_dir), "training_dir": _disk(settings.training_dir)},
        "executor": settings.executor,
    }
