"""Fixtures for deployments: fake GPUs, a model folder, the stand-in vLLM (tests/fixtures) as the binary."""
import os
import stat
import sys
from pathlib import Path

import psutil
import pytest

from portal import ROOT
from portal.supervisor import Supervisor
from tests.support import Ticker

FAKE_VLLM = ROOT / "tests" / "fixtures" / "fake_vllm.py"


def vllm_bin(directory: Path, name: str = "vllm", **switches: str) -> str:
    """An executable `vllm` that starts the stand-in server with `switches` (FAKE_VLLM_* variables)."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / name
    exports = "".join(f"export {key}='{value}'\n" for key, value in switches.items())
    path.write_text(f"#!/bin/sh\n{exports}exec {sys.executable} {FAKE_VLLM} \"$@\"\n")
    path.chmod(path.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return str(path)


@pytest.fixture
def app_config(app_config, tmp_path):  # every test here deploys: fake GPUs and the stand-in vLLM
    base = 18200 + (os.getpid() % 50) * 20
    return {**app_config, "PORTAL_FAKE_GPUS": "2x24GiB", "PORTAL_VLLM_BIN": vllm_bin(tmp_path / "bin"),
            "PORTAL_DEPLOY_PORTS": f"{base}-{base + 19}", "PORTAL_DEPLOY_GRACE_SECONDS": "2",
            "PORTAL_DEPLOY_MAX_RESTARTS": "2"}


@pytest.fixture
def model(app):
    folder = app.config["PORTAL"].training_dir / "models" / "qwen2.5"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "config.json").write_text('{"model_type": "qwen2"}')
    return "models/qwen2.5"


def deployment_ticker(supervisor, client, headers) -> Ticker:
    """Ticks `supervisor` until a deployment (by id) has a wanted status (and restart_count=…)."""
    return Ticker(supervisor, client, headers, "/deployments/{}", timeout=60.0)


@pytest.fixture
def deployer(supervisor, client, token):
    yield (d := deployment_ticker(supervisor, client, token["operator"]))
    for item in client.get("/deployments", headers=token["operator"]).get_json():  # leave no server behind
        if item["pid"] and item["status"] not in ("stopped", "failed"):
            client.delete(f"/deployments/{item['deployment_id']}?force=true", headers=token["operator"])
            try:
                d.until(item["deployment_id"], "stopped", "failed", timeout=30)
            except AssertionError:
                pass
        if item["pid"]:
            try:
                os.killpg(item["pid"], 9)
            except (ProcessLookupError, PermissionError):
                pass


def group_alive(pgid: int) -> list[int]:
    """Live (not zombie) processes of a process group."""
    alive = []
    for proc in psutil.process_iter():
        try:
            if os.getpgid(proc.pid) == pgid and proc.status() != psutil.STATUS_ZOMBIE:
                alive.append(proc.pid)
        except (ProcessLookupError, psutil.Error):
            continue
    return alive


@pytest.fixture
def model_factory():
    """A portal of its own for a test that needs other settings (another `vllm`): (app, client, headers,
    deployer, model path). Its servers are stopped and its database let go afterwards."""
    from portal import create_app
    from portal.auth import services as auth_services
    from portal.extensions import db

    made = []

    def make(config: dict):
        app = create_app(config)
        with app.app_context():
            db.create_all()
            users = {role: auth_services.create_user(role, "correct-horse-9", role) for role in ("operator", "viewer")}
            headers = {"Authorization": "Bearer " + auth_services.create_token(users["operator"])[1]}
        folder = app.config["PORTAL"].training_dir / "models" / "qwen2.5"
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "config.json").write_text('{"model_type": "qwen2"}')
        sup = Supervisor(app)
        client = app.test_client()
        made.append((app, sup, client, headers))
        return app, client, headers, deployment_ticker(sup, client, headers), "models/qwen2.5"

    yield make
    for app, sup, client, headers in made:
        deployer = deployment_ticker(sup, client, headers)
        for item in client.get("/deployments", headers=headers).get_json():
            if item["status"] not in ("stopped", "failed"):
                client.delete(f"/deployments/{item['deployment_id']}?force=true", headers=headers)
                try:
                    deployer.until(item["deployment_id"], "stopped", "failed", timeout=30)
                except AssertionError:
                    pass
            for pid in group_alive(item["pid"]) if item["pid"] else []:
                os.kill(pid, 9)
        sup.close()
        with app.app_context():
            db.session.remove()
            db.engine.dispose()
