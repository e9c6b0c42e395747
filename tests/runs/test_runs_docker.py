"""Runs in a real container with `docker exec` (the one `scripts/services` starts)."""
import io
import os
import signal
import subprocess
import tarfile
import time
import uuid
from pathlib import Path

import pytest

from tests.support import make_project, start
from tests.support import supervisor_process, wait_for

TRAIN = ("import sys, time, os\n"
         "out = sys.argv[1]\n"
         "for i in range(1, 6):\n"
         "    sys.stderr.write(f'\\r{i*20:3d}%|##   | {i}/5 [00:0{i}<00:01,  5.00it/s]'); sys.stderr.flush()\n"
         "    print({'loss': 1.0 / i, 'epoch': i / 5}, flush=True)\n"
         "    time.sleep(0.05)\n"
         "os.makedirs(out + '/checkpoint-5', exist_ok=True)\n"
         "open(out + '/checkpoint-5/adapter_model.safetensors', 'wb').write(b'w' * 64)\n"
         "print('cwd', os.getcwd(), 'cuda', repr(os.environ.get('CUDA_VISIBLE_DEVICES')), flush=True)\n")


@pytest.fixture
def app_config(app_config, container):
    return {**app_config, "PORTAL_DOCKER_CONTAINER": container}


def docker_project(client, headers, command, **fields):
    return make_project(client, headers, executor="docker", workdir="/tmp", start_command=command, **fields)


def python_c(code: str) -> str:
    """A start command running `code` with python3 in the container, as one argv element."""
    return "python3 -c " + "'" + code.replace("'", "'\"'\"'").replace("{", "{{").replace("}", "}}") + "'"


def test_a_docker_run_succeeds_with_output_metrics_and_artifacts(client, token, training, ticker, container):
    h = token["operator"]
    docker_project(client, h, python_c(TRAIN) + " {output_dir}")
    run = start(client, h)
    assert run["executor"] == "docker" and run["container"] == container
    done = ticker.until(run["id"], "succeeded", timeout=60)
    assert done["exit_code"] == 0 and done["step"] == 5 and done["metrics"]["loss"] == 0.2
    text = client.get(f"/v1/runs/{run['id']}/output", headers=h).get_json()["data"]
    assert "cwd /tmp cuda ''" in text
    artifacts = client.get(f"/v1/runs/{run['id']}/artifacts", headers=h).get_json()
    assert [(a["path"], a["size"]) for a in artifacts] == [("checkpoint-5", 64)]
    events = [e["message"] for e in client.get(f"/v1/runs/{run['id']}/logs", headers=h).get_json()["items"]]
    assert events[1] == "launching" and events[2].startswith(f"started in container {container}")
    download = client.get(f"/v1/artifacts/{artifacts[0]['id']}/download", headers=h)  # the daemon's own tar
    with tarfile.open(fileobj=io.BytesIO(download.get_data())) as archive:
        sizes = {m.name: m.size for m in archive.getmembers() if m.isfile()}
    assert download.mimetype == "application/x-tar" and sum(sizes.values()) == 64
    assert all(name.startswith("checkpoint-5/") for name in sizes)


def test_nonzero_exit_in_the_container_is_failed(client, token, training, ticker):
    docker_project(client, token["operator"], python_c("import sys; sys.exit(7)"))
    done = ticker.until(start(client, token["operator"])["id"], "failed", timeout=60)
    assert done["exit_code"] == 7


def test_missing_container_fails_clearly(client, token, training, ticker):
    h = token["operator"]
    docker_project(client, h, "true", container="no-such-container-xyz")
    run = start(client, h)
    ticker.until(run["id"], "failed")
    events = client.get(f"/v1/runs/{run['id']}/logs", headers=h).get_json()["items"]
    assert events[-1]["message"] == "failed to start: container no-such-container-xyz does not exist"


def test_stopped_container_fails_clearly(client, token, training, ticker, container):
    import docker

    api = docker.from_env()
    image = api.containers.get(container).image
    stopped = api.containers.create(image, ["sleep", "1"], name=f"portal-stopped-{uuid.uuid4().hex[:6]}",
                                    network_mode="none")
    try:
        h = token["operator"]
        docker_project(client, h, "true", container=stopped.name)
        run = start(client, h)
        ticker.until(run["id"], "failed")
        events = client.get(f"/v1/runs/{run['id']}/logs", headers=h).get_json()["items"]
        assert events[-1]["message"].startswith(f"failed to start: container {stopped.name} is not running")
    finally:
        stopped.remove(force=True)


def test_stop_signals_the_process_group_in_the_container(client, token, training, ticker, container):
    h = token["operator"]
    docker_project(client, h, "sh -c 'sleep 300 & sleep 301; wait'", grace_seconds=5)
    run = start(client, h)
    ticker.until(run["id"], "running", timeout=30)
    client.post(f"/v1/runs/{run['id']}/stop", headers=h)
    done = ticker.until(run["id"], "cancelled", timeout=30)
    assert done["exit_code"] == 143
    left = subprocess.run(["docker", "exec", container, "sh", "-c", "ps -eo args | grep -c '^sleep 30[01]' || true"],
                          capture_output=True, text=True).stdout.strip()
    assert left == "0"  # the whole group got the signal, not just the wrapper


