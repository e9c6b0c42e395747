"""Stalled uploads cannot take the portal's threads (issue 15.5), against a real gunicorn."""
import http.client
import json
import time

import pytest

from tests.datasets.streaming import send
from tests.support import wait_for

pytestmark = pytest.mark.slow
LIVE_SERVER_ENV = {"PORTAL_UPLOAD_IDLE_SECONDS": "3"}


@pytest.fixture
def dataset(live_server):
    status, body = live_server.call("POST", "/v1/datasets", {"name": "stalled"})
    assert status == 200, body
    return body["id"]


def stall(server, dataset, number):
    """An upload that announces 100 MB, sends 10 bytes and then nothing."""
    conn = server.conn(timeout=60)
    send(conn, "PUT", f"/v1/datasets/{dataset}/files", {
        **server.headers, "Content-Type": "application/octet-stream", "X-Filename": f"s{number}.jsonl"},
        100_000_000, [b'{"a": 1}\n' + b" "])
    return conn


def status_of(conn) -> int | None:
    try:
        response = conn.getresponse()
        response.read()
        return response.status
    except (OSError, http.client.HTTPException):
        return None


def test_sixteen_stalled_uploads_leave_health_answering(live_server, dataset):
    conns = [stall(live_server, dataset, number) for number in range(16)]
    try:
        started = time.monotonic()
        health = live_server.conn(timeout=10)
        health.request("GET", "/healthz")
        assert health.getresponse().status == 200
        assert time.monotonic() - started < 5, "healthz waited behind the stalled uploads"
        # four stream (PORTAL_MAX_UPLOADS_PER_USER) until their client has been silent for 3 s;
        # the other twelve were told 429 at once
        for conn in conns:
            conn.sock.settimeout(30)
        assert sorted(status_of(conn) for conn in conns) == [400] * 4 + [429] * 12
    finally:
        for conn in conns:
            conn.close()
    status, body = live_server.call("GET", f"/v1/datasets/{dataset}")
    assert status == 200 and all(f["status"] == "failed" for f in body.get("files", [])), json.dumps(body)[:500]
    assert wait_for(lambda: live_server.call("GET", "/healthz")[0] == 200, timeout=30)
