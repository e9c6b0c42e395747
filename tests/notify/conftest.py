"""Fixtures for notifications: receivers on local ports, a training dir, and a supervisor to tick."""
import time

import pytest
from sqlalchemy import select

from portal.extensions import db
from portal.notify.models import Delivery
from portal.supervisor import Supervisor
from tests.support import Receiver


@pytest.fixture
def app_config(app_config):
    # receivers listen on 127.0.0.1; retries come after 0.2 s instead of 30 s
    return {**app_config, "PORTAL_NOTIFY_ALLOW_PRIVATE": "on", "PORTAL_NOTIFY_RETRY_SECONDS": "0.2",
            "PORTAL_PUBLIC_URL": "https://portal.example.com"}


@pytest.fixture
def receivers():
    """Make receivers with `receivers(kind, secret=..., replies=...)`; all closed afterwards."""
    made = []

    def make(kind="webhook", **options):
        made.append(Receiver(kind, **options))
        return made[-1]

    yield make
    for receiver in made:
        receiver.close()


@pytest.fixture
def training(app):
    root = app.config["PORTAL"].training_dir
    (root / "datasets").mkdir(parents=True, exist_ok=True)
    (root / "configs").mkdir(parents=True, exist_ok=True)
    (root / "datasets" / "sample.jsonl").write_text('{"instruction": "hi", "output": "hello"}\n')
    (root / "configs" / "train.yaml").write_text("num_train_epochs: 1\n")
    return root


@pytest.fixture
def supervisor(app):
    sup = Supervisor(app)
    yield sup
    sup.close()


@pytest.fixture
def tick_until(supervisor):
    """Tick the supervisor until `predicate()` is truthy (bounded, generous)."""
    def until(predicate, timeout: float = 30.0):
        deadline = time.monotonic() + timeout
        while True:
            supervisor.tick()
            value = predicate()
            if value:
                return value
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out after {timeout}s")
            time.sleep(0.05)
    return until


def channel(client, headers, receiver=None, **fields):
    body = {"name": "team", "kind": receiver.kind if receiver else "webhook", "url": receiver.url if receiver else "",
            "events": ["run.failed"], **fields}
    response = client.post("/v1/notification-channels", json=body, headers=headers)
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def make_project(client, headers, name="p1", **fields):
    body = {"name": name, "dataset_name": "datasets/sample.jsonl", "training_yaml_name": "configs/train.yaml",
            "executor": "local", "workdir": ".", **fields}
    response = client.post("/projects", json=body, headers=headers)
    assert response.status_code == 200, response.get_json()


def start(client, headers, name="p1") -> int:
    response = client.post(f"/projects/{name}/runs", headers=headers)
    assert response.status_code == 200, response.get_json()
    return response.get_json()["id"]


def deliveries(app, status=None):
    with app.app_context():
        query = select(Delivery.status, Delivery.attempts)
        return db.session.execute(query.where(Delivery.status == status) if status else query).all()
