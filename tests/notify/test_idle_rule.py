"""The idle-GPU rule: a channel hears when all of a run's GPUs idled, once, and the run goes on."""
import json
import sys
from datetime import timedelta

import pytest
from sqlalchemy import update

from portal.extensions import db
from portal.runs.models import Metric
from tests.notify.conftest import channel
from tests.support import make_project, start


@pytest.fixture
def app_config(app_config, tmp_path):
    readings = tmp_path / "fake-gpu-readings.json"
    readings.write_text(json.dumps({"0": {"utilization": 2}, "1": {"utilization": 0}}))
    return {**app_config, "PORTAL_FAKE_GPUS": "2x80GiB", "PORTAL_GPU_SAMPLE_SECONDS": "0.2",
            "PORTAL_FAKE_GPU_READINGS": str(readings)}


def samples(app, run_id: int) -> int:
    with app.app_context():
        return db.session.scalar(db.select(db.func.count()).where(Metric.run_id == run_id,
                                                                   Metric.key == "system/gpu1.util"))


def test_idle_gpus_alert_once_and_leave_the_run_running(app, client, token, training, receivers, tick_until):
    idle = receivers()
    channel(client, token["admin"], idle, events=[], rules=[{"kind": "idle_gpus", "percent": 10, "minutes": 5}])
    make_project(client, token["operator"], start_command=f"{sys.executable} -c 'import time; time.sleep(120)'")
    run_id = start(client, token["operator"], gpus=2)["id"]
    tick_until(lambda: samples(app, run_id) >= 2)
    assert idle.requests == []  # idle, but not yet for 5 minutes
    with app.app_context():  # what was sampled so far, as if 6 minutes ago (time passing, not waited for)
        db.session.execute(update(Metric).where(Metric.run_id == run_id, Metric.key.like("system/%"))
                           .values(created_at=Metric.created_at - timedelta(minutes=6)))
        db.session.commit()
    tick_until(lambda: idle.requests)
    for _ in range(10):
        tick_until(lambda: True)
    [request] = idle.requests
    assert request["body"]["event"] == "run.rule" and request["body"]["run"]["status"] == "running"
    assert client.get(f"/v1/runs/{run_id}", headers=token["operator"]).get_json()["status"] == "running"
    client.post(f"/v1/runs/{run_id}/stop", headers=token["operator"])
    tick_until(lambda: client.get(f"/v1/runs/{run_id}", headers=token["operator"]).get_json()["status"] == "cancelled")
