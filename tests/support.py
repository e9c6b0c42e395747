"""Integration-service gates shared by the tests.

A test that needs a real service calls ``require("docker")`` (or slurm, postgres, browser).
Locally a missing service skips the test; when ``PORTAL_TEST_REQUIRE`` names the service
(``.ci/run`` sets it to every service) a missing service fails the test instead, so CI can
never go green by skipping.
"""
import os
import time

import pytest

#: environment variable that `scripts/services env` exports for each service
SERVICE_ENV = {
    "docker": "PORTAL_TEST_DOCKER_CONTAINER",
    "slurm": "PORTAL_TEST_SLURM_PARTITION",
    "postgres": "PORTAL_TEST_DATABASE_URL",
    "browser": "PORTAL_TEST_CHROMIUM",
}


def required_services() -> set[str]:
    raw = os.environ.get("PORTAL_TEST_REQUIRE", "")
    return {name.strip() for name in raw.split(",") if name.strip()}


def require(service: str) -> str:
    """Return the service's setting, or skip (fail when required) if it is absent."""
    value = os.environ.get(SERVICE_ENV[service], "")
    if value:
        return value
    message = f"{service} is not available: {SERVICE_ENV[service]} is unset (run `scripts/services up`)"
    if service in required_services():
        pytest.fail(message, pytrace=False)
    pytest.skip(message)


def wait_for(predicate, timeout: float = 30.0, interval: float = 0.1):
    """Poll `predicate` until it returns something truthy (returned), or fail after `timeout`."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s")


def ticking(sup, predicate, timeout: float = 60.0):
    """Tick the supervisor `sup` until `predicate()` is truthy (returned), or fail after `timeout`."""
    def check():
        sup.tick()
        return predicate()
    return wait_for(check, timeout, interval=0.05)


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Ticker:
    """Ticks a supervisor until the thing at `url` (formatted with its id) has one of the wanted
    statuses, and `fields` too (bounded by `timeout`)."""

    def __init__(self, sup, client, headers, url: str, timeout: float = 30.0):
        self.sup, self.client, self.headers, self.url, self.timeout = sup, client, headers, url, timeout

    def get(self, key) -> dict:
        return self.client.get(self.url.format(key), headers=self.headers).get_json()

    def until(self, key, *wanted: str, timeout: float | None = None, **fields) -> dict:
        timeout = self.timeout if timeout is None else timeout
        deadline = time.monotonic() + timeout
        while True:
            self.sup.tick()
            item = self.get(key)
            if item["status"] in wanted and all(item.get(name) == value for name, value in fields.items()):
                return item
            if time.monotonic() > deadline:
                raise AssertionError(f"{self.url.format(key)} is {item['status']}, not {wanted} {fields or ''} "
                                     f"after {timeout}s")
            time.sleep(0.1)


def supervisor_process(app, log_path=None, **settings: str):
    """`flask --app wsgi supervisor` on `app`'s database and folders, in a session of its own.

    Tick 0.2 s and lease 1.5 s unless `settings` (PORTAL_* names) say otherwise; its log goes to
    `log_path` when given. Stop it with os.killpg (the `procs` fixture does).
    """
    import subprocess
    import sys

    from portal import ROOT

    config = app.config["PORTAL"]
    env = {**os.environ, "TRAINING_DB_URL": config.database_url, "PORTAL_DATA_DIR": str(config.data_dir),
           "PORTAL_TRAINING_DIR": str(config.training_dir), "PORTAL_SECRET_KEY": config.secret_key,
           "PORTAL_TICK_SECONDS": "0.2", "PORTAL_LEASE_SECONDS": "1.5", **settings}
    out = open(log_path, "wb") if log_path else subprocess.DEVNULL
    return subprocess.Popen([sys.executable, "-m", "flask", "--app", "wsgi", "supervisor"], cwd=ROOT, env=env,
                            stdout=out, stderr=subprocess.STDOUT, start_new_session=True)


class Receiver:
    """A local HTTP server standing in for a webhook, DingTalk, Feishu or WeCom robot.

    It records every request (`requests`: path, query, headers, JSON body, arrival time), answers
    from `replies` in turn (then with the last one), waits `delay` seconds before answering, and
    holds every answer while `hold` is clear. With `secret` and `kind` it checks the signature
    with the platform's own formula, written here independently of the portal's code, and
    records the verdict as `signature_ok`.
    """

    def __init__(self, kind: str = "webhook", secret: str = "", replies=None, delay: float = 0.0, port: int = 0):
        import threading
        from http.server import ThreadingHTTPServer

        self.kind, self.secret, self.delay = kind, secret, delay
        self.replies = list(replies or [(200, {"errcode": 0, "code": 0})])
        self.requests: list[dict] = []
        self.hold = threading.Event()
        self.hold.set()
        self._lock = threading.Lock()
        self.server = ThreadingHTTPServer(("127.0.0.1", port), self._handler())
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/hook?access_token=abcdef123"

    def close(self) -> None:
        self.hold.set()
        self.server.shutdown()
        self.server.server_close()

    def check(self, query: dict, headers: dict, raw: bytes, body) -> bool | None:
        import base64
        import hashlib
        import hmac

        if not self.secret:
            return None
        if self.kind == "dingtalk":
            timestamp = query.get("timestamp", "")
            digest = hmac.new(self.secret.encode(), f"{timestamp}\n{self.secret}".encode(), hashlib.sha256).digest()
            return bool(timestamp) and hmac.compare_digest(query.get("sign", ""), base64.b64encode(digest).decode())
        if self.kind == "feishu":
            timestamp = str(body.get("timestamp", ""))
            digest = hmac.new(f"{timestamp}\n{self.secret}".encode(), b"", hashlib.sha256).digest()
            return bool(timestamp) and hmac.compare_digest(body.get("sign", ""), base64.b64encode(digest).decode())
        if self.kind == "webhook":
            timestamp = headers.get("X-Portal-Timestamp", "")
            expected = hmac.new(self.secret.encode(), f"{timestamp}.".encode() + raw, hashlib.sha256).hexdigest()
            return hmac.compare_digest(headers.get("X-Portal-Signature", ""), f"sha256={expected}")
        return None

    def _handler(self):
        import json
        import time as clock
        from http.server import BaseHTTPRequestHandler
        from urllib.parse import parse_qsl, urlsplit

        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):
                arrived = clock.time()
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                parts = urlsplit(self.path)
                query = dict(parse_qsl(parts.query))
                try:
                    body = json.loads(raw)
                except ValueError:
                    body = None
                headers = dict(self.headers.items())
                with receiver._lock:
                    receiver.requests.append({"path": parts.path, "query": query, "headers": headers, "raw": raw,
                                              "body": body, "at": arrived,
                                              "signature_ok": receiver.check(query, headers, raw, body or {})})
                    index = len(receiver.requests) - 1
                    status, answer = receiver.replies[min(index, len(receiver.replies) - 1)]
                receiver.hold.wait(120)
                if receiver.delay:
                    clock.sleep(receiver.delay)
                data = json.dumps(answer).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        return Handler


def make_project(client, headers, name="p1", **fields):
    body = {"name": name, "dataset_name": "datasets/sample.jsonl", "training_yaml_name": "configs/train.yaml",
            "executor": "local", "workdir": ".", **fields}
    response = client.post("/projects", json=body, headers=headers)
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def start(client, headers, name="p1", **body):
    response = client.post(f"/projects/{name}/runs", json=body or None, headers=headers)
    assert response.status_code == 200, response.get_json()
    return response.get_json()
