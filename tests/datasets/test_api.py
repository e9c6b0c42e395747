"""The datasets JSON API: seed-api.md shapes field by field, search, pages, changes, preview."""
import re

from tests.datasets.conftest import ALPACA, make_dataset, upload

SEED = {"name": "chatglm_pairs_v1", "type": "text2text", "description": "object-storage", "task_type": "sft",
        "metadata": {"language": "zh", "records": 1024}}
UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")
ISO_Z = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")


def test_create_answers_id_and_created_at_as_the_seed(client, token):
    response = client.post("/v1/datasets", json=SEED, headers=token["operator"])
    assert response.status_code == 200
    body = response.get_json()
    assert set(body) == {"id", "created_at"}
    assert UUID.match(body["id"]) and ISO_Z.match(body["created_at"])


def test_dataset_record_has_every_seed_field(client, token):
    headers = token["operator"]
    dataset_id = client.post("/v1/datasets", json=SEED, headers=headers).get_json()["id"]
    uploaded = upload(client, headers, dataset_id, ALPACA * 4).get_json()
    record = client.get(f"/v1/datasets/{dataset_id}", headers=token["viewer"]).get_json()
    assert record["id"] == dataset_id
    for key, value in SEED.items():
        assert record[key] == value, key
    assert ISO_Z.match(record["created_at"]) and record["status"] == "ready"
    assert record["train_config"] is None
    assert record["upload_progress"]["files_count"] == 1
    (entry,) = record["files"]
    assert {"upload_id", "name", "stored_name", "bytes", "uploaded_at"} <= set(entry)
    assert entry["upload_id"] == uploaded["upload_id"] and UUID.match(entry["upload_id"])
    assert entry["name"] == "train.jsonl" and entry["bytes"] == len(ALPACA) * 4
    assert entry["stored_name"] == f"{entry['upload_id']}_train.jsonl"
    assert ISO_Z.match(entry["uploaded_at"])
    assert entry["path"] == f"datasets/chatglm_pairs_v1/{entry['stored_name']}"


def test_put_files_answers_the_seed_shape(client, token, app):
    headers = token["operator"]
    dataset_id = make_dataset(client, headers)
    body = upload(client, headers, dataset_id, ALPACA * 3).get_json()
    assert {"upload_id", "dataset_id", "bytes", "filename"} <= set(body)
    assert body["dataset_id"] == dataset_id and body["bytes"] == len(ALPACA) * 3 and body["filename"] == "train.jsonl"
    assert body["status"] == "ready" and body["format"] == "alpaca" and body["records"] == 3
    stored = app.config["PORTAL"].training_dir / body["path"]
    assert stored.read_bytes() == ALPACA * 3
    assert body["sha256"] == __import__("hashlib").sha256(ALPACA * 3).hexdigest()


def test_delete_upload_answers_aborted_and_removes_the_file(client, token, app):
    headers = token["operator"]
    dataset_id = make_dataset(client, headers)
    body = upload(client, headers, dataset_id, ALPACA).get_json()
    response = client.delete(f"/v1/uploads/{body['upload_id']}", headers=headers)
    assert response.status_code == 200
    assert response.get_json() == {"upload_id": body["upload_id"], "status": "aborted"}
    assert not (app.config["PORTAL"].training_dir / body["path"]).exists()
    assert client.get(f"/v1/datasets/{dataset_id}", headers=headers).get_json()["files"] == []
    assert client.delete(f"/v1/uploads/{body['upload_id']}", headers=headers).get_json()["status"] == "aborted"
    assert client.delete("/v1/uploads/nope", headers=headers).status_code == 404


def test_list_searches_and_pages_by_name(client, token):
    headers = token["operator"]
    for name in ("alpha", "beta", "gamma"):
        make_dataset(client, headers, name=name, description=f"{name} data")
    first = client.get("/v1/datasets?limit=2", headers=headers).get_json()
    assert [d["name"] for d in first["items"]] == ["alpha", "beta"] and first["next_after"] == "beta"
    rest = client.get(f"/v1/datasets?limit=2&after={first['next_after']}", headers=headers).get_json()
    assert [d["name"] for d in rest["items"]] == ["gamma"] and rest["next_after"] is None
    found = client.get("/v1/datasets?q=GAMMA", headers=headers).get_json()["items"]
    assert [d["name"] for d in found] == ["gamma"]


