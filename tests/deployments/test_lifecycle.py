"""Deployments in the supervisor: restarts with back-off, sure stops, chat, logs per start, metrics."""
import json
import os
import signal
from datetime import timedelta

import pytest
from sqlalchemy import update

from portal.deployments.models import Deployment
from portal.extensions import db
from portal.timeutil import as_utc, utcnow
from tests.deployments.conftest import group_alive, vllm_bin
from tests.support import supervisor_process, wait_for


def deploy(client, headers, model, **fields) -> dict:
    answer = client.post("/deployments", json={"model_path": model, **fields}, headers=headers)
    assert answer.status_code == 200, answer.get_json()
    return answer.get_json()


def events(app, deployment_id: str) -> list[str]:
    from portal.deployments import services
    with app.app_context():
        return [e.message for e in services.events(deployment_id)]


def due_now(app, deployment_id: str) -> float:
    """Let the back-off pass at once; returns the seconds the row asked to wait."""
    with app.app_context():
        item = db.session.get(Deployment, deployment_id)
        waited = (as_utc(item.next_start_at) - utcnow()).total_seconds()
        db.session.execute(update(Deployment).where(Deployment.id == deployment_id).values(next_start_at=utcnow()))
        db.session.commit()
        return waited


@pytest.fixture
def crashing(app_config, tmp_path):
    return {**app_config, "PORTAL_VLLM_BIN": vllm_bin(tmp_path / "crash", FAKE_VLLM_CRASH_AFTER="0.5")}


def test_a_crashing_server_is_restarted_with_back_off_then_given_up(crashing, model_factory):
    app, client, h, deployer, model = model_factory(crashing)
    info = deploy(client, h, model)
    first = deployer.until(info["deployment_id"], "starting", "running")
    first = wait_for(lambda: (d := deployer.get(info["deployment_id"]))["pid"] and d, 30)
    deployer.until(info["deployment_id"], "pending", restart_count=1)
    assert 9 < due_now(app, info["deployment_id"]) <= 10  # the back-off is in the row
    deployer.until(info["deployment_id"], "pending", restart_count=2)
    assert 19 < due_now(app, info["deployment_id"]) <= 20
    failed = deployer.until(info["deployment_id"], "failed")
    assert failed["restart_count"] == 2
    messages = events(app, info["deployment_id"])
    assert any("restart 1 of 2 in 10s" in m for m in messages) and any("restart 2 of 2 in 20s" in m for m in messages)
    assert "gave up after 2 restarts" in messages[-1]
    for start in range(3):  # each start kept its own log
        log = client.get(f"/deployments/{info['deployment_id']}/logs?restart={start}", headers=h).get_json()
        assert "fake-vllm args:" in log["data"]
    assert first["pid"] and group_alive(first["pid"]) == []
    assert client.get("/v1/gpus", headers=h).get_json()[0]["held_by"] is None


def test_force_stop_kills_a_server_that_ignores_sigterm_and_its_workers(model_factory, app_config, tmp_path):
    config = {**app_config, "PORTAL_VLLM_BIN": vllm_bin(tmp_path / "stubborn", FAKE_VLLM_IGNORE_SIGTERM="1",
                                                        FAKE_VLLM_CHILD="1")}
    app, client, h, deployer, model = model_factory(config)
    info = deploy(client, h, model)
    running = deployer.until(info["deployment_id"], "running")
    wait_for(lambda: len(group_alive(running["pid"])) >= 2, 30)  # the server and its engine worker
    assert client.delete(f"/deployments/{info['deployment_id']}?force=true", headers=h).status_code == 200
    stopped = deployer.until(info["deployment_id"], "stopped", timeout=60)
    assert group_alive(running["pid"]) == []
    messages = events(app, info["deployment_id"])
    assert any("sent SIGKILL" in m for m in messages) and messages[-1].startswith("stopped; no process")
    assert stopped["port"] == info["port"]


def test_chat_through_the_portal_with_and_without_streaming(model_factory, app_config):
    app, client, h, deployer, model = model_factory(app_config)
    info = deploy(client, h, model)
    deployer.until(info["deployment_id"], "running")
    body = {"messages": [{"role": "user", "content": "hello there"}]}
    plain = client.post(f"/deployments/{info['deployment_id']}/chat", json=body, headers=h)
    assert plain.status_code == 200
    answer = plain.get_json()
    assert answer["object"] == "chat.completion" and "hello there" in answer["choices"][0]["message"]["content"]
    streamed = client.post(f"/deployments/{info['deployment_id']}/chat", json={**body, "stream": True}, headers=h)
    assert streamed.status_code == 200 and streamed.content_type.startswith("text/event-stream")
    lines = [line for line in streamed.get_data(as_text=True).splitlines() if line.startswith("data: ")]
    chunks = [json.loads(line[6:]) for line in lines[:-1]]
    assert lines[-1] == "data: [DONE]" and chunks[0]["choices"][0]["delta"]["role"] == "assistant"
    assert chunks[-1]["choices"][0]["finish_reason"] == "stop"
    text = "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks)
    assert "hello there" in text
    unknown = client.post(f"/deployments/{info['deployment_id']}/chat", json={**body, "model": "nope"}, headers=h)
    assert unknown.status_code == 404 and "message" in unknown.get_json()["error"]
    viewer = client.post(f"/deployments/{info['deployment_id']}/chat", json=body, headers=token_of(app, "viewer"))
    assert viewer.status_code == 200


