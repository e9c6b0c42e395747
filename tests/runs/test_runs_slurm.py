"""Runs as jobs of the real single-node Slurm that `scripts/services` starts, through the API."""
import os
import signal
import subprocess
import sys

import pytest

from portal.i18n import english
from tests.support import make_project, start
from tests.support import require, supervisor_process, ticking, wait_for

TRAIN = ("import sys, time, os\n"
         "out = sys.argv[1]\n"
         "for i in range(1, 6):\n"
         "    sys.stderr.write(f'\\r{i*20:3d}%|##   | {i}/5 [00:0{i}<00:01,  5.00it/s]'); sys.stderr.flush()\n"
         "    print({'loss': 1.0 / i, 'epoch': i / 5}, flush=True)\n"
         "    time.sleep(0.05)\n"
         "os.makedirs(out + '/checkpoint-5', exist_ok=True)\n"
         "open(out + '/checkpoint-5/adapter_model.safetensors', 'wb').write(b'w' * 64)\n"
         "print('job', os.environ.get('SLURM_JOB_ID'), 'master', os.environ.get('MASTER_ADDR'), flush=True)\n")


@pytest.fixture
def partition():
    return require("slurm")


@pytest.fixture
def app_config(app_config, tmp_path):
    partition = os.environ.get("PORTAL_TEST_SLURM_PARTITION", "")
    yield {**app_config, "PORTAL_SLURM_PARTITION": partition, "PORTAL_SLURM_TIMEOUT_SECONDS": "20"}
    # a failed test must not leave jobs that hold the node's CPUs for the next one
    queue = subprocess.run(["squeue", "-h", "-o", "%i|%o"], capture_output=True, text=True, timeout=20, check=False).stdout
    mine = [line.split("|")[0] for line in queue.splitlines() if str(tmp_path) in line]
    if mine:
        subprocess.run(["scancel", *mine], timeout=20, check=False)


@pytest.fixture
def ticker(ticker, partition):
    """The supervisor's ticker, for tests that need the real Slurm."""
    return ticker


def python(training, code: str, script="job.py") -> str:
    """A start command running `code` (kept as a script in the training dir) with this Python."""
    (training / script).write_text(code)
    return f"{sys.executable} {script}"


def slurm_project(client, headers, command, name="p1", **slurm):
    return make_project(client, headers, name=name, executor="slurm", workdir=".", start_command=command,
                        grace_seconds=5, slurm=slurm)


def events(client, headers, run_id) -> list[str]:
    return [e["message"] for e in client.get(f"/v1/runs/{run_id}/logs", headers=headers).get_json()["items"]]


def in_queue(job_id: str) -> bool:
    out = subprocess.run(["squeue", "-h", "-j", job_id, "-o", "%T"], capture_output=True, text=True, timeout=20, check=False)
    return bool(out.stdout.strip())


def test_a_slurm_run_succeeds_with_progress_metrics_and_artifacts(client, token, training, ticker):
    h = token["operator"]
    slurm_project(client, h, python(training, TRAIN) + " {output_dir}")
    run = start(client, h)
    done = ticker.until(run["id"], "succeeded", timeout=90)
    assert done["exit_code"] == 0 and done["step"] == 5 and done["metrics"]["loss"] == 0.2
    text = client.get(f"/v1/runs/{run['id']}/output", headers=h).get_json()["data"]
    job_id = text.split("job ", 1)[1].split()[0]
    assert f"job {job_id} master " in text and "master None" not in text
    artifacts = client.get(f"/v1/runs/{run['id']}/artifacts", headers=h).get_json()
    assert [(a["path"], a["size"]) for a in artifacts] == [("checkpoint-5", 64)]
    assert events(client, h, run["id"])[2] == f"submitted (Slurm job {job_id})"


def test_multi_node_placeholders_are_the_jobs_own_and_nothing_else_reaches_the_shell(client, token, training, ticker):
    h = token["operator"]
    code = "import sys; print('args', *sys.argv[1:], sep='|', flush=True)"
    slurm_project(client, h, python(training, code) + " {nodes} {gpus_per_node} {master_addr}:{master_port} 'x$HOME`id`'",
                  nodes=1, gpus_per_node=1)
    run = start(client, h)
    ticker.until(run["id"], "succeeded", timeout=90)
    job_id = int(events(client, h, run["id"])[2].split("Slurm job ")[1].rstrip(")"))
    line = next(line for line in client.get(f"/v1/runs/{run['id']}/output", headers=h).get_json()["data"].splitlines()
                if line.startswith("args|"))
    _, nodes, gpus, rendezvous, literal = line.split("|")
    host = subprocess.run(["sinfo", "-h", "-N", "-o", "%N"], capture_output=True, text=True, timeout=20).stdout.split()[0]
    assert (nodes, gpus, rendezvous, literal) == ("1", "1", f"{host}:{20000 + job_id % 20000}", "x$HOME`id`")


