"""Fixtures for datasets: a dataset made through the API, sample files, a real gunicorn server."""
import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import psutil
import pytest

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
ALPACA = b'{"instruction": "Translate to French", "input": "good morning", "output": "bonjour"}\n'


def make_dataset(client, headers, name="ds1", **fields) -> str:
    response = client.post("/v1/datasets", json={"name": name, **fields}, headers=headers)
    assert response.status_code == 200, response.get_json()
    return response.get_json()["id"]


def upload(client, headers, dataset_id, data: bytes, filename="train.jsonl"):
    """A multipart upload through the test client."""
    import io

    return client.put(f"/v1/datasets/{dataset_id}/files", data={"file": (io.BytesIO(data), filename)},
                      headers=headers, content_type="multipart/form-data")


@pytest.fixture
def dataset(client, token):
    return make_dataset(client, token["operator"])


@dataclass
class LiveServer:
    """gunicorn serving the portal (one worker, its supervisor off) and an operator's token."""
    host: str
    port: int
    headers: dict
    master: psutil.Process
    data_dir: Path
    training_dir: Path
    log_path: Path

    def conn(self, timeout: float = 60) -> http.client.HTTPConnection:
        return http.client.HTTPConnection(self.host, self.port, timeout=timeout)

    def worker(self) -> psutil.Process:
        children = self.master.children()
        assert len(children) == 1, children
        return children[0]

    def call(self, method: str, path: str, body=None) -> tuple[int, dict]:
        conn = self.conn()
        try:
            headers = dict(self.headers)
            if body is not None:
                body = json.dumps(body)
                headers["Content-Type"] = "application/json"
            conn.request(method, path, body=body, headers=headers)
            response = conn.getresponse()
            return response.status, json.loads(response.read() or b"null")
        finally:
            conn.close()

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _flask(env, *args, stdin=None) -> str:
    done = subprocess.run([str(BIN / "flask"), "--app", "wsgi", *args], cwd=ROOT, env=env, input=stdin,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout.strip()


@pytest.fixture(scope="module")
def live_server(tmp_path_factory, request):
    """One per test module; a module's LIVE_SERVER_ENV adds or overrides settings."""
    tmp = tmp_path_factory.mktemp("datasets-live")
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PORTAL_", "TRAINING_"))}
    env.update(PORTAL_DATA_DIR=str(tmp / "data"), PORTAL_TRAINING_DIR=str(tmp / "training"),
               # 6 threads: 4 for uploads at once, and the 2 that uploads always leave free
               PORTAL_BIND=f"127.0.0.1:{port}", PORTAL_WORKERS="1", PORTAL_THREADS="6",
               PORTAL_EMBEDDED_SUPERVISOR="off", PORTAL_MAX_UPLOAD_BYTES="1GiB", FLASK_APP="wsgi",
               PYTHONUNBUFFERED="1", **getattr(request.module, "LIVE_SERVER_ENV", {}))
    _flask(env, "db", "upgrade")
    _flask(env, "users", "create", "uploader", "--role", "operator", "--password-stdin", stdin="a-long-password-1\n")
    token = _flask(env, "tokens", "create", "uploader").splitlines()[-1]
    log_path = tmp / "server.log"
    with open(log_path, "wb") as log:
        proc = subprocess.Popen([str(BIN / "gunicorn"), "-c", "gunicorn.conf.py"], cwd=ROOT, env=env, stdout=log,
                                stderr=subprocess.STDOUT, start_new_session=True)
    server = LiveServer("127.0.0.1", port, {"Authorization": f"Bearer {token}"}, psutil.Process(proc.pid),
                        tmp / "data", tmp / "training", log_path)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if server.call("GET", "/healthz")[0] == 200 and server.master.children():
                    break
            except OSError:
                pass
            assert proc.poll() is None and time.monotonic() < deadline, server.log()
            time.sleep(0.2)
        yield server
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(5)