def test_metrics_are_scraped_and_restart_keeps_gpus_and_port(model_factory, app_config, monkeypatch):
    from portal.deployments import supervise
    monkeypatch.setattr(supervise, "METRICS_SECONDS", 0.0)
    app, client, h, deployer, model = model_factory(app_config)
    info = deploy(client, h, model)
    running = deployer.until(info["deployment_id"], "running")
    client.post(f"/deployments/{info['deployment_id']}/chat", json={"messages": [{"role": "user", "content": "a b"}]},
                headers=h)
    scraped = wait_for(lambda: (d := deployer.until(info["deployment_id"], "running"))["metrics"]
                       .get("generation_tokens_total") and d, 30)
    assert {"requests_running", "requests_waiting", "kv_cache_usage"} <= set(scraped["metrics"])
    assert client.post(f"/deployments/{info['deployment_id']}/restart", headers=h).get_json()["status"] == "stopping"
    again = wait_for(lambda: (d := deployer.until(info["deployment_id"], "running"))["restart_count"] == 1 and d, 60)
    assert again["pid"] != running["pid"] and again["port"] == info["port"] and again["gpu_id"] == info["gpu_id"]
    assert group_alive(running["pid"]) == []


def token_of(app, role: str) -> dict:
    from portal.auth import services
    from portal.auth.models import User
    with app.app_context():
        user = db.session.scalar(db.select(User).filter_by(username=role))
        return {"Authorization": "Bearer " + services.create_token(user)[1]}


def last_check(app, deployment_id: str):
    with app.app_context():
        checked = db.session.get(Deployment, deployment_id).last_health_at
        return as_utc(checked) if checked else utcnow() - timedelta(days=1)


def _supervisor(app):
    settings = app.config["PORTAL"]
    return supervisor_process(app, PORTAL_FAKE_GPUS="2x24GiB", PORTAL_VLLM_BIN=settings.vllm_bin,
                              PORTAL_DEPLOY_PORTS=f"{settings.deploy_ports.start}-{settings.deploy_ports.stop - 1}")


@pytest.mark.slow
def test_a_killed_portal_reattaches_to_its_servers_without_starting_them_again(app, client, token, model):
    h = token["operator"]
    info = deploy(client, h, model)
    first = _supervisor(app)
    try:
        running = wait_for(lambda: (d := client.get(f"/deployments/{info['deployment_id']}", headers=h)
                                    .get_json())["status"] == "running" and d, 60)
        os.killpg(first.pid, signal.SIGKILL)
        first.wait()
    finally:
        if first.poll() is None:
            os.killpg(first.pid, signal.SIGKILL)
    killed_at = utcnow()
    second = _supervisor(app)
    try:
        wait_for(lambda: last_check(app, info["deployment_id"]) > killed_at, 60)  # the new one checks it
        assert client.get(f"/deployments/{info['deployment_id']}", headers=h).get_json()["status"] == "running"
        client.delete(f"/deployments/{info['deployment_id']}", headers=h)
        stopped = wait_for(lambda: (d := client.get(f"/deployments/{info['deployment_id']}", headers=h)
                                    .get_json())["status"] == "stopped" and d, 60)
    finally:
        os.killpg(second.pid, signal.SIGKILL)
        second.wait()
    messages = events(app, info["deployment_id"])
    assert sum(m.startswith("started (pid") for m in messages) == 1  # re-attached, not started twice
    assert stopped["pid"] == running["pid"] and group_alive(running["pid"]) == []


def test_three_failed_health_checks_make_it_unhealthy_and_a_good_one_running_again(model_factory, app_config,
                                                                                    tmp_path, monkeypatch):
    from portal.deployments import supervise
    monkeypatch.setattr(supervise, "CHECK_SECONDS", 0.0)
    config = {**app_config, "PORTAL_VLLM_BIN": vllm_bin(tmp_path / "sick", FAKE_VLLM_UNHEALTHY_AFTER="0.5")}
    app, client, h, deployer, model = model_factory(config)
    info = deploy(client, h, model)
    deployer.until(info["deployment_id"], "running")
    sick = deployer.until(info["deployment_id"], "unhealthy")
    assert sick["health_ok"] is False and sick["pid"]
    assert any("3 health checks failed in a row (HTTP 503)" in m for m in events(app, info["deployment_id"]))


def test_an_adapter_added_to_a_running_deployment_is_served_after_its_restart(model_factory, app_config):
    app, client, h, deployer, model = model_factory(app_config)
    adapter = app.config["PORTAL"].training_dir / "outputs" / "p" / "run-2" / "checkpoint-8"
    adapter.mkdir(parents=True)
    (adapter / "adapter_config.json").write_text(json.dumps({"r": 32, "base_model_name_or_path": "qwen2.5"}))
    (adapter / "adapter_model.safetensors").write_bytes(b"\0" * 8)
    info = deploy(client, h, model)
    deployer.until(info["deployment_id"], "running")
    added = client.post(f"/deployments/{info['deployment_id']}/adapters",
                        json={"name": "p-2", "path": "outputs/p/run-2/checkpoint-8"}, headers=h)
    assert added.status_code == 200 and "--max-lora-rank 32" in added.get_json()["vllm_cmd"]
    again = deployer.until(info["deployment_id"], "running", restart_count=1)
    from portal.deployments import probe
    status, body = probe.get(app.config["PORTAL"].deploy_host, again["port"], "/v1/models")
    cards = {card["id"]: card for card in json.loads(body)["data"]}
    assert status == 200 and cards["p-2"]["parent"] == "qwen2.5"
    answer = client.post(f"/deployments/{info['deployment_id']}/chat",
                         json={"model": "p-2", "messages": [{"role": "user", "content": "hi"}]}, headers=h)
    assert "[p-2]" in answer.get_json()["choices"][0]["message"]["content"]
