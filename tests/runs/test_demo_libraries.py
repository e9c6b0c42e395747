"""The demo's dataset and config are in the Datasets and Configs libraries (issue 15.24)."""


def test_demo_dataset_and_config_are_library_entries(app, client, runner, token):
    h = token["operator"]
    for _ in range(2):  # installing again refreshes, it does not duplicate
        with app.app_context():  # as `flask` gives every command
            result = runner.invoke(args=["demo", "--steps", "5"])
        assert result.exit_code == 0, result.output
    [dataset] = [d for d in client.get("/v1/datasets", headers=h).get_json()["items"] if d["name"] == "demo"]
    detail = client.get(f"/v1/datasets/{dataset['id']}", headers=h).get_json()
    assert detail["status"] == "ready" and [f["name"] for f in detail["files"]] == ["demo.jsonl"]
    config = client.get("/v1/train-configs/demo", headers=h).get_json()
    assert config["name"] == "demo" and config["version"] == 1
    project = client.get("/projects/demo", headers=h).get_json()
    assert project["dataset_name"] == detail["files"][0]["path"]
    assert project["training_yaml_name"] == "configs/demo.yaml"
    info = (app.config["PORTAL"].training_dir / "datasets" / "dataset_info.json").read_text()
    assert '"demo"' in info  # the name the demo config's `dataset:` asks LLaMA-Factory for
    assert client.post("/projects/demo/runs", headers=h).status_code == 200
