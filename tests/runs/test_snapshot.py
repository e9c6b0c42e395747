"""A run records what it used when queued: config text and version, dataset digest, command, masked env."""
import hashlib
import io
import sys

import pytest

from tests.support import make_project, start

V1 = "learning_rate: 1.0e-5\nnum_train_epochs: 1\n"
V2 = "learning_rate: 3.0e-4\nnum_train_epochs: 2\n"
SAMPLE = '{"instruction": "hi", "output": "hello"}\n'


@pytest.fixture
def app_config(app_config):
    return {**app_config, "PORTAL_SNAPSHOT_HASH_BYTES": "100"}  # sample.jsonl is hashed, a bigger file is not


def save_config(client, headers, text, name="train"):
    response = client.put(f"/v1/train-configs/{name}", headers={**headers, "Content-Type": "application/yaml"},
                          data=text.encode())
    assert response.status_code == 200, response.get_json()


def snapshot_of(client, headers, run_id):
    return client.get(f"/v1/runs/{run_id}", headers=headers).get_json()["snapshot"]


def test_snapshot_survives_a_config_edit_after_queueing(client, auth, users, token, training):
    op = token["operator"]
    save_config(client, op, V1)
    make_project(client, op, env={"HF_TOKEN": "hf_secret", "WANDB_API_KEY": "k", "MODE": "sft"})
    run = start(client, op)
    save_config(client, op, V2)
    snap = snapshot_of(client, token["viewer"], run["id"])
    config = snap["config"]
    assert (config["name"], config["version"], config["text"]) == ("train", 1, V1)
    assert config["sha256"] == hashlib.sha256(V1.encode()).hexdigest() and config["path"] == "configs/train.yaml"
    assert snap["env"] == {"HF_TOKEN": "••••••", "WANDB_API_KEY": "••••••", "MODE": "sft"}
    assert snap["argv"] == run["argv"] and snap["executor"] == "local" and snap["workdir"] == run["workdir"]
    assert snap["dataset"]["path"] == "datasets/sample.jsonl" and snap["dataset"]["size"] == len(SAMPLE)
    assert snap["dataset"]["sha256_from"] == "pending"
    auth.login("viewer")
    page = client.get(f"/ui/runs/{run['id']}").get_data(as_text=True)
    assert "learning_rate: 1.0e-5" in page and "3.0e-4" not in page and "hf_secret" not in page
    assert 'href="/ui/configs/train/versions/1"' in page
    client.delete("/v1/train-configs/train", headers=token["admin"])
    page = client.get(f"/ui/runs/{run['id']}").get_data(as_text=True)
    assert "learning_rate: 1.0e-5" in page and "/ui/configs/train/versions/1" not in page
    assert snapshot_of(client, op, run["id"])["config"]["text"] == V1


def test_the_supervisor_hashes_the_dataset_and_records_the_launched_env(client, token, training, ticker):
    make_project(client, token["operator"], start_command=f"{sys.executable} -c 'print(1)'")
    run = start(client, token["operator"])
    ticker.until(run["id"], "succeeded")
    snap = snapshot_of(client, token["viewer"], run["id"])
    assert snap["dataset"]["sha256"] == hashlib.sha256(SAMPLE.encode()).hexdigest()
    assert snap["dataset"]["sha256_from"] == "supervisor"
    assert snap["env"]["PORTAL_RUN_ID"] == str(run["id"]) and snap["config"]["name"] is None  # not a library config


def test_a_dataset_larger_than_the_setting_is_known_by_size_and_mtime(client, token, training, ticker):
    (training / "datasets" / "big.jsonl").write_text(SAMPLE * 10)
    make_project(client, token["operator"], dataset_name="datasets/big.jsonl",
                 start_command=f"{sys.executable} -c 'print(1)'")
    run = start(client, token["operator"])
    ticker.until(run["id"], "succeeded")
    dataset = snapshot_of(client, token["viewer"], run["id"])["dataset"]
    assert dataset["sha256"] is None and dataset["sha256_from"] == "size_mtime"
    assert dataset["size"] == len(SAMPLE) * 10 and dataset["mtime"]