def test_a_job_over_its_time_limit_fails_saying_slurms_timeout(client, token, training, ticker):
    h = token["operator"]
    slurm_project(client, h, python(training, "import time\nprint('up', flush=True)\ntime.sleep(600)\n"), time_limit="1")
    done = ticker.until(start(client, h)["id"], "failed", timeout=240)  # Slurm checks limits every 30 s or so
    assert done["exit_code"] == 143
    assert events(client, h, done["id"])[-1].endswith("TIMEOUT")  # "failed with exit code 143: Slurm ended job N: TIMEOUT"


def test_a_failing_command_gives_its_exit_code(client, token, training, ticker):
    h = token["operator"]
    slurm_project(client, h, python(training, "import sys; print('bad', flush=True); sys.exit(7)"))
    done = ticker.until(start(client, h)["id"], "failed", timeout=90)
    assert done["exit_code"] == 7
    assert "bad" in client.get(f"/v1/runs/{done['id']}/output", headers=h).get_json()["data"]


def test_stop_while_running_signals_the_job_and_it_leaves_the_queue(client, token, training, ticker):
    h = token["operator"]
    slurm_project(client, h, python(training, "import time\nprint('up', flush=True)\ntime.sleep(300)\n"))
    run = start(client, h)
    running = ticker.until(run["id"], "running", timeout=60)
    job_id = events(client, h, run["id"])[2].split("Slurm job ")[1].rstrip(")")  # submitted (Slurm job N)
    assert running["status"] == "running"
    ticking(ticker.sup, lambda: ticker.get(run["id"])["status_reason"].startswith(f"Slurm job {job_id} on "))
    wait_for(lambda: "up" in client.get(f"/v1/runs/{run['id']}/output", headers=h).get_json()["data"], 60)
    client.post(f"/v1/runs/{run['id']}/stop", headers=h)
    done = ticker.until(run["id"], "cancelled", timeout=60)
    assert done["exit_code"] == 143  # the command got SIGTERM, and the wrapper recorded it
    wait_for(lambda: not in_queue(job_id), 60)


def test_a_job_waiting_for_cpus_shows_slurms_pending_reason_and_is_cancelled_when_stopped(
        client, token, training, ticker):
    h = token["operator"]
    cpus = int(subprocess.run(["sinfo", "-h", "-o", "%c"], capture_output=True, text=True, timeout=20, check=False)
               .stdout.split()[0])
    slurm_project(client, h, python(training, "import time\ntime.sleep(300)\n"), name="big", cpus_per_task=cpus)
    slurm_project(client, h, python(training, "print('never')\n", "small.py"), name="small", cpus_per_task=1)
    big = start(client, h, name="big")
    ticker.until(big["id"], "running", timeout=60)
    ticking(ticker.sup, lambda: " on " in ticker.get(big["id"])["status_reason"])
    small = start(client, h, name="small")
    waiting = ticking(ticker.sup, lambda: (r := ticker.get(small["id"]))["status_reason"]
                      .endswith("waiting in the queue: Resources") and r)
    assert waiting["status"] == "starting"  # it runs when Slurm starts it
    client.post(f"/v1/runs/{small['id']}/stop", headers=h)
    ticker.until(small["id"], "cancelled", timeout=60)
    assert client.get(f"/v1/runs/{small['id']}/output", headers=h).get_json()["size"] == 0  # it never ran
    small_job = waiting["status_reason"].split()[2]
    wait_for(lambda: not in_queue(small_job), 60)
    client.post(f"/v1/runs/{big['id']}/stop", headers=h)
    ticker.until(big["id"], "cancelled", timeout=60)


def test_a_bad_partition_fails_the_run_with_slurms_message(client, token, training, ticker):
    h = token["operator"]
    slurm_project(client, h, "true", partition="no-such-partition")
    run = start(client, h)
    ticker.until(run["id"], "failed", timeout=60)
    last = events(client, h, run["id"])[-1]
    assert last.startswith("failed to start: sbatch: error:") and "partition" in last.lower()


