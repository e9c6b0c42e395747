"""Our own signed webhook: JSON with the event, and an HMAC-SHA256 over "<timestamp>.<body>".

Receivers check `X-Portal-Signature` against their secret and reject old timestamps; the same
event keeps its `X-Portal-Event-Id` on every attempt, so a retried delivery can be recognised.
"""
import hashlib
import hmac
import json

from portal.notify import message as messages
from portal.notify.models import Event
from portal.timeutil import as_utc, utcnow

RUN_FIELDS = ("id", "project", "number", "status", "exit_code", "duration_seconds", "last_metrics", "reason")
DEPLOYMENT_FIELDS = ("id", "name", "model", "status", "port", "restart_count", "reason")


def signature(secret: str, timestamp: int, body: bytes) -> str:
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


def document(event: Event | None) -> dict:
    """The JSON body: {"version": 1, "id", "event", "occurred_at", "run" | "deployment"}."""
    if event is None:
        return {"version": 1, "id": None, "event": "test", "occurred_at": utcnow().isoformat()}
    payload = event.payload or {}
    body = {"version": 1, "id": event.id, "event": event.kind, "occurred_at": as_utc(event.occurred_at).isoformat()}
    if "run" in payload:
        run = payload["run"]
        body["run"] = {key: run.get(key) for key in RUN_FIELDS} | {"url": messages.link(messages.run_path(run["id"]))[0]}
    else:
        item = payload.get("deployment") or {}
        body["deployment"] = {key: item.get(key) for key in DEPLOYMENT_FIELDS} | {
            "url": messages.link(messages.deployment_path(item["id"]))[0]}
    if payload.get("rule"):
        body["rule"] = payload["rule"]
    return body


def build(channel, event, _message, now: float) -> dict:
    body = json.dumps(document(event), ensure_ascii=False, separators=(",", ":")).encode()
    timestamp = int(now)
    headers = {"X-Portal-Event": event.kind if event else "test", "X-Portal-Event-Id": event.id if event else "",
               "X-Portal-Timestamp": str(timestamp)}
    if channel.secret:
        headers["X-Portal-Signature"] = signature(channel.secret, timestamp, body)
    return {"url": channel.url, "headers": headers, "body": body}


def accepted(reply) -> bool:
    return reply.status is not None and 200 <= reply.status < 300
