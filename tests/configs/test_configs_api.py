"""Training config API: the seed's /v1/train-config shapes, the library, versions, refusals."""
import re
import time
import tracemalloc

import pytest

from tests.configs.conftest import BILLION_LAUGHS, GOOD, put, upload

ISO_Z = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")


def detail(client, headers, name):
    response = client.get(f"/v1/train-configs/{name}", headers=headers)
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def test_upload_get_delete_answer_the_seed_shapes(client, token, training):
    response = upload(client, token["operator"], GOOD)
    assert response.status_code == 200
    body = response.get_json()
    meta = body["train_config"]
    assert meta["filename"] == "finetune.yaml"
    assert ISO_Z.match(meta["uploaded_at"])
    assert meta["size"] == len(GOOD.encode()) and isinstance(meta["size"], int)
    assert meta["path"] == "configs/finetune.yaml" and meta["name"] == "finetune" and meta["version"] == 1
    assert (training / "configs" / "finetune.yaml").read_text() == GOOD

    current = client.get("/v1/train-config", headers=token["viewer"]).get_json()
    assert {k: current[k] for k in ("filename", "uploaded_at", "size")} == \
           {k: meta[k] for k in ("filename", "uploaded_at", "size")}

    deleted = client.delete("/v1/train-config", headers=token["operator"])
    assert deleted.status_code == 200 and deleted.get_json()["status"] == "train_config_deleted"
    gone = client.get("/v1/train-config", headers=token["viewer"])
    assert gone.status_code == 404 and isinstance(gone.get_json()["detail"], str)
    assert not (training / "configs" / "finetune.yaml").exists()
    assert client.delete("/v1/train-config", headers=token["operator"]).status_code == 404


def test_upload_accepts_yml_and_names_the_config_after_the_file(client, token, training):
    meta = upload(client, token["operator"], GOOD, filename="My SFT.yml").get_json()["train_config"]
    assert meta["filename"] == "My SFT.yml" and meta["name"] == "my-sft" and meta["path"] == "configs/my-sft.yaml"
    named = upload(client, token["operator"], GOOD, filename="x.yaml", name="chosen").get_json()["train_config"]
    assert named["name"] == "chosen" and (training / "configs" / "chosen.yaml").is_file()
    unicode = upload(client, token["operator"], GOOD, filename="微调.yaml").get_json()["train_config"]
    assert unicode["filename"] == "微调.yaml" and unicode["name"].startswith("config-")


def test_uploaded_file_names_cannot_leave_the_configs_dir(client, token, training):
    meta = upload(client, token["operator"], GOOD, filename="../../evil.yaml").get_json()["train_config"]
    assert meta["path"] == "configs/evil.yaml" and meta["filename"] == "evil.yaml"
    assert not (training.parent / "evil.yaml").exists()
    response = upload(client, token["operator"], GOOD, name="../../x")
    assert response.status_code == 400 and "slug" in response.get_json()["detail"]


@pytest.mark.parametrize("filename", ["train.json", "train.yaml.txt", "train", "train.yaml.exe"])
def test_upload_refuses_other_extensions(client, token, training, filename):
    response = upload(client, token["operator"], GOOD, filename=filename)
    assert response.status_code == 422
    [entry] = response.get_json()["detail"]
    assert entry["loc"] == ["body", "file"] and entry["type"] == "extension" and ".yaml" in entry["msg"]
    assert client.get("/v1/train-configs", headers=token["viewer"]).get_json()["items"] == []


def test_upload_without_a_file_is_422_missing(client, token, training):
    response = client.put("/v1/train-config", headers=token["operator"], data={"other": "x"},
                          content_type="multipart/form-data")
    assert response.status_code == 422
    assert response.get_json()["detail"] == [{"loc": ["body", "file"], "msg": "Field required", "type": "missing"}]


