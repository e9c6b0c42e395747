"""GPU queueing with PORTAL_FAKE_GPUS: free GPUs only, first come first served, reasons shown."""
import sys

import pytest

from tests.support import make_project, start

SLEEP = f"{sys.executable} -c 'import time; time.sleep(60)'"


@pytest.fixture
def app_config(app_config):
    return {**app_config, "PORTAL_FAKE_GPUS": "2x80GiB"}


def test_runs_wait_for_free_gpus_first_come_first_served(client, token, training, ticker):
    h = token["operator"]
    make_project(client, h, start_command=SLEEP)
    big = start(client, h, gpus=2)
    small = start(client, h, gpus=1)
    cpu = start(client, h, gpus=0)
    running = ticker.until(big["id"], "running")
    assert sorted(running["gpus"]) == ["GPU-fake-0000", "GPU-fake-0001"]
    waiting = ticker.get(small["id"])
    assert waiting["status"] == "queued" and waiting["status_reason"] == "waiting for 1 GPUs; 0 free"
    assert ticker.until(cpu["id"], "running")["gpus"] == []  # asks for none: never waits
    later = start(client, h, gpus=1)
    ticker.sup.tick()
    assert ticker.get(later["id"])["status_reason"] == f"waiting behind run {small['id']}"
    client.post(f"/v1/runs/{big['id']}/stop", headers=h)
    ticker.until(big["id"], "cancelled")
    assert ticker.until(small["id"], "running")["gpus"] == ["GPU-fake-0000"]
    assert ticker.until(later["id"], "running")["gpus"] == ["GPU-fake-0001"]
    env = client.get(f"/v1/runs/{later['id']}", headers=h).get_json()
    assert env["gpu_count"] == 1
    for run in (small, cpu, later):
        client.post(f"/v1/runs/{run['id']}/stop", headers=h)
        ticker.until(run["id"], "cancelled")


def test_cuda_visible_devices_follows_the_allocation(client, token, training, ticker):
    h = token["operator"]
    make_project(client, h, start_command=f"{sys.executable} -c 'import os; print(os.environ[\"CUDA_VISIBLE_DEVICES\"])'")
    run = start(client, h, gpus=2)
    ticker.until(run["id"], "succeeded")
    text = client.get(f"/v1/runs/{run['id']}/output", headers=h).get_json()["data"]
    assert text.strip() == "GPU-fake-0000,GPU-fake-0001"


def test_a_run_asking_for_more_gpus_than_the_host_has_fails(client, token, training, ticker):
    make_project(client, token["operator"])
    run = start(client, token["operator"], gpus=3)
    done = ticker.until(run["id"], "failed")
    assert done["exit_code"] is None
    events = client.get(f"/v1/runs/{run['id']}/logs", headers=token["operator"]).get_json()["items"]
    assert events[-1]["message"] == "asks for 3 GPUs; this host has 2"


def test_the_dashboard_shows_which_run_holds_a_gpu(client, auth, users, token, training, ticker):
    h = token["operator"]
    make_project(client, h, start_command=SLEEP)
    run = start(client, h, gpus=1)
    ticker.until(run["id"], "running")
    auth.login("viewer")
    panel = client.get("/", headers={"HX-Request": "true"}).get_data(as_text=True)
    assert f'href="/ui/runs/{run["id"]}">p1 #1</a>' in panel
    assert panel.count('<span class="muted">free</span>') == 1  # of the two GPUs
    client.post(f"/v1/runs/{run['id']}/stop", headers=h)
    ticker.until(run["id"], "cancelled")
