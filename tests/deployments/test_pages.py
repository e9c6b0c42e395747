"""Deployment pages: the list, the form (with its errors in place), the live page, Deploy from a run."""
import json

import pytest


def test_the_form_deploys_and_the_page_follows_it(app, client, auth, users, model, supervisor):
    auth.login("operator")
    form = client.get("/ui/deployments/new").get_data(as_text=True)
    assert "models/qwen2.5" in form and "GPU 0 · Fake GPU · 24.0 GiB free" in form
    answer = auth.post("/ui/deployments/new", data={"model_path": model, "preferred_gpu": "1",
                                                    "tensor_parallel_size": "1", "gpu_memory_utilization": "0.9",
                                                    "health_path": "/health", "tags": "demo, ui"})
    assert answer.status_code == 302, answer.get_data(as_text=True)
    page = client.get(answer.location).get_data(as_text=True)
    assert "qwen2.5" in page and "--port" in page and 'id="playground"' in page
    listed = client.get("/ui/deployments/?tag=ui").get_data(as_text=True)
    assert "qwen2.5" in listed and "demo, ui" in listed


def test_a_bad_field_is_shown_in_the_form(client, auth, users, model):
    auth.login("operator")
    answer = auth.post("/ui/deployments/new", data={"model_path": model, "extra_args": "--port 1",
                                                    "tensor_parallel_size": "1", "gpu_memory_utilization": "0.9"})
    assert answer.status_code == 400 and "--port is set by the portal" in answer.get_data(as_text=True)


def test_a_runs_adapter_checkpoint_offers_deploy_with_its_base(app, client, auth, users, token, training_run):
    auth.login("operator")
    page = client.get(f"/ui/runs/{training_run}").get_data(as_text=True)
    assert "/ui/deployments/new?" in page and "adapter=outputs" in page and "model=Qwen" in page


def _adapter(folder) -> None:
    folder.mkdir(parents=True)
    (folder / "adapter_config.json").write_text(json.dumps({"r": 16, "base_model_name_or_path": "Qwen/Qwen2.5-7B"}))
    (folder / "adapter_model.safetensors").write_bytes(b"\0" * 8)


@pytest.fixture
def training_run(app, client, token):
    from pathlib import Path

    from portal.extensions import db
    from portal.runs.models import Artifact, Run

    root = app.config["PORTAL"].training_dir
    (root / "datasets").mkdir(parents=True, exist_ok=True)
    (root / "configs").mkdir(parents=True, exist_ok=True)
    (root / "datasets" / "d.jsonl").write_text('{"instruction": "a", "output": "b"}\n')
    (root / "configs" / "c.yaml").write_text("stage: sft\n")
    client.post("/projects", json={"name": "lora", "dataset_name": "datasets/d.jsonl",
                                   "training_yaml_name": "configs/c.yaml", "executor": "local", "workdir": "."},
                headers=token["operator"])
    run = client.post("/projects/lora/runs", headers=token["operator"]).get_json()
    with app.app_context():
        row = db.session.get(Run, run["id"])
        _adapter(Path(row.output_dir) / "checkpoint-100")
        db.session.add(Artifact(run_id=row.id, path="checkpoint-100", kind="checkpoint", size=8, tags=[]))
        db.session.commit()
    return run["id"]


def test_the_gpu_panel_names_the_deployment_holding_a_gpu(client, auth, users, token, model):
    created = client.post("/deployments", json={"model_path": model, "preferred_gpu": 1},
                          headers=token["operator"]).get_json()
    auth.login("viewer")
    page = client.get("/").get_data(as_text=True)
    assert f"/ui/deployments/{created['deployment_id']}" in page and "serving" in page