@pytest.mark.parametrize("document, words", [
    ("- model\n- dataset\n", "is a list"),
    ("just some text\n", "single value"),
    ("", "empty"),
    ("# only a comment\n", "empty"),
    ("--- {a: 1}\n--- {b: 2}\n", "single document"),
])
def test_documents_that_are_not_one_mapping_are_refused(client, token, training, document, words):
    response = upload(client, token["operator"], document)
    assert response.status_code == 422
    [entry] = response.get_json()["detail"]
    assert words in entry["msg"] and entry["loc"] == ["body", "file"]


def test_syntax_errors_give_line_and_column(client, token, training):
    response = upload(client, token["operator"], "model_name_or_path: m\nstage: sft\n  dataset: x\n")
    assert response.status_code == 422
    [entry] = response.get_json()["detail"]
    assert entry["type"] == "yaml" and (entry["line"], entry["column"]) == (3, 10)
    assert entry["msg"] == "line 3, column 10: mapping values are not allowed here"
    flow = upload(client, token["operator"], "a: 1\nb: [1, 2\nc: 3\n").get_json()["detail"][0]
    assert flow["msg"].startswith("line 3, column 2: expected ',' or ']'") and "line 2, column 4" in flow["msg"]


def test_invalid_utf8_and_control_characters_are_placed(client, token, training):
    bad = upload(client, token["operator"], b"a: 1\nb: caf\xe9\n").get_json()["detail"][0]
    assert bad["type"] == "encoding" and (bad["line"], bad["column"]) == (2, 7)
    control = upload(client, token["operator"], "a: 1\nb: \x07\n").get_json()["detail"][0]
    assert (control["line"], control["column"]) == (2, 4) and "0x7" in control["msg"]


def test_python_tags_are_refused_and_never_run(client, token, training, tmp_path):
    marker = tmp_path / "pwned"
    document = f"a: !!python/object/apply:os.system ['touch {marker}']\n"
    response = upload(client, token["operator"], document)
    assert response.status_code == 422 and "constructor" in response.get_json()["detail"][0]["msg"]
    assert not marker.exists()


def test_billion_laughs_is_refused_quickly_with_little_memory(client, token, training):
    tracemalloc.start()
    started = time.perf_counter()
    response = upload(client, token["operator"], BILLION_LAUGHS)
    elapsed = time.perf_counter() - started
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert response.status_code == 422
    [entry] = response.get_json()["detail"]
    assert "expands to more than" in entry["msg"] and entry["line"] is not None
    assert elapsed < 2.0 and peak < 20 * 1024 * 1024


@pytest.mark.parametrize("document, words", [
    ("a: &a [*a]\n", "contains it"),
    ("a: " + "[" * 200 + "]" * 200 + "\n", "nested deeper"),
    ("a: &a [x]\n" + "".join(f"a{i}: &a{i} [*{'a' if i == 0 else f'a{i - 1}'}]\n" for i in range(100)),
     "deeper than"),
])
def test_recursive_and_deep_documents_are_refused(client, token, training, document, words):
    response = upload(client, token["operator"], document)
    assert response.status_code == 422 and words in response.get_json()["detail"][0]["msg"]


def test_overwriting_keeps_every_version(client, token, training):
    upload(client, token["operator"], GOOD)
    v2, v3 = GOOD + "seed: 2\n", GOOD + "seed: 3\n"
    assert put(client, token["operator"], "finetune", v2).get_json()["version"] == 2
    response = client.put("/v1/train-configs/finetune", headers=token["operator"], json={"content": v3})
    assert response.status_code == 200 and response.get_json()["version"] == 3
    assert put(client, token["operator"], "finetune.yaml", v3).get_json()["version"] == 3  # unchanged: no version
    config = detail(client, token["viewer"], "finetune")
    assert [v["version"] for v in config["versions"]] == [3, 2, 1] and config["content"] == v3
    assert (training / "configs" / "finetune.yaml").read_text() == v3 and config["disk"] == "same"
    first = client.get("/v1/train-configs/finetune/versions/1", headers=token["viewer"]).get_json()
    assert first["content"] == GOOD and first["version"] == 1 and ISO_Z.match(first["uploaded_at"])
    restored = client.post("/v1/train-configs/finetune/versions/1/restore", headers=token["operator"]).get_json()
    assert restored["version"] == 4 and restored["content"] == GOOD
    assert (training / "configs" / "finetune.yaml").read_text() == GOOD
    assert client.get("/v1/train-configs/finetune/versions/9", headers=token["viewer"]).status_code == 404


