"""Runs on the local executor, end to end through the API with real processes."""
import sys
import time
from pathlib import Path

from portal.runs.models import Run
from portal.extensions import db
from tests.support import make_project, start

PY = sys.executable
TRAIN = (
    "import sys, time\n"
    "total = int(sys.argv[1])\n"
    "for i in range(1, total + 1):\n"
    "    sys.stderr.write(f'\\r{100*i//total:3d}%|#####     | {i}/{total} [00:0{i}<00:01,  5.00it/s]')\n"
    "    sys.stderr.flush()\n"
    "    print({'loss': round(2.0 / i, 4), 'learning_rate': 1e-4, 'epoch': i / total}, flush=True)\n"
    "    time.sleep(0.02)\n"
    "import os\n"
    "out = sys.argv[2]\n"
    "os.makedirs(out + '/checkpoint-' + str(total), exist_ok=True)\n"
    "open(out + '/checkpoint-' + str(total) + '/adapter_model.safetensors', 'wb').write(b'x' * 100)\n"
    "open(out + '/trainer_state.json', 'w').write('{}')\n"
    "print('done')\n"
)


def script(training: Path, name: str, body: str) -> str:
    path = training / f"{name}.py"
    path.write_text(body)
    return path.name


def test_seed_run_fails_clearly_without_resources(client, token, training):
    make_project(client, token["operator"], dataset_name="datasets/missing.jsonl")
    response = client.post("/projects/p1/runs", headers=token["operator"])
    assert response.status_code == 400
    assert "dataset_name datasets/missing.jsonl" in response.get_json()["detail"]


def test_a_run_goes_from_queued_to_succeeded_with_progress_metrics_and_artifacts(client, token, training, ticker):
    h = token["operator"]
    make_project(client, h, start_command=f"{PY} {script(training, 'train', TRAIN)} 10 {{output_dir}}")
    run = start(client, h)
    assert run["status"] == "queued" and run["number"] == 1 and run["executor"] == "local"
    assert run["argv"][-2:] == ["10", run["output_dir"]]
    running = ticker.until(run["id"], "running", "succeeded")
    assert running["progress"] >= 0.05
    done = ticker.until(run["id"], "succeeded")
    assert done["exit_code"] == 0 and done["progress"] == 1.0
    assert done["step"] == 10 and done["total_steps"] == 10
    assert done["metrics"]["loss"] == 0.2
    series = client.get(f"/v1/runs/{run['id']}/metrics?keys=loss", headers=h).get_json()["series"]["loss"]
    assert series["steps"] == list(range(1, 11)) and series["values"][0] == 2.0
    events = [e["message"] for e in client.get(f"/v1/runs/{run['id']}/logs", headers=h).get_json()["items"]]
    assert events[0].startswith("queued") and events[1] == "launching" and events[2].startswith("started")
    assert events[-1] == "finished with exit code 0"
    output = client.get(f"/v1/runs/{run['id']}/output?offset=0", headers=h).get_json()
    assert output["data"].rstrip().endswith("done") and output["complete"] is True
    artifacts = client.get(f"/v1/runs/{run['id']}/artifacts", headers=h).get_json()
    assert {(a["path"], a["kind"]) for a in artifacts} == {("checkpoint-10", "checkpoint"),
                                                          ("trainer_state.json", "trainer_state")}
    checkpoint = next(a for a in artifacts if a["kind"] == "checkpoint")
    assert checkpoint["size"] == 100
    tagged = client.patch(f"/v1/artifacts/{checkpoint['id']}", json={"tags": ["best"]}, headers=h).get_json()
    assert tagged["tags"] == ["best"]


def test_environment_of_a_run(client, token, training, ticker):
    h = token["operator"]
    body = "import os\nfor k in ['PYTHONUNBUFFERED','CUDA_VISIBLE_DEVICES','LLAMABOARD_ENABLED','LLAMABOARD_WORKDIR','MY_VAR']:\n    print(k + '=' + os.environ.get(k, '<unset>'))\n"
    make_project(client, h, start_command=f"{PY} {script(training, 'env', body)}", env={"MY_VAR": "x y"})
    run = start(client, h)
    done = ticker.until(run["id"], "succeeded")
    text = client.get(f"/v1/runs/{run['id']}/output", headers=h).get_json()["data"]
    assert "PYTHONUNBUFFERED=1" in text and "CUDA_VISIBLE_DEVICES=\n" in text and "LLAMABOARD_ENABLED=1" in text
    assert f"LLAMABOARD_WORKDIR={done['output_dir']}" in text and "MY_VAR=x y" in text


def test_multi_node_placeholders_name_this_host(client, token, training, ticker):
    code = "import sys; print('args', *sys.argv[1:], sep='|')"
    make_project(client, token["operator"], start_command=f"{PY} -c \"{code}\" {{nodes}} {{gpus_per_node}} "
                                                           "{master_addr} {master_port}")
    run_id = start(client, token["operator"])["id"]
    ticker.until(run_id, "succeeded")
    output = client.get(f"/v1/runs/{run_id}/output", headers=token["operator"]).get_json()["data"]
    assert f"args|1|0|127.0.0.1|{20000 + run_id}" in output