def test_an_uploaded_dataset_brings_the_sha256_of_its_upload(client, token, training):
    op = token["operator"]
    dataset_id = client.post("/v1/datasets", json={"name": "pairs", "task_type": "sft"}, headers=op).get_json()["id"]
    raw = (SAMPLE * 50).encode()  # larger than the hashing limit: the digest can only come from the upload
    uploaded = client.put(f"/v1/datasets/{dataset_id}/files", headers=op, content_type="multipart/form-data",
                          data={"file": (io.BytesIO(raw), "train.jsonl")}).get_json()
    make_project(client, op, dataset_name=f"datasets/pairs/{uploaded['upload_id']}_train.jsonl")
    dataset = snapshot_of(client, op, start(client, op)["id"])["dataset"]
    assert dataset["sha256"] == hashlib.sha256(raw).hexdigest() and dataset["sha256_from"] == "upload"


def test_rerun_with_the_same_snapshot_runs_the_recorded_text(client, auth, users, token, training, ticker):
    op = token["operator"]
    save_config(client, op, V1)
    make_project(client, op, start_command=f"{sys.executable} -c 'print(1)' {{config_path}}")
    old = start(client, op)
    ticker.until(old["id"], "succeeded")
    save_config(client, op, V2)
    same = client.post(f"/v1/runs/{old['id']}/rerun?mode=snapshot", headers=op).get_json()
    config = same["snapshot"]["config"]
    assert (config["name"], config["version"], config["text"]) == ("train", 1, V1)
    assert open(same["argv"][-1]).read() == V1 and ".snapshots" in same["argv"][-1]
    current = client.post(f"/v1/runs/{old['id']}/rerun", headers=op).get_json()
    assert current["snapshot"]["config"]["text"] == V2 and current["argv"][-1].endswith("configs/train.yaml")
    assert client.post(f"/v1/runs/{old['id']}/rerun?mode=nope", headers=op).status_code == 422
    auth.login("operator")
    page = client.get(f"/ui/runs/{old['id']}").get_data(as_text=True)
    assert 'id="rerun-snapshot"' in page
    response = auth.post(f"/ui/runs/{old['id']}/rerun", {"mode": "snapshot"})
    assert response.status_code == 302


def test_output_downloads_whole(client, token, training, ticker):
    make_project(client, token["operator"],
                 start_command=f"{sys.executable} -c \"print('\\n'.join('line %d' % i for i in range(50000)))\"")
    run = start(client, token["operator"])
    assert client.get(f"/v1/runs/{run['id']}/output/download", headers=token["viewer"]).status_code == 404
    ticker.until(run["id"], "succeeded")
    response = client.get(f"/v1/runs/{run['id']}/output/download", headers=token["viewer"], buffered=False)
    assert response.status_code == 200 and "attachment" in response.headers["Content-Disposition"]
    assert response.is_streamed  # read block by block, never held whole
    lines = response.get_data(as_text=True).splitlines()
    assert lines[0] == "line 0" and lines[-1] == "line 49999" and len(lines) == 50000


def test_a_run_without_a_snapshot_shows_so_and_cannot_rerun_it(app, client, auth, users, token, training):
    from portal.extensions import db
    from portal.runs.models import Run

    make_project(client, token["operator"])
    run = start(client, token["operator"])
    with app.app_context():  # as a run queued before snapshots were recorded
        db.session.get(Run, run["id"]).snapshot = {}
        db.session.commit()
    assert client.get(f"/v1/runs/{run['id']}", headers=token["viewer"]).get_json()["snapshot"] is None
    response = client.post(f"/v1/runs/{run['id']}/rerun?mode=snapshot", headers=token["operator"])
    assert response.status_code == 409 and "no config text" in response.get_json()["detail"]
    auth.login("viewer")
    assert "queued before runs recorded what they used" in client.get(f"/ui/runs/{run['id']}").get_data(as_text=True)