def test_put_body_shapes_and_refusals(client, token, training):
    empty = put(client, token["operator"], "x", "")
    assert empty.status_code == 422 and empty.get_json()["detail"][0]["type"] == "missing"
    no_content = client.put("/v1/train-configs/x", headers=token["operator"], json={"yaml": "a: 1"})
    assert no_content.status_code == 422 and no_content.get_json()["detail"][0]["loc"] == ["body", "content"]
    bad = client.put("/v1/train-configs/x", headers=token["operator"], json={"content": "a: [\n"})
    assert bad.status_code == 422 and bad.get_json()["detail"][0]["loc"] == ["body", "content"]
    raw_bad = put(client, token["operator"], "x", "- 1\n")
    assert raw_bad.get_json()["detail"][0]["loc"] == ["body"]
    for name in ("Bad Name", "new", "-x", "a" * 65):
        assert put(client, token["operator"], name, GOOD).status_code == 400, name


def test_summary_and_dataset_warnings(client, token, training):
    put(client, token["operator"], "sft", GOOD)
    config = detail(client, token["viewer"], "sft")
    assert config["summary"]["model_name_or_path"] == "Qwen/Qwen2.5-7B-Instruct"
    assert config["summary"]["learning_rate"] == 0.0001 and config["summary"]["bf16"] is True
    assert config["warnings"] == ["dataset 'missing_set' is not in datasets/dataset_info.json"]
    listed = put(client, token["operator"], "listed", "model_name_or_path: m\ndataset: [identity, nope]\n"
                                                      "dataset_dir: datasets\n"
                                                      "eval_dataset: alpaca_zh\nbf16: true\nfp16: true\n").get_json()
    assert listed["warnings"] == ["dataset 'nope' is not in datasets/dataset_info.json",
                                  "bf16 and fp16 are both true; choose one"]
    (training / "datasets" / "dataset_info.json").unlink()
    assert "cannot be checked" in detail(client, token["viewer"], "sft")["warnings"][0]


def test_duplicate_keys_are_refused_as_omegaconf_refuses_them(client, token, training):
    response = put(client, token["operator"], "dup", "model_name_or_path: a\nstage: sft\nstage: pt\n")
    assert response.status_code == 422
    problem = response.get_json()["detail"][0]
    assert (problem["line"], problem["column"]) == (3, 1)
    assert problem["msg"].startswith("line 3, column 1: key 'stage' is repeated (first on line 2)")
    nested = put(client, token["operator"], "dup", "model: m\npeft_config:\n  name: lora\n  r: 8\n  r: 16\n")
    assert nested.status_code == 422 and nested.get_json()["detail"][0]["line"] == 5


def test_list_is_searchable_and_paged(client, token, training):
    for name in ("alpha", "beta", "gamma"):
        put(client, token["operator"], name, GOOD)
    page = client.get("/v1/train-configs?limit=2", headers=token["viewer"]).get_json()
    assert [c["name"] for c in page["items"]] == ["alpha", "beta"] and page["next_after"] == "beta"
    rest = client.get("/v1/train-configs?after=beta", headers=token["viewer"]).get_json()
    assert [c["name"] for c in rest["items"]] == ["gamma"] and rest["next_after"] is None
    found = client.get("/v1/train-configs?q=amm", headers=token["viewer"]).get_json()["items"]
    assert [c["name"] for c in found] == ["gamma"] and found[0]["summary"]["stage"] == "sft"


def test_set_current_switches_what_train_config_answers(client, token, training):
    upload(client, token["operator"], GOOD, filename="one.yaml")
    put(client, token["operator"], "two", GOOD + "seed: 2\n")
    assert client.get("/v1/train-config", headers=token["viewer"]).get_json()["name"] == "one"
    made = client.post("/v1/train-configs/two/current", headers=token["operator"]).get_json()
    assert made["current"] is True
    assert client.get("/v1/train-config", headers=token["viewer"]).get_json()["filename"] == "two.yaml"
    assert detail(client, token["viewer"], "one")["current"] is False