def test_nonzero_exit_is_failed(client, token, training, ticker):
    make_project(client, token["operator"], start_command=f"{PY} -c 'import sys; sys.exit(3)'")
    done = ticker.until(start(client, token["operator"])["id"], "failed")
    assert done["exit_code"] == 3


def test_run_events_read_in_the_readers_language_and_stay_english_in_the_api(auth, client, token, training, ticker):
    make_project(client, token["operator"], start_command=f"{PY} -c 'import sys; sys.exit(3)'")
    run_id = start(client, token["operator"])["id"]
    ticker.until(run_id, "failed")
    events = [e["message"] for e in client.get(f"/v1/runs/{run_id}/logs", headers=token["operator"]).get_json()["items"]]
    assert events[0] == "queued by operator" and events[-1] == "failed with exit code 3"
    auth.login("operator")
    page = client.get(f"/ui/runs/{run_id}", headers={"Accept-Language": "zh-CN"}).get_data(as_text=True)
    assert "由 operator 提交排队" in page and "失败，退出码 3" in page and "failed with exit code 3" not in page


def test_every_missing_thing_is_named_before_the_run_is_queued(client, token, training):
    h = token["operator"]
    make_project(client, h, workdir="no/such/dir", dataset_name="datasets/none.jsonl",
                 start_command="llamafactory-cli-nowhere train {config}")
    answer = client.post("/projects/p1/runs", headers=h)
    detail = answer.get_json()["detail"]
    assert answer.status_code == 400 and "dataset_name datasets/none.jsonl" in detail
    assert f"workdir {training}/no/such/dir" in detail
    assert client.get("/projects/p1/runs", headers=h).get_json() == []
    client.patch("/projects/p1", json={"workdir": ".", "dataset_name": "datasets/sample.jsonl"}, headers=h)
    answer = client.post("/projects/p1/runs", headers=h)
    assert answer.status_code == 400
    assert f"program llamafactory-cli-nowhere (not in {training} nor on PATH=" in answer.get_json()["detail"]


def test_a_workdir_gone_after_queueing_fails_the_start_with_a_plain_reason(client, token, training, ticker):
    (training / "gone").mkdir()
    make_project(client, token["operator"], workdir="gone")
    run = start(client, token["operator"])
    (training / "gone").rmdir()
    done = ticker.until(run["id"], "failed")
    events = client.get(f"/v1/runs/{run['id']}/logs", headers=token["operator"]).get_json()["items"]
    assert "working directory" in events[-1]["message"] and events[-1]["level"] == "error"
    assert done["exit_code"] is None and done["progress"] == 0.0


def test_a_program_gone_after_queueing_is_named_without_the_wrappers_internals(client, token, training, ticker):
    tool = training / "tool.sh"
    tool.write_text("#!/bin/sh\necho hi\n")
    tool.chmod(0o755)
    make_project(client, token["operator"], start_command="./tool.sh")
    run = start(client, token["operator"])
    tool.unlink()
    done = ticker.until(run["id"], "failed")
    output = client.get(f"/v1/runs/{run['id']}/output", headers=token["operator"]).get_json()["data"]
    assert f"portal: ./tool.sh: command not found in {training}" in output and "portal-run:" not in output
    assert done["exit_code"] == 127


def test_stop_sends_the_signal_and_ends_cancelled(client, token, training, ticker):
    h = token["operator"]
    make_project(client, h, start_command=f"{PY} -c 'import time; print(1, flush=True); time.sleep(60)'")
    run = start(client, h)
    ticker.until(run["id"], "running")
    stopped = client.post(f"/v1/runs/{run['id']}/stop", headers=h).get_json()
    assert stopped["status"] == "stopping"
    done = ticker.until(run["id"], "cancelled", timeout=15)
    assert done["exit_code"] == 143  # the shell wrapper reports 128 + SIGTERM
    again = client.post(f"/v1/runs/{run['id']}/stop", headers=h)
    assert again.status_code == 409


def test_a_run_that_ignores_the_signal_is_killed_after_the_grace_period(client, token, training, ticker):
    h = token["operator"]
    body = "import signal, time\nsignal.signal(signal.SIGTERM, signal.SIG_IGN)\nprint('ready', flush=True)\ntime.sleep(60)\n"
    make_project(client, h, start_command=f"{PY} {script(training, 'stubborn', body)}", grace_seconds=1)
    run = start(client, h)
    ticker.until(run["id"], "running")
    time.sleep(0.3)
    client.post(f"/v1/runs/{run['id']}/stop", headers=h)
    done = ticker.until(run["id"], "cancelled", timeout=20)
    events = [e["message"] for e in client.get(f"/v1/runs/{run['id']}/logs", headers=h).get_json()["items"]]
    assert any("sent SIGKILL" in m for m in events)
    assert done["exit_code"] == -9  # SIGKILL took the wrapper too: no exit file, the portal knows it killed


def test_queued_run_can_be_cancelled(client, token, training):
    make_project(client, token["operator"])
    run = start(client, token["operator"])
    cancelled = client.post(f"/v1/runs/{run['id']}/stop", headers=token["operator"]).get_json()
    assert cancelled["status"] == "cancelled"


