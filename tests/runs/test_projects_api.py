"""Projects through the JSON API: the seed contract, search, edits, archive, rules."""
from tests.support import make_project

SEED = {"name": "demo-project", "description": "微调示例", "owner": "alice", "tags": ["demo"],
        "dataset_name": "datasets/sample.jsonl", "training_yaml_name": "configs/train.yaml"}


def test_create_project_as_in_the_seed(client, token):
    response = client.post("/projects", json=SEED, headers=token["operator"])
    assert response.status_code == 200
    body = response.get_json()
    for key, value in SEED.items():
        assert body[key] == value
    assert body["status"] == "active" and isinstance(body["id"], int)
    assert body["effective"]["start_command"] == "bash run_train_full_sft.sh {config}"
    assert body["effective"]["workdir"] == "KTIP_Release_2.1.0/train/llm"
    assert {r["field"]: r["exists"] for r in body["resources"]} == {"dataset_name": False,
                                                                    "training_yaml_name": False}


def test_names_are_unique_slugs(client, token):
    assert client.post("/projects", json=SEED, headers=token["operator"]).status_code == 200
    again = client.post("/projects", json=SEED, headers=token["operator"])
    assert again.status_code == 409 and "already exists" in again.get_json()["detail"]
    bad = client.post("/projects", json={**SEED, "name": "Bad Name!"}, headers=token["operator"])
    assert bad.status_code == 422 and bad.get_json()["detail"][0]["loc"] == ["body", "name"]  # issue 15.12


def test_missing_name_is_422(client, token):
    response = client.post("/projects", json={"description": "x"}, headers=token["operator"])
    assert response.status_code == 422
    assert response.get_json()["detail"][0]["loc"] == ["body", "name"]


def test_search_tag_filter_and_keyset_pages(client, token):
    h = token["operator"]
    for i, tags in enumerate([["llm"], ["llm", "zh"], ["vision"]]):
        make_project(client, h, name=f"proj-{i}", owner=f"owner{i}", tags=tags)
    names = lambda r: [p["name"] for p in r.get_json()["items"]]  # noqa: E731
    assert names(client.get("/projects?tag=llm", headers=h)) == ["proj-0", "proj-1"]
    assert names(client.get("/projects?q=owner2", headers=h)) == ["proj-2"]
    first = client.get("/projects?limit=2", headers=h).get_json()
    assert [p["name"] for p in first["items"]] == ["proj-0", "proj-1"] and first["next_after"] == "proj-1"
    assert names(client.get("/projects?limit=2&after=proj-1", headers=h)) == ["proj-2"]


def test_patch_archive_and_unarchive(client, token):
    h = token["operator"]
    make_project(client, h)
    patched = client.patch("/projects/p1", json={"description": "new", "gpus_per_run": 2}, headers=h).get_json()
    assert patched["description"] == "new" and patched["gpus_per_run"] == 2
    assert client.post("/projects/p1/archive", headers=h).get_json()["status"] == "archived"
    refused = client.post("/projects/p1/runs", headers=h)
    assert refused.status_code == 409
    assert client.post("/projects/p1/unarchive", headers=h).get_json()["status"] == "active"
    assert client.get("/projects/nope", headers=h).status_code == 404


def test_unknown_placeholder_is_refused(client, token):
    response = client.post("/projects", json={**SEED, "start_command": "run {secret.__class__}"},
                           headers=token["operator"])
    assert response.status_code == 400 and "unknown placeholder" in response.get_json()["detail"]


def test_paths_may_not_leave_the_training_dir(app, client, token, training, tmp_path):
    outside = tmp_path / "outside.yaml"
    outside.write_text("x: 1\n")
    (training / "configs" / "link.yaml").symlink_to(outside)
    for field, value in [("dataset_name", "../secrets.jsonl"), ("dataset_name", "/etc/passwd"),
                         ("training_yaml_name", "configs/link.yaml"), ("workdir", "../..")]:
        response = client.post("/projects", json={**SEED, field: value, "executor": "local"},
                               headers=token["operator"])
        assert response.status_code == 400, (field, value)
        assert field in response.get_json()["detail"]