def test_slurm_settings_are_checked_and_kept(client, token):
    h = token["operator"]
    body = {"name": "s1", "executor": "slurm", "workdir": ".",
            "slurm": {"partition": "gpu", "nodes": 2, "gpus_per_node": 8, "memory": "64G",
                      "extra": ["--constraint=a100", "--exclusive"]}}
    made = client.post("/projects", json=body, headers=h).get_json()
    assert made["slurm"]["nodes"] == 2 and made["slurm"]["extra"] == ["--constraint=a100", "--exclusive"]
    assert made["effective"]["slurm"]["partition"] == "gpu"
    refused = client.patch("/projects/s1", json={"slurm": {"extra": ["--output=/etc/passwd"]}}, headers=h)
    assert refused.status_code == 400 and "--output=/etc/passwd" in refused.get_json()["detail"]
    spaced = client.patch("/projects/s1", json={"slurm": {"partition": "gpu\n#SBATCH --uid=0"}}, headers=h)
    assert spaced.status_code == 400
    unknown = client.patch("/projects/s1", json={"slurm": {"array": "1-100"}}, headers=h)
    assert unknown.status_code == 422


@pytest.mark.slow
def test_a_supervisor_killed_mid_run_re_attaches_to_the_job_and_takes_its_exit_code(app, client, token, training,
                                                                                     procs, partition):
    h = token["operator"]
    code = "import time\nfor i in range(20):\n    print('line', i, flush=True)\n    time.sleep(0.2)\n"
    slurm_project(client, h, python(training, code))
    run = start(client, h)
    first = supervisor_process(app)
    procs.append(first)
    wait_for(lambda: "line 2" in client.get(f"/v1/runs/{run['id']}/output", headers=h).get_json()["data"], 90)
    os.killpg(first.pid, signal.SIGKILL)
    first.wait()
    job_dir = next((training / "slurm" / "runs").iterdir())
    wait_for(lambda: (job_dir / "exit_code").exists(), 60)  # the job ended while no supervisor watched
    procs.append(supervisor_process(app))
    done = wait_for(lambda: (r := fetch(client, h, run["id"]))["status"] not in ("running", "starting")
                    and r, 60)
    assert done["status"] == "succeeded" and done["exit_code"] == 0
    text = client.get(f"/v1/runs/{run['id']}/output", headers=h).get_json()["data"]
    assert text.splitlines() == [f"line {i}" for i in range(20)]
    assert sum("submitted (Slurm job" in e for e in events(client, h, run["id"])) == 1  # never submitted twice


def fetch(client, headers, run_id) -> dict:
    return client.get(f"/v1/runs/{run_id}", headers=headers).get_json()


def executor(tmp_path, timeout=20.0):
    from portal.supervisor.executors.slurm import SlurmExecutor

    return SlurmExecutor(tmp_path / "shared", tmp_path / "training", timeout)


def test_a_job_slurm_no_longer_knows_and_that_left_no_exit_code_is_lost(tmp_path, partition):
    handle = {"job_id": "987654", "cluster": "", "run_dir": str(tmp_path), "gpus_per_node": 0}
    result = executor(tmp_path).poll_many({1: handle})[1]
    assert result.state == "lost" and "Slurm no longer knows job 987654" in english(result.detail)


def test_a_controller_that_does_not_answer_is_a_clear_error_not_a_hang(tmp_path, monkeypatch):
    shims = tmp_path / "bin"
    shims.mkdir()
    for tool in ("squeue", "sbatch"):
        (shims / tool).write_text("#!/bin/sh\nsleep 30\n")
        (shims / tool).chmod(0o755)
    monkeypatch.setenv("PATH", f"{shims}:{os.environ['PATH']}")
    slow = executor(tmp_path, timeout=1.0)
    handle = {"job_id": "1", "cluster": "", "run_dir": str(tmp_path), "gpus_per_node": 0}
    result = slow.poll_many({7: handle})[7]  # the run keeps going; its status reason says why nothing moves
    assert result.state == "running" and result.detail == "squeue did not answer within 1s: is slurmctld reachable?"
    from portal.supervisor.executors.base import LaunchError
    with pytest.raises(LaunchError, match="squeue did not answer within 1s"):
        slow.cli("squeue")


def test_missing_slurm_tools_are_named(tmp_path, monkeypatch):
    from portal.supervisor.executors.base import LaunchError

    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(LaunchError, match="sbatch is not installed on the portal host"):
        executor(tmp_path).cli("sbatch", "--version")