def test_names_are_unique_slugs(client, token):
    headers = token["operator"]
    make_dataset(client, headers, name="taken")
    assert client.post("/v1/datasets", json={"name": "taken"}, headers=headers).status_code == 409
    for bad in ("../up", "a/b", "", ".hidden", "x" * 65):
        response = client.post("/v1/datasets", json={"name": bad}, headers=headers)
        assert response.status_code == 400, bad


def test_patch_changes_fields_and_links_a_training_config(client, token, app):
    headers = token["operator"]
    dataset_id = make_dataset(client, headers)
    changed = client.patch(f"/v1/datasets/{dataset_id}", json={"description": "new", "metadata": {"a": 1}},
                           headers=headers).get_json()
    assert changed["description"] == "new" and changed["metadata"] == {"a": 1}
    assert client.patch(f"/v1/datasets/{dataset_id}", json={"train_config": "nope"},
                        headers=headers).status_code == 400
    with app.app_context():
        from portal.configs import services as configs
        configs.save_config("sft", "model_name_or_path: qwen\nstage: sft\n", filename="sft.yaml")
    linked = client.patch(f"/v1/datasets/{dataset_id}", json={"train_config": "sft"}, headers=headers).get_json()
    assert linked["train_config"]["name"] == "sft" and linked["train_config"]["filename"] == "sft.yaml"
    assert ISO_Z.match(linked["train_config"]["uploaded_at"]) and linked["train_config"]["size"] > 0
    unlinked = client.patch(f"/v1/datasets/{dataset_id}", json={"train_config": None}, headers=headers).get_json()
    assert unlinked["train_config"] is None


def test_delete_dataset_removes_rows_and_folder(client, token, app):
    headers = token["operator"]
    dataset_id = make_dataset(client, headers, name="gone")
    upload(client, headers, dataset_id, ALPACA)
    folder = app.config["PORTAL"].training_dir / "datasets" / "gone"
    assert any(folder.iterdir())
    assert client.delete(f"/v1/datasets/{dataset_id}", headers=headers).get_json()["id"] == dataset_id
    assert not folder.exists()
    assert client.get(f"/v1/datasets/{dataset_id}", headers=headers).status_code == 404


def test_preview_pages_by_cursor_with_line_numbers(client, token):
    headers = token["operator"]
    dataset_id = make_dataset(client, headers)
    lines = [b'{"instruction": "q%d", "output": "a%d"}\n' % (i, i) for i in range(25)]
    lines[7] = b'{"instruction": broken\n'
    upload_id = upload(client, headers, dataset_id, b"".join(lines)).get_json()["upload_id"]
    url = f"/v1/datasets/{dataset_id}/files/{upload_id}/preview"
    first = client.get(f"{url}?limit=10", headers=token["viewer"]).get_json()
    assert [item["line"] for item in first["items"]] == list(range(1, 11))
    assert first["items"][0]["record"] == {"instruction": "q0", "output": "a0"}
    assert first["items"][7]["record"] is None and "not valid JSON" in first["items"][7]["error"]
    second = client.get(f"{url}?limit=10&cursor={first['next_cursor']}", headers=headers).get_json()
    assert [item["line"] for item in second["items"]] == list(range(11, 21))
    third = client.get(f"{url}?limit=10&cursor={second['next_cursor']}", headers=headers).get_json()
    assert [item["line"] for item in third["items"]] == list(range(21, 26))
    assert client.get(f"{url}?cursor=junk", headers=headers).status_code == 400


def test_file_detail_has_report_and_stats(client, token):
    headers = token["operator"]
    dataset_id = make_dataset(client, headers)
    data = ALPACA * 2 + b'{"instruction": "", "output": "x"}\n'
    upload_id = upload(client, headers, dataset_id, data).get_json()["upload_id"]
    detail = client.get(f"/v1/datasets/{dataset_id}/files/{upload_id}", headers=headers).get_json()
    assert detail["status"] == "invalid" and detail["bad_records"] == 1
    assert detail["report"]["errors"] == [{"line": 3, "message": "empty required field 'instruction'"}]
    assert detail["stats"]["records"] == 2 and detail["stats"]["fields"]["output"] == {"avg": 7.0, "max": 7,
                                                                                      "present": 2}


def test_openapi_documents_the_upload_bodies(client, token):
    doc = client.get("/openapi.json", headers=token["viewer"]).get_json()
    put = doc["paths"]["/v1/datasets/{dataset_id}/files"]["put"]
    assert "multipart/form-data" in put["requestBody"]["content"]
    patch = doc["paths"]["/v1/uploads/{upload_id}"]["patch"]
    assert "application/offset+octet-stream" in patch["requestBody"]["content"]
    assert "DatasetRecord" in doc["components"]["schemas"]