def test_delete_removes_config_versions_and_file(client, token, training):
    put(client, token["operator"], "gone", GOOD)
    put(client, token["operator"], "gone", GOOD + "seed: 1\n")
    response = client.delete("/v1/train-configs/gone", headers=token["operator"])
    assert response.status_code == 200
    assert response.get_json() == {"status": "train_config_deleted", "name": "gone"}
    assert client.get("/v1/train-configs/gone", headers=token["viewer"]).status_code == 404
    assert client.get("/v1/train-configs/gone/versions/1", headers=token["viewer"]).status_code == 404
    assert not (training / "configs" / "gone.yaml").exists()
    assert client.delete("/v1/train-configs/gone", headers=token["operator"]).status_code == 404


def test_file_changed_or_lost_on_disk_is_reported_and_rewritten(client, token, training):
    put(client, token["operator"], "disk", GOOD)
    path = training / "configs" / "disk.yaml"
    path.write_text("edited: outside\n")
    assert detail(client, token["viewer"], "disk")["disk"] == "modified"
    path.unlink()
    assert detail(client, token["viewer"], "disk")["disk"] == "missing"
    put(client, token["operator"], "disk", GOOD)  # same content: no new version, but the file is back
    assert path.read_text() == GOOD and detail(client, token["viewer"], "disk")["version"] == 1


def test_projects_can_use_a_library_config(client, token, training):
    put(client, token["operator"], "proj-cfg", GOOD)
    project = client.post("/projects", headers=token["operator"], json={
        "name": "uses-cfg", "training_yaml_name": "configs/proj-cfg.yaml"}).get_json()
    config_check = [r for r in project["resources"] if r["field"] == "training_yaml_name"][0]
    assert config_check["exists"] is True
    assert detail(client, token["viewer"], "proj-cfg")["projects"] == ["uses-cfg"]


def test_config_summary_for_datasets(app, client, token, training):
    from portal.configs.services import config_summary

    meta = upload(client, token["operator"], GOOD).get_json()["train_config"]
    with app.app_context():
        assert config_summary("finetune") == {k: meta[k] for k in ("filename", "uploaded_at", "size")}
        assert config_summary("finetune.yaml")["size"] == meta["size"]
        assert config_summary("nothing") is None and config_summary("") is None


def test_viewer_may_read_but_not_change(client, token, training):
    put(client, token["operator"], "ro", GOOD)
    assert client.get("/v1/train-configs/ro", headers=token["viewer"]).status_code == 200
    assert put(client, token["viewer"], "ro", GOOD + "x: 1\n").status_code == 403
    assert upload(client, token["viewer"], GOOD).status_code == 403
    assert client.delete("/v1/train-configs/ro", headers=token["viewer"]).status_code == 403
    assert client.post("/v1/train-configs/ro/current", headers=token["viewer"]).status_code == 403


def test_openapi_documents_the_multipart_and_raw_bodies(client, token):
    paths = client.get("/openapi.json", headers=token["viewer"]).get_json()["paths"]
    upload_body = paths["/v1/train-config"]["put"]["requestBody"]["content"]["multipart/form-data"]
    assert upload_body["schema"]["properties"]["file"]["format"] == "binary"
    put_body = paths["/v1/train-configs/{name}"]["put"]["requestBody"]["content"]
    assert {"application/json", "application/yaml"} <= set(put_body)
    assert "422" in paths["/v1/train-config"]["put"]["responses"]
    assert "413" in paths["/v1/train-config"]["put"]["responses"]


def test_summary_values_are_json_safe(client, token, training):
    body = put(client, token["operator"], "odd", "model_name_or_path: m\nlearning_rate: .nan\n"
                                                  "output_dir: 2024-01-01\ndataset: [alpaca_zh, .inf]\n").get_json()
    assert body["summary"] == {"model_name_or_path": "m", "learning_rate": "nan", "output_dir": "2024-01-01",
                               "dataset": ["alpaca_zh", "inf"], "dataset_dir": "data"}