@pytest.mark.slow
def test_supervisor_crash_during_a_docker_run_loses_nothing(app, client, token, training, container):
    h = token["operator"]
    code = ("import time\nfor i in range(30):\n    print('line', i, flush=True)\n    time.sleep(0.1)\n")
    docker_project(client, h, python_c(code))
    run = start(client, h)
    first = supervisor_process(app)
    try:
        wait_for(lambda: client.get(f"/v1/runs/{run['id']}/output", headers=h).get_json()["size"] > 20, 60)
        os.killpg(first.pid, signal.SIGKILL)
        first.wait()
        time.sleep(1.0)
        second = supervisor_process(app)
        try:
            done = wait_for(lambda: (r := client.get(f"/v1/runs/{run['id']}", headers=h).get_json())["status"]
                            not in ("running", "queued", "starting") and r, 60)
        finally:
            os.killpg(second.pid, signal.SIGKILL)
    finally:
        if first.poll() is None:
            os.killpg(first.pid, signal.SIGKILL)
    assert done["status"] == "succeeded"
    text = client.get(f"/v1/runs/{run['id']}/output", headers=h).get_json()["data"]
    assert [line for line in text.splitlines()] == [f"line {i}" for i in range(30)]


@pytest.fixture
def shared():
    return os.environ.get("PORTAL_TEST_DOCKER_SHARED") or pytest.skip("no shared bind mount from scripts/services")


def portal_with(app_config, **settings):
    """A second app with other docker settings: its client, an operator's header, a ticker."""
    from portal import create_app
    from portal.auth import services as auth
    from portal.extensions import db
    from portal.supervisor import Supervisor
    from tests.runs.conftest import run_ticker

    app = create_app({**app_config, **settings})
    with app.app_context():
        db.create_all()
        user = auth.create_user("op", "password-123", "operator")
        header = {"Authorization": "Bearer " + auth.create_token(user)[1]}
    root = app.config["PORTAL"].training_dir
    (root / "datasets").mkdir(parents=True)
    (root / "configs").mkdir()
    (root / "datasets" / "sample.jsonl").write_text("{}\n")
    (root / "configs" / "train.yaml").write_text("a: 1\n")
    client = app.test_client()
    return client, header, run_ticker(Supervisor(app), client, header)


def test_a_host_mounted_run_dir_is_read_in_place(app_config, container, shared):
    """With PORTAL_DOCKER_RUN_DIR_HOST the output is read where the run writes it."""
    runs_dir = f"{shared}/runs-{uuid.uuid4().hex[:6]}"
    os.makedirs(runs_dir)
    client, header, ticker = portal_with(app_config, PORTAL_DOCKER_RUN_DIR=runs_dir,
                                         PORTAL_DOCKER_RUN_DIR_HOST=runs_dir)
    docker_project(client, header, python_c("print('hello from the mount', flush=True)"))
    run = start(client, header)
    try:
        ticker.until(run["id"], "succeeded", timeout=60)
    finally:
        ticker.sup.close()
    text = client.get(f"/v1/runs/{run['id']}/output", headers=header).get_json()["data"]
    assert text == "hello from the mount\n"
    assert len(list(Path(runs_dir).rglob("output.log"))) == 1


def test_a_wrong_host_mount_setting_fails_the_launch(app_config, container, tmp_path):
    client, header, ticker = portal_with(app_config, PORTAL_DOCKER_RUN_DIR_HOST=str(tmp_path / "not-the-mount"))
    docker_project(client, header, "true")
    run = start(client, header)
    try:
        ticker.until(run["id"], "failed", timeout=60)
    finally:
        ticker.sup.close()
    events = client.get(f"/v1/runs/{run['id']}/logs", headers=header).get_json()["items"]
    assert "PORTAL_DOCKER_RUN_DIR_HOST must be the host side" in events[-1]["message"]


def test_a_workdir_or_program_missing_in_the_container_is_named_before_queueing(client, token, training, container):
    h = token["operator"]
    make_project(client, h, executor="docker", workdir="/no/such/dir", start_command="no-such-tool-xyz --flag")
    answer = client.post("/projects/p1/runs", headers=h)
    assert answer.status_code == 400 and f"workdir /no/such/dir (in {container})" in answer.get_json()["detail"]
    client.patch("/projects/p1", json={"workdir": "/tmp"}, headers=h)
    answer = client.post("/projects/p1/runs", headers=h)
    assert answer.status_code == 400
    assert f"program no-such-tool-xyz (not in /tmp nor on PATH in {container})" in answer.get_json()["detail"]


def test_outputs_are_read_from_the_configs_output_dir_inside_the_container(client, token, training, ticker):
    h = token["operator"]
    folder = f"saves/{uuid.uuid4().hex[:8]}"
    (training / "configs" / "train.yaml").write_text(f"stage: sft\noutput_dir: {folder}\n")
    log_line = ('{"current_steps": 1, "total_steps": 1, "loss": 0.123456789, "lr": 1e-05, "epoch": 1.0, '
                '"percentage": 100.0, "elapsed_time": "0:00:01", "remaining_time": "0:00:00"}\n')
    docker_project(client, h, python_c(
        f"import os\nos.makedirs('{folder}/checkpoint-1')\n"
        f"open('{folder}/trainer_log.jsonl', 'w').write({log_line!r})\n"))  # relative: from the workdir
    run = start(client, h)
    assert (run["output_dir"], run["output_source"]) == (f"/tmp/{folder}", "config")
    done = ticker.until(run["id"], "succeeded", timeout=60)
    assert done["metrics"]["loss"] == 0.123456789 and done["step"] == 1
    assert [a["path"] for a in client.get(f"/v1/runs/{run['id']}/artifacts", headers=h).get_json()] == [
        "checkpoint-1"]
