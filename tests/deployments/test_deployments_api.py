"""The seed's /deployments API for real: a stand-in vLLM process, placement, health, stop."""
import json
import threading

from portal.extensions import db
from portal.supervisor import placement
from tests.deployments.conftest import group_alive

SEED_BODY = {"model_path": "models/qwen2.5", "model_version": "v1", "tags": ["demo"],
             "extra_args": "--max-num-seqs 4", "preferred_gpu": 0, "health_path": "/health"}
SEED_FIELDS = {"deployment_id", "model_path", "model_version", "tags", "gpu_id", "port", "pid", "status",
               "started_at", "stopped_at", "health_ok", "vllm_cmd", "log_file", "health_path"}


def test_the_seed_example_deploys_runs_and_stops(app, client, token, model, deployer):
    h = token["operator"]
    created = client.post("/deployments", json=SEED_BODY, headers=h)
    assert created.status_code == 200, created.get_json()
    info = created.get_json()
    assert SEED_FIELDS <= set(info) and info["status"] == "pending" and info["gpu_id"] == 0
    assert info["model_path"] == "models/qwen2.5" and info["tags"] == ["demo"] and info["stopped_at"] is None
    running = deployer.until(info["deployment_id"], "running")
    assert running["health_ok"] is True and isinstance(running["pid"], int) and isinstance(running["started_at"], float)
    cmd = running["vllm_cmd"]
    assert f"serve {app.config['PORTAL'].training_dir}/models/qwen2.5 --served-model-name qwen2.5" in cmd
    assert f"--port {info['port']}" in cmd and cmd.endswith("--max-num-seqs 4")
    assert "--disable-log-requests" not in cmd
    log = client.get(f"/deployments/{info['deployment_id']}/logs", headers=h).get_json()
    assert "fake-vllm args:" in log["data"] and "GPU-fake-0000" in log["data"]
    listed = client.get("/deployments?model=qwen&tag=demo&status=running", headers=h).get_json()
    assert [d["deployment_id"] for d in listed] == [info["deployment_id"]]
    assert client.get("/deployments?tag=other", headers=h).get_json() == []
    gone = client.delete(f"/deployments/{info['deployment_id']}", headers=h)
    assert gone.status_code == 200
    assert gone.get_json() == {"detail": "deployment removed", "deployment_id": info["deployment_id"]}
    stopped = deployer.until(info["deployment_id"], "stopped")
    assert isinstance(stopped["stopped_at"], float) and group_alive(running["pid"]) == []
    with app.app_context():
        assert placement.held() == {}
    history = client.get("/deployments?status=stopped", headers=h).get_json()
    assert [d["deployment_id"] for d in history] == [info["deployment_id"]]


def test_a_missing_deployment_is_404_in_fastapis_shape(client, token):
    answer = client.get("/deployments/no-such-id", headers=token["viewer"])
    assert answer.status_code == 404 and "detail" in answer.get_json()


def test_simultaneous_creates_never_share_a_port_or_a_gpu(app, client, token, model):
    h = token["operator"]
    answers = []

    def create():
        answers.append(app.test_client().post("/deployments", json={"model_path": model}, headers=h))

    threads = [threading.Thread(target=create) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    made = [a.get_json() for a in answers if a.status_code == 200]
    refused = [a for a in answers if a.status_code != 200]
    assert len(made) == 2 and all(a.status_code == 409 for a in refused)  # two GPUs
    assert len({d["port"] for d in made}) == 2 and len({d["gpu_id"] for d in made}) == 2


def test_a_gpu_held_by_a_run_or_a_deployment_is_a_409_naming_the_holder(app, client, token, model):
    h = token["operator"]
    with app.app_context():
        placement.record("run", 77, ["GPU-fake-0000"])
        db.session.commit()
    taken = client.post("/deployments", json={"model_path": model, "preferred_gpu": 0}, headers=h)
    assert taken.status_code == 409 and "GPU 0 is held by run 77" in taken.get_json()["detail"]
    first = client.post("/deployments", json={"model_path": model, "preferred_gpu": 1}, headers=h)
    assert first.status_code == 200
    second = client.post("/deployments", json={"model_path": model, "preferred_gpu": 1}, headers=h)
    assert second.status_code == 409
    assert f"held by deployment {first.get_json()['deployment_id']}" in second.get_json()["detail"]
    none_left = client.post("/deployments", json={"model_path": model}, headers=h)
    assert none_left.status_code == 409 and "0 of 2 are free" in none_left.get_json()["detail"]


def test_extra_args_cannot_take_the_portals_flags_and_reach_no_shell(app, client, token, model):
    h = token["operator"]
    for extra, flag in (("--port 1", "--port"), ("--host=0.0.0.0", "--host"), ("-tp 2", "-tp"),
                        ("--served-model-name x", "--served-model-name"), ("--disable-log-requests", None)):
        answer = client.post("/deployments", json={"model_path": model, "extra_args": extra}, headers=h)
        assert answer.status_code == 400, extra
        assert (flag or "--disable-log-requests") in answer.get_json()["detail"]
    odd = client.post("/deployments", json={"model_path": model, "extra_args": "--x '$(id); rm -rf /' `id`"},
                      headers=h).get_json()
    assert odd["vllm_cmd"].endswith("--x '$(id); rm -rf /' '`id`'")  # argv items, never a shell's text
    unbalanced = client.post("/deployments", json={"model_path": model, "extra_args": "--x 'a"}, headers=h)
    assert unbalanced.status_code == 400


def test_model_paths_stay_under_the_training_dir_and_the_model_roots(client, token, model):
    h = token["operator"]
    for path in ("../../etc", "/etc", "models/../../..", "models/none", "org/hub-model", ""):
        answer = client.post("/deployments", json={"model_path": path}, headers=h)
        assert answer.status_code in (400, 422), path


def test_viewers_cannot_deploy(client, token, model):
    assert client.post("/deployments", json={"model_path": model}, headers=token["viewer"]).status_code == 403


def test_lora_flags_from_a_real_adapter_config(app, client, token, model):
    h = token["operator"]
    root = app.config["PORTAL"].training_dir
    adapter = root / "outputs" / "p" / "run-1" / "checkpoint-100"
    adapter.mkdir(parents=True)
    (adapter / "adapter_config.json").write_text(json.dumps(
        {"peft_type": "LORA", "r": 64, "lora_alpha": 128, "target_modules": ["q_proj", "v_proj"],
         "base_model_name_or_path": "Qwen/Qwen2.5-7B-Instruct", "modules_to_save": None}))
    (adapter / "adapter_model.safetensors").write_bytes(b"\0" * 16)
    body = {"model_path": model, "lora_adapters": [{"name": "my-lora", "path": "outputs/p/run-1/checkpoint-100"}]}
    info = client.post("/deployments", json=body, headers=h).get_json()
    line = info["vllm_cmd"]
    modules = json.dumps({"name": "my-lora", "path": str(adapter), "base_model_name": "qwen2.5"})
    assert "--enable-lora --lora-modules" in line and "--max-lora-rank 64 --max-loras 1" in line
    assert modules in json.loads(json.dumps(info))["vllm_cmd"].replace("'", "")
    (adapter / "adapter_config.json").write_text(json.dumps({"r": 8, "modules_to_save": ["lm_head"]}))
    refused = client.post("/deployments", json=body, headers=h)
    assert refused.status_code == 400 and "merge this adapter first" in refused.get_json()["detail"]
