"""GPU use per run: fake GPUs sampled into system/gpu<i>.* metrics, and the idle-GPU guard."""
import json
import sys
from datetime import timedelta

import pytest
from sqlalchemy import update

from portal.extensions import db
from portal.runs.models import Metric
from tests.support import make_project, start, supervisor_process, ticking, wait_for

SLEEP = f"{sys.executable} -c 'import time; time.sleep(120)'"


@pytest.fixture
def readings(tmp_path):
    path = tmp_path / "fake-gpu-readings.json"

    def set_(values: dict) -> None:
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(values))
        tmp.replace(path)  # the probe never reads half a file
    set_({})
    return set_


@pytest.fixture
def app_config(app_config, tmp_path):
    return {**app_config, "PORTAL_FAKE_GPUS": "2x80GiB", "PORTAL_GPU_SAMPLE_SECONDS": "0.2",
            "PORTAL_FAKE_GPU_READINGS": str(tmp_path / "fake-gpu-readings.json")}


def series(client, headers, run_id, key):
    return client.get(f"/v1/runs/{run_id}/metrics?keys={key}", headers=headers).get_json()["series"][key]["values"]


def ticked_until(ticker, predicate):
    """Tick until `predicate()` holds (bounded)."""
    ticking(ticker.sup, predicate)


def test_the_gpus_a_run_holds_are_sampled_into_its_metrics(client, token, training, ticker, readings):
    h = token["operator"]
    make_project(client, h, start_command=SLEEP)
    readings({"0": {"utilization": 87, "memory_used": 3 * 1024**3, "power": 231.5},
              "1": {"utilization": 12, "memory_used": 1024**3, "power": 90.0}})
    cpu = start(client, h, gpus=0)
    run = start(client, h, gpus=1)
    ticker.until(run["id"], "running")
    ticker.until(cpu["id"], "running")
    held = ticker.get(run["id"])["gpus"]
    index = int(held[0][-4:])  # the fake GPU it got, so the readings it must show are that one's
    wanted = {"util": (87, 12)[index], "mem_used": (3 * 1024**3, 1024**3)[index], "power": (231.5, 90.0)[index]}
    ticked_until(ticker, lambda: all(ticker.get(run["id"])["metrics"].get(f"system/gpu0.{k}") == v
                                     for k, v in wanted.items()))
    assert "system/gpu1.util" not in ticker.get(run["id"])["metrics"]  # it holds one GPU: only gpu0
    assert not any(k.startswith("system/") for k in ticker.get(cpu["id"])["metrics"])  # no GPUs, no samples
    readings({str(index): {"utilization": 40, "memory_used": 0, "power": 50.0}})
    ticked_until(ticker, lambda: 40.0 in series(client, h, run["id"], "system/gpu0.util"))
    values = series(client, h, run["id"], "system/gpu0.util")
    assert wanted["util"] in values and values[-1] == 40.0  # a series over time, not one overwritten value
    client.post(f"/v1/runs/{run['id']}/stop", headers=h)
    client.post(f"/v1/runs/{cpu['id']}/stop", headers=h)
    ticker.until(run["id"], "cancelled")


def age_samples(app, run_id: int, minutes: float) -> None:
    """What the supervisor recorded so far, as if recorded `minutes` earlier (time passing, not waited for)."""
    with app.app_context():
        rows = db.session.scalars(db.select(Metric).where(Metric.run_id == run_id,
                                                          Metric.key.like("system/%"))).all()
        for row in rows:
            db.session.execute(update(Metric).where(Metric.id == row.id)
                               .values(created_at=row.created_at - timedelta(minutes=minutes)))
        db.session.commit()


def sampled_twice(ticker, run_id):
    ticked_until(ticker, lambda: len(series(ticker.client, ticker.headers, run_id, "system/gpu1.util")) >= 2)


def test_the_idle_guard_stops_a_run_whose_gpus_all_stayed_idle_and_says_why(app, client, token, training, ticker,
                                                                         readings):
    h = token["operator"]
    make_project(client, h, start_command=SLEEP, idle_gpu_percent=10, idle_gpu_minutes=5)
    readings({"0": {"utilization": 3}, "1": {"utilization": 0}})
    run = start(client, h, gpus=2)
    ticker.until(run["id"], "running")
    sampled_twice(ticker, run["id"])
    assert ticker.get(run["id"])["status"] == "running"  # idle, but not yet for 5 minutes
    age_samples(app, run["id"], 6)
    stopped = ticker.until(run["id"], "stopping", "cancelled")
    assert stopped["stop_requested_at"] is not None
    events = [e["message"] for e in client.get(f"/v1/runs/{run['id']}/logs", headers=h).get_json()["items"]]
    assert any(m.startswith("stopped by the idle-GPU guard: all its GPUs stayed below 10% for 5 minutes")
               for m in events), events
    assert ticker.until(run["id"], "cancelled")["status"] == "cancelled"


def test_the_idle_guard_spares_a_run_with_one_busy_gpu(app, client, token, training, ticker, readings):
    h = token["operator"]
    make_project(client, h, start_command=SLEEP, idle_gpu_percent=10, idle_gpu_minutes=5)
    readings({"0": {"utilization": 0}, "1": {"utilization": 0}})
    run = start(client, h, gpus=2)
    ticker.until(run["id"], "running")
    sampled_twice(ticker, run["id"])
    readings({"0": {"utilization": 0}, "1": {"utilization": 55}})  # one GPU starts working
    ticked_until(ticker, lambda: 55.0 in series(client, h, run["id"], "system/gpu1.util"))
    age_samples(app, run["id"], 6)  # watched for over 5 minutes; what comes now shows GPU 1 busy
    for _ in range(10):
        ticker.sup.tick()
    assert ticker.get(run["id"])["status"] == "running"
    client.post(f"/v1/runs/{run['id']}/stop", headers=h)
    ticker.until(run["id"], "cancelled")


def test_a_supervisor_process_samples_what_the_readings_file_says_meanwhile(app, client, token, training, readings,
                                                                            procs, tmp_path):
    h = token["operator"]
    make_project(client, h, start_command=SLEEP)
    run = start(client, h, gpus=1)
    config = app.config["PORTAL"]
    procs.append(supervisor_process(app, tmp_path / "supervisor.log", PORTAL_FAKE_GPUS="2x80GiB",
                                    PORTAL_GPU_SAMPLE_SECONDS="0.2", PORTAL_FAKE_GPU_READINGS=config.fake_gpus.readings))

    def util():
        return client.get(f"/v1/runs/{run['id']}", headers=h).get_json()["metrics"].get("system/gpu0.util")
    readings({"0": {"utilization": 11}, "1": {"utilization": 11}})
    wait_for(lambda: util() == 11.0, timeout=60)
    readings({"0": {"utilization": 93}, "1": {"utilization": 93}})  # changed while it runs
    wait_for(lambda: util() == 93.0, timeout=60)
    client.post(f"/v1/runs/{run['id']}/stop", headers=h)
    wait_for(lambda: client.get(f"/v1/runs/{run['id']}", headers=h).get_json()["status"] == "cancelled", timeout=60)
