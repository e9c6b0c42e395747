"""kill -9 the supervisor while runs go: a new one re-attaches, loses and duplicates nothing."""
import os
import signal
import sys
import time
from pathlib import Path

import pytest

from tests.support import make_project, start
from tests.support import supervisor_process, wait_for

SCRIPT = """import sys, time
for i in range(int(sys.argv[1])):
    print({'loss': 1.0 + i, 'epoch': i}, flush=True)
    print('line', i, flush=True)
    time.sleep(0.1)
sys.exit(int(sys.argv[2]))
"""


def counting(training, lines: int, code: int) -> str:
    (training / "count.py").write_text(SCRIPT)
    return f"{sys.executable} count.py {lines} {code}"


def folder(app, run_id) -> Path:
    from portal.extensions import db
    from portal.runs.models import Run

    with app.app_context():
        return Path(app.config["PORTAL"].data_dir, "runs", db.session.get(Run, run_id).folder)


def get(client, headers, run_id):
    return client.get(f"/v1/runs/{run_id}", headers=headers).get_json()


@pytest.mark.slow
def test_supervisor_crash_mid_run_loses_and_repeats_nothing(app, client, token, training, procs):
    h = token["operator"]
    make_project(client, h, start_command=counting(training, 40, 0))
    run = start(client, h)
    procs.append(first := supervisor_process(app))
    wait_for(lambda: (r := get(client, h, run["id"]))["status"] == "running" and (r["step"] or 0) >= 0
             and r["metrics"].get("loss", 0) >= 3)
    os.killpg(first.pid, signal.SIGKILL)
    first.wait()
    time.sleep(1.0)  # the run goes on without a supervisor
    procs.append(supervisor_process(app))
    done = wait_for(lambda: (r := get(client, h, run["id"]))["status"] in ("succeeded", "failed", "lost") and r, 60)
    assert done["status"] == "succeeded" and done["exit_code"] == 0
    output = (folder(app, run["id"]) / "output.log").read_text()
    assert [line for line in output.splitlines() if line.startswith("line")] == [f"line {i}" for i in range(40)]
    series = client.get(f"/v1/runs/{run['id']}/metrics?keys=loss", headers=h).get_json()["series"]["loss"]
    assert sorted(series["values"]) == [1.0 + i for i in range(40)]  # each point once
    events = [e["message"] for e in client.get(f"/v1/runs/{run['id']}/logs", headers=h).get_json()["items"]]
    assert sum(m.startswith("started") for m in events) == 1  # never launched twice


@pytest.mark.slow
def test_run_that_ended_while_no_supervisor_ran_gets_its_real_exit_code(app, client, token, training, procs):
    h = token["operator"]
    make_project(client, h, start_command=counting(training, 5, 3))
    run = start(client, h)
    procs.append(first := supervisor_process(app))
    wait_for(lambda: get(client, h, run["id"])["status"] == "running")
    os.killpg(first.pid, signal.SIGKILL)
    exit_file = folder(app, run["id"]) / "exit_code"
    wait_for(exit_file.exists, 20)
    procs.append(supervisor_process(app))
    done = wait_for(lambda: (r := get(client, h, run["id"]))["status"] != "running" and r, 30)
    assert done["status"] == "failed" and done["exit_code"] == 3


@pytest.mark.slow
def test_run_whose_process_vanished_is_lost(app, client, token, training, procs):
    h = token["operator"]
    make_project(client, h, start_command=counting(training, 40, 0))
    run = start(client, h)
    procs.append(first := supervisor_process(app))
    wait_for(lambda: get(client, h, run["id"])["status"] == "running")
    os.killpg(first.pid, signal.SIGKILL)
    pid = int((folder(app, run["id"]) / "pid").read_text())
    os.killpg(pid, signal.SIGKILL)  # the run dies with no exit record
    procs.append(supervisor_process(app))
    done = wait_for(lambda: (r := get(client, h, run["id"]))["status"] != "running" and r, 30)
    assert done["status"] == "lost"
    events = client.get(f"/v1/runs/{run['id']}/logs", headers=h).get_json()["items"]
    assert events[-1]["message"].startswith("lost: process") and events[-1]["level"] == "error"
