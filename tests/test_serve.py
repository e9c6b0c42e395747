"""`scripts/serve` for real: migrates, serves, embeds one active supervisor, stops on Ctrl-C."""
import json
import os
import pwd
import signal
import socket
import subprocess
import tempfile
import time
import urllib.request
from pathlib import Path

import pytest

from portal import ROOT
from tests.support import free_port


def get_json(url: str):
    with urllib.request.urlopen(url, timeout=5) as response:
        return json.load(response)


@pytest.mark.slow
def test_serve_starts_the_portal_and_ctrl_c_stops_it(tmp_path):
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PORTAL_", "TRAINING_"))}
    data = Path(tempfile.mkdtemp(prefix="portal-serve-", dir="/tmp"))
    data.chmod(0o711)  # a place a run user may pass
    env.update(PORTAL_DATA_DIR=str(data / "data"), PORTAL_BIND=f"127.0.0.1:{port}",
               PORTAL_WORKERS="2", PORTAL_TICK_SECONDS="0.5", PORTAL_LEASE_SECONDS="5")
    log = (tmp_path / "serve.log").open("w+")
    proc = subprocess.Popen([str(ROOT / "scripts" / "serve")], cwd=tmp_path, env=env, stdout=log,
                            stderr=subprocess.STDOUT, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        report = None
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                report = get_json(f"{base}/_internal/health")
                if report["status"] == "ok":  # public callers see the status only
                    break
            except OSError:
                pass
            time.sleep(0.5)
        log.seek(0)
        assert report and report["status"] == "ok", log.read()
        assert get_json(f"{base}/healthz") == {"status": "ok"}
        assert (data / "data" / "portal.db").exists()
        with pytest.raises(urllib.error.HTTPError) as denied:
            urllib.request.urlopen(f"{base}/v1/me", timeout=5)
        assert denied.value.code == 401
        time.sleep(1.5)  # several ticks: both workers have tried the lease
        log.seek(0)
        text = log.read()
        assert text.count("is now active") == 1  # two workers, one active supervisor
        if os.geteuid() == 0:  # as root, runs execute as the unprivileged user serve made
            assert "runs execute as portal-run" in text
            assert pwd.getpwnam("portal-run").pw_uid != 0
    finally:
        os.killpg(proc.pid, signal.SIGINT)
        proc.wait(30)
    with pytest.raises(OSError):
        urllib.request.urlopen(f"{base}/healthz", timeout=2)


@pytest.mark.slow
def test_a_second_serve_says_already_serving_and_touches_nothing(tmp_path):
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PORTAL_", "TRAINING_"))}
    data = Path(tempfile.mkdtemp(prefix="portal-serve-", dir="/tmp"))
    data.chmod(0o711)  # a place a run user may pass
    env.update(PORTAL_DATA_DIR=str(data / "data"), PORTAL_BIND=f"127.0.0.1:{port}", PORTAL_WORKERS="1",
               SERVE_DEMO="off")
    log = (tmp_path / "first.log").open("w+")
    first = subprocess.Popen([str(ROOT / "scripts" / "serve")], cwd=tmp_path, env=env, stdout=log,
                             stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline and first.poll() is None:
            try:
                if get_json(f"http://127.0.0.1:{port}/healthz") == {"status": "ok"}:
                    break
            except OSError:
                time.sleep(0.5)
        log.seek(0)
        assert first.poll() is None, log.read()
        second_data = tmp_path / "second"
        second = subprocess.run([str(ROOT / "scripts" / "serve")], cwd=tmp_path, capture_output=True, text=True,
                                env={**env, "PORTAL_DATA_DIR": str(second_data)}, timeout=60)
        assert second.returncode == 1
        assert f"serve: already serving on http://127.0.0.1:{port}" in second.stderr
        assert not second_data.exists()  # no migration, no install: it stopped first
    finally:
        if first.poll() is None:
            os.killpg(first.pid, signal.SIGINT)
        first.wait(30)


def test_serve_on_a_port_another_program_holds_says_so(tmp_path):
    with socket.socket() as other:
        other.bind(("127.0.0.1", 0))
        other.listen()
        port = other.getsockname()[1]
        env = {k: v for k, v in os.environ.items() if not k.startswith(("PORTAL_", "TRAINING_"))}
        done = subprocess.run([str(ROOT / "scripts" / "serve")], cwd=tmp_path, capture_output=True, text=True,
                              env={**env, "PORTAL_DATA_DIR": str(tmp_path / "data"),
                                   "PORTAL_BIND": f"127.0.0.1:{port}"}, timeout=60)
    assert done.returncode == 1 and f"127.0.0.1:{port} is in use by another program" in done.stderr
    assert not (tmp_path / "data").exists()