def test_slurm_settings_on_the_project_form(client, auth, users, training):
    auth.login("operator")
    data = {"name": "ui-slurm", "executor": "slurm", "workdir": ".", "stop_signal": "SIGTERM", "grace_seconds": "30",
            "gpus_per_run": "0", "slurm_partition": "gpu", "slurm_nodes": "2", "slurm_memory": "64G",
            "slurm_container_mounts": "/data:/data, /models:/models", "slurm_extra": "--constraint=a100\n--exclusive"}
    assert auth.post("/ui/projects/new", data).status_code == 302
    page = client.get("/ui/projects/ui-slurm/edit").get_data(as_text=True)
    assert 'value="gpu"' in page and "/data:/data, /models:/models" in page and "--constraint=a100\n--exclusive" in page
    refused = auth.post("/ui/projects/new", {**data, "name": "ui-slurm2", "slurm_extra": "--uid=0"})
    assert refused.status_code == 400 and "is not allowed" in refused.get_data(as_text=True)


def test_the_cluster_shows_partitions_and_nodes_from_sinfo(client, token, auth, users, partition):
    cluster = client.get("/v1/cluster", headers=token["viewer"]).get_json()
    assert cluster["available"] and cluster["error"] == ""
    found = {p["name"]: p for p in cluster["partitions"]}
    assert found[partition]["default"] and found[partition]["available"] == "up"
    node = found[partition]["nodes"][0]
    assert node["cpus_total"] >= 1 and node["state"] in ("idle", "mixed", "allocated", "completing")
    auth.login("viewer")
    panel = client.get("/", headers={"HX-Request": "true"}).get_data(as_text=True)
    assert 'id="cluster"' in panel and f"<code>{node['name']}</code>" in panel


def test_sinfo_lines_become_partitions_with_cpus_and_gpus():
    from portal.supervisor.executors.slurm_text import parse_sinfo

    text = ("gpu01|gpu*|up|mixed|40/24/0/64|gpu:a100:8(S:0-1)|gpu:a100:3(IDX:0-2)|\n"
            "gpu02|gpu*|up|idle|0/64/0/64|gpu:a100:8(S:0-1)|gpu:a100:0(IDX:N/A)|\n"
            "cpu01|cpu|down|down*|0/0/32/32|(null)|(null)|\n")
    gpu, cpu = parse_sinfo(text)
    assert (gpu["name"], gpu["default"], gpu["cpus_allocated"], gpu["cpus_total"]) == ("gpu", True, 40, 128)
    assert (gpu["gpus_allocated"], gpu["gpus_total"]) == (3, 16)
    assert (cpu["available"], cpu["nodes"][0]["state"], cpu["gpus_total"]) == ("down", "down*", 0)


def test_without_slurm_tools_the_cluster_is_unavailable_and_the_dashboard_has_no_panel(client, token, auth, users,
                                                                                       tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))
    assert client.get("/v1/cluster", headers=token["viewer"]).get_json() == {
        "available": False, "error": "Slurm's client tools (sinfo) are not installed on this host", "partitions": []}
    auth.login("viewer")
    assert 'id="cluster"' not in client.get("/").get_data(as_text=True)


def test_the_gpus_slurm_gives_a_job_are_recorded_on_its_node_and_released_when_it_ends(app, client, token, training,
                                                                                        ticker):
    from portal.extensions import db
    from portal.supervisor.placement import GpuAllocation

    gres = subprocess.run(["sinfo", "-h", "-N", "-o", "%N %G"], capture_output=True, text=True, timeout=20, check=False).stdout
    node, gpus = gres.split()[0], gres.split()[1]
    if not gpus.startswith("gpu:"):
        pytest.skip(f"the Slurm node has no GRES GPUs ({gpus}); scripts/services up slurm gives it two")
    h = token["operator"]
    slurm_project(client, h, python(training, "import time\ntime.sleep(300)\n"))
    run = start(client, h, gpus=1)  # no gpus_per_node in the project: the job asks for the run's GPUs
    held = ticking(ticker.sup, lambda: ticker.get(run["id"])["gpus"])
    assert held == [f"{node}:gpu0"]
    with app.app_context():
        assert [(a.host, a.gpu_uuid) for a in db.session.scalars(db.select(GpuAllocation))] == [(node, "gpu0")]
    client.post(f"/v1/runs/{run['id']}/stop", headers=h)
    ticker.until(run["id"], "cancelled", timeout=60)
    with app.app_context():
        assert db.session.scalars(db.select(GpuAllocation)).all() == []