def test_shell_metacharacters_stay_inert_argv(client, token, training, ticker, tmp_path):
    h = token["operator"]
    evil = "configs/x; touch PWNED $(touch PWNED2) `touch PWNED3`.yaml"
    (training / evil).write_text("a: 1\n")
    body = "import sys\nprint(repr(sys.argv[1:]))\n"
    make_project(client, h, training_yaml_name=evil, env={"E": "$(touch PWNED4)"},
                 start_command=f"{PY} {script(training, 'argv', body)} {{config}} '$(touch PWNED5)'")
    run = start(client, h)
    ticker.until(run["id"], "succeeded")
    text = client.get(f"/v1/runs/{run['id']}/output", headers=h).get_json()["data"]
    assert repr([evil, "$(touch PWNED5)"]) in text
    assert not list(training.rglob("PWNED*")) and not list(Path.cwd().glob("PWNED*"))


def test_rerun_creates_the_next_number(client, token, training, ticker):
    h = token["operator"]
    make_project(client, h, start_command=f"{PY} -c 'print(1)'")
    first = start(client, h)
    ticker.until(first["id"], "succeeded")
    second = client.post(f"/v1/runs/{first['id']}/rerun", headers=h).get_json()
    assert second["number"] == 2 and second["status"] == "queued"
    listed = client.get("/projects/p1/runs", headers=h).get_json()
    assert [r["number"] for r in listed] == [2, 1]


def test_output_pages_and_tail(app, client, token, training, ticker):
    h = token["operator"]
    body = "for i in range(3000):\n    print(f'line {i:05d} ' + 'é' * 40)\n"
    make_project(client, h, start_command=f"{PY} {script(training, 'many', body)}")
    run = start(client, h)
    ticker.until(run["id"], "succeeded")
    pages, offset = [], 0
    while True:
        page = client.get(f"/v1/runs/{run['id']}/output?offset={offset}&limit=50000", headers=h).get_json()
        pages.append(page["data"])
        offset = page["next_offset"]
        if page["complete"]:
            break
    text = "".join(pages)
    assert text.count("\n") == 3000 and "\ufffd" not in text  # no character cut at a page edge
    tail = client.get(f"/v1/runs/{run['id']}/output?tail=3", headers=h).get_json()
    assert tail["data"].splitlines()[0].startswith("line 02997") and len(tail["data"].splitlines()) == 3


def test_pushed_metrics_are_downsampled_for_the_chart(app, client, token, training):
    h = token["operator"]
    make_project(client, h)
    run = start(client, h)
    for chunk in range(20):
        points = [{"key": "loss", "value": 1.0 / (i + 1), "step": i} for i in range(chunk * 1000, chunk * 1000 + 1000)]
        assert client.post(f"/v1/runs/{run['id']}/metrics", json={"metrics": points}, headers=h).status_code == 200
    series = client.get(f"/v1/runs/{run['id']}/metrics?keys=loss&max_points=2000", headers=h).get_json()
    loss = series["series"]["loss"]
    assert loss["count"] == 20000 and loss["downsampled"] and len(loss["steps"]) <= 2000
    assert loss["steps"] == sorted(loss["steps"]) and loss["values"][0] > loss["values"][-1]
    too_many = client.post(f"/v1/runs/{run['id']}/metrics",
                           json={"metrics": [{"key": "x", "value": 1}] * 1001}, headers=h)
    assert too_many.status_code == 422
    with app.app_context():
        assert db.session.get(Run, run["id"]).last_metrics == {"loss": 1.0 / 20000}


def test_artifacts_download_as_files_and_checkpoints_as_streamed_tars(app, client, token, training, ticker):
    import io
    import tarfile

    h = token["operator"]
    make_project(client, h, start_command=f"{PY} {script(training, 'train', TRAIN)} 10 {{output_dir}}")
    run = ticker.until(start(client, h)["id"], "succeeded")
    artifacts = {a["path"]: a for a in client.get(f"/v1/runs/{run['id']}/artifacts", headers=h).get_json()}
    checkpoint = next(a for p, a in artifacts.items() if p.startswith("checkpoint-"))
    answer = client.get(f"/v1/artifacts/{checkpoint['id']}/download", headers=h)
    assert answer.status_code == 200 and answer.mimetype == "application/x-tar"
    assert f"filename*=UTF-8''{checkpoint['path']}.tar" in answer.headers["Content-Disposition"]
    with tarfile.open(fileobj=io.BytesIO(answer.get_data())) as archive:
        names = archive.getnames()
        assert names[0] == checkpoint["path"] and all(n.startswith(checkpoint["path"]) for n in names)
        member = next(m for m in archive.getmembers() if m.isfile())
        on_disk = Path(run["output_dir"], member.name).read_bytes()
        assert archive.extractfile(member).read() == on_disk
    assert client.get("/v1/artifacts/999/download", headers=h).status_code == 404
    assert client.get(f"/v1/artifacts/{checkpoint['id']}/download").status_code == 401
