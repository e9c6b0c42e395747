"""Health endpoints (public: load balancers and the deployment manager call them)."""
from typing import Literal

from flask import jsonify
from pydantic import BaseModel

from portal.api import bp
from portal.api.spec import operation
from portal.auth.access import public, signed_in
from portal.health import services


class Healthz(BaseModel):
    status: Literal["ok"]


class InternalHealth(BaseModel):
    """Anyone sees `status`; the details (host:pid, disk sizes, database) need a user or token."""

    status: Literal["ok", "degraded"]
    database: dict | None = None
    supervisor: dict | None = None
    disk: dict | None = None
    executor: str | None = None


@public
@operation(bp, "GET", "/healthz", summary="Liveness", tag="health", response=Healthz)
def healthz():
    """Answers as long as the web process serves requests."""
    return {"status": "ok"}


@public
@operation(bp, "GET", "/_internal/health", summary="Internal health report", tag="health",
           response=InternalHealth, errors={503: "The database cannot be reached"})
def internal_health():
    """Database reachable, the supervisor lease holder and its last heartbeat, free disk.

    Public callers (load balancers) get the status only; the details are for signed-in callers."""
    report = services.report()
    shown = report if signed_in() else {"status": report["status"]}
    response = jsonify(InternalHealth.model_validate(shown).model_dump(mode="json", exclude_none=True))
    response.status_code = 200 if report["database"]["ok"] else 503
    return response