def test_the_gpus_of_a_multi_node_job_are_read_per_node():
    from portal.supervisor.executors.slurm_text import job_gpus

    text = ("   JOB_GRES=gpu:a100:4\n"
            "     Nodes=gpu[01-02] CPU_IDs=0-31 Mem=0 GRES=gpu:a100:2(IDX:0-1)\n"
            "     Nodes=gpu-big7 CPU_IDs=0 Mem=0 GRES=gpu:a100:2(IDX:4,6)\n")
    assert job_gpus(text) == {"gpu01": ["gpu0", "gpu1"], "gpu02": ["gpu0", "gpu1"], "gpu-big7": ["gpu4", "gpu6"]}


@pytest.mark.slow
def test_the_controller_stopped_is_a_clear_status_and_the_run_carries_on_when_it_is_back(client, token, training,
                                                                                         ticker):
    from portal import ROOT

    pidfile = ROOT / "var" / "services" / "slurm" / "slurmctld.pid"
    if not pidfile.exists():
        pytest.skip("slurmctld was not started by scripts/services")
    h = token["operator"]
    code = "import time\nfor i in range(30):\n    print('line', i, flush=True)\n    time.sleep(0.5)\n"
    slurm_project(client, h, python(training, code))
    run = start(client, h)
    ticking(ticker.sup, lambda: " on " in ticker.get(run["id"])["status_reason"])
    os.kill(int(pidfile.read_text()), signal.SIGTERM)
    try:
        down = ticking(ticker.sup, lambda: (r := ticker.get(run["id"]))["status_reason"].startswith("squeue") and r, 90)
        assert down["status"] == "running"  # the run is not failed for it: Slurm still runs the job
        assert "controller" in down["status_reason"].lower() or "did not answer" in down["status_reason"]
    finally:
        subprocess.run([str(ROOT / "scripts" / "services"), "up", "slurm"], timeout=180, check=True,
                       capture_output=True)
    done = ticker.until(run["id"], "succeeded", timeout=120)
    text = client.get(f"/v1/runs/{done['id']}/output", headers=h).get_json()["data"]
    assert text.splitlines() == [f"line {i}" for i in range(30)]


@pytest.mark.slow
def test_a_job_that_ignores_the_stop_signal_is_cancelled_after_the_grace_period(client, token, training, ticker):
    h = token["operator"]
    code = ("import signal, time\nsignal.signal(signal.SIGTERM, signal.SIG_IGN)\nprint('up', flush=True)\n"
            "time.sleep(300)\n")
    slurm_project(client, h, python(training, code))
    run = start(client, h)
    ticking(ticker.sup, lambda: "up" in client.get(f"/v1/runs/{run['id']}/output", headers=h).get_json()["data"])
    client.post(f"/v1/runs/{run['id']}/stop", headers=h)
    done = ticker.until(run["id"], "cancelled", timeout=120)  # grace 5 s, then Slurm's own TERM, KillWait, KILL
    assert done["exit_code"] == 137
    assert any("sent SIGKILL" in e for e in events(client, h, run["id"]))


def test_srun_in_the_start_command_sees_the_rendezvous_variables_on_every_node(client, token, training, ticker):
    h = token["operator"]
    command = """sh -c 'srun sh -c "echo nodes=$NNODES rank=\\$SLURM_NODEID master=$MASTER_ADDR:$MASTER_PORT"'"""
    slurm_project(client, h, command, nodes=1)
    done = ticker.until(start(client, h)["id"], "succeeded", timeout=90)
    text = client.get(f"/v1/runs/{done['id']}/output", headers=h).get_json()["data"]
    job_id = int(events(client, h, done["id"])[2].split("Slurm job ")[1].rstrip(")"))
    node = subprocess.run(["sinfo", "-h", "-N", "-o", "%N"], capture_output=True, text=True, timeout=20,
                          check=False).stdout.split()[0]
    assert text.strip() == f"nodes=1 rank=0 master={node}:{20000 + job_id % 20000}"


def test_a_slurm_project_whose_workdir_is_missing_is_refused_before_a_job_is_submitted(client, token, training):
    h = token["operator"]
    make_project(client, h, executor="slurm", workdir="no-such-dir", start_command="true")
    refused = client.post("/projects/p1/runs", headers=h)
    assert refused.status_code == 400 and "workdir" in refused.get_json()["detail"]
