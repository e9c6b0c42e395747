"""LLaMA-Factory registration: dataset_info.json entries per format, written atomically, kept tidy."""
import json

import pytest

from tests.datasets.conftest import ALPACA, make_dataset, upload

SHAREGPT = b'{"conversations": [{"from": "human", "value": "hi"}, {"from": "gpt", "value": "hello"}]}\n'
OPENAI = b'{"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}]}\n'
ALPACA_SYSTEM = b'{"instruction": "q", "input": "", "output": "a", "system": "be brief"}\n'
TEXT = b'{"text": "some pretraining text"}\n'


def info(app) -> dict:
    return json.loads((app.config["PORTAL"].training_dir / "datasets" / "dataset_info.json").read_text())


def register(client, headers, dataset_id, upload_id, **body):
    return client.post(f"/v1/datasets/{dataset_id}/files/{upload_id}/register", json=body or None, headers=headers)


@pytest.mark.parametrize("data, expected", [
    (ALPACA, {"formatting": "alpaca", "columns": {"prompt": "instruction", "query": "input", "response": "output"}}),
    (ALPACA_SYSTEM, {"formatting": "alpaca", "columns": {"prompt": "instruction", "query": "input",
                                                         "response": "output", "system": "system"}}),
    (SHAREGPT, {"formatting": "sharegpt", "columns": {"messages": "conversations"},
                "tags": {"role_tag": "from", "content_tag": "value", "user_tag": "human", "assistant_tag": "gpt",
                         "observation_tag": "observation", "function_tag": "function_call", "system_tag": "system"}}),
    (OPENAI, {"formatting": "sharegpt", "columns": {"messages": "messages"},
              "tags": {"role_tag": "role", "content_tag": "content", "user_tag": "user", "assistant_tag": "assistant",
                       "observation_tag": "tool", "system_tag": "system"}}),
    (TEXT, {"formatting": "alpaca", "columns": {"prompt": "text"}}),
])
def test_each_format_gets_its_entry(app, client, token, data, expected):
    headers = token["operator"]
    dataset_id = make_dataset(client, headers, name="mine")
    body = upload(client, headers, dataset_id, data * 2).get_json()
    response = register(client, headers, dataset_id, body["upload_id"])
    assert response.status_code == 200
    entry = {"file_name": f"mine/{body['stored_name']}", **expected}
    assert response.get_json() == {"name": "mine", "entry": entry, "dataset_info": "datasets/dataset_info.json"}
    assert info(app) == {"mine": entry}
    record = client.get(f"/v1/datasets/{dataset_id}", headers=headers).get_json()
    assert record["files"][0]["registered_as"] == "mine"


def test_other_entries_survive_and_a_name_is_replaced(app, client, token):
    headers = token["operator"]
    root = app.config["PORTAL"].training_dir / "datasets"
    root.mkdir(parents=True, exist_ok=True)
    (root / "dataset_info.json").write_text(json.dumps({"alpaca_en_demo": {"file_name": "alpaca_en_demo.json"}}))
    dataset_id = make_dataset(client, headers, name="mine")
    first = upload(client, headers, dataset_id, ALPACA).get_json()
    second = upload(client, headers, dataset_id, ALPACA * 2, filename="v2.jsonl").get_json()
    register(client, headers, dataset_id, first["upload_id"], name="mine_sft")
    register(client, headers, dataset_id, second["upload_id"], name="mine_sft")
    data = info(app)
    assert data["alpaca_en_demo"] == {"file_name": "alpaca_en_demo.json"}
    assert data["mine_sft"]["file_name"] == f"mine/{second['stored_name']}"
    assert sorted(p.name for p in root.iterdir() if p.name.startswith(".dataset_info.json.")) == [
        ".dataset_info.json.lock"]  # no temporary file left behind


def test_removing_the_file_removes_its_entry(app, client, token):
    headers = token["operator"]
    dataset_id = make_dataset(client, headers, name="mine")
    body = upload(client, headers, dataset_id, ALPACA).get_json()
    register(client, headers, dataset_id, body["upload_id"])
    client.delete(f"/v1/uploads/{body['upload_id']}", headers=headers)
    assert info(app) == {}


def test_invalid_files_and_broken_info_files_are_refused(app, client, token):
    headers = token["operator"]
    dataset_id = make_dataset(client, headers, name="mine")
    bad = upload(client, headers, dataset_id, b'{"instruction": "x"}\n').get_json()
    assert register(client, headers, dataset_id, bad["upload_id"]).status_code == 409
    good = upload(client, headers, dataset_id, ALPACA).get_json()
    assert register(client, headers, dataset_id, good["upload_id"], name="../x").status_code == 400
    (app.config["PORTAL"].training_dir / "datasets" / "dataset_info.json").write_text("{ not json")
    response = register(client, headers, dataset_id, good["upload_id"])
    assert response.status_code == 409 and "not valid JSON" in response.get_json()["detail"]
    assert (app.config["PORTAL"].training_dir / "datasets" / "dataset_info.json").read_text() == "{ not json"
