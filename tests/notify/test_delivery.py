"""Events reach real receivers from the supervisor: the configured ones, once each, retried on failure."""
import sys

from sqlalchemy import select

from portal.extensions import db
from portal.notify.models import Event
from tests.notify.conftest import channel, deliveries
from tests.support import make_project, start

PY = sys.executable


def test_a_failing_run_sends_exactly_the_configured_events(app, client, token, training, receivers, tick_until):
    failed_only = receivers(secret="hook-secret")
    everything = receivers()
    other_project = receivers()
    channel(client, token["admin"], failed_only, name="failed", secret="hook-secret", events=["run.failed"])
    channel(client, token["admin"], everything, name="all", events=["run.started", "run.failed", "run.succeeded"])
    make_project(client, token["operator"], start_command=f"{PY} -c 'import sys; sys.exit(3)'")
    make_project(client, token["operator"], name="p2")
    channel(client, token["admin"], other_project, name="other", events=["run.failed"], projects=["p2"])
    run_id = start(client, token["operator"])["id"]
    tick_until(lambda: len(deliveries(app, "delivered")) == 3)
    [request] = failed_only.requests
    body = request["body"]
    assert request["signature_ok"] is True
    assert request["headers"]["X-Portal-Event"] == "run.failed"
    assert request["headers"]["X-Portal-Event-Id"] == body["id"]
    assert body["version"] == 1 and body["event"] == "run.failed" and body["occurred_at"]
    run = body["run"]
    assert (run["id"], run["project"], run["number"], run["status"], run["exit_code"]) == (run_id, "p1", 1, "failed", 3)
    assert run["duration_seconds"] >= 0 and run["url"] == f"https://portal.example.com/ui/runs/{run_id}"
    assert [r["headers"]["X-Portal-Event"] for r in everything.requests] == ["run.started", "run.failed"]
    assert "X-Portal-Signature" not in everything.requests[0]["headers"]
    assert other_project.requests == []
    for _ in range(5):  # nothing more comes later
        tick_until(lambda: True)
    assert len(failed_only.requests) == 1 and len(everything.requests) == 2


def test_a_receiver_that_fails_twice_gets_it_on_the_third_attempt(app, client, token, training, receivers,
                                                                  tick_until):
    flaky = receivers(replies=[(500, {"error": "busy"}), (500, {"error": "busy"}), (200, {"ok": True})])
    made = channel(client, token["admin"], flaky)
    make_project(client, token["operator"], start_command=f"{PY} -c 'import sys; sys.exit(1)'")
    start(client, token["operator"])
    tick_until(lambda: deliveries(app, "delivered"), timeout=60)
    assert deliveries(app) == [("delivered", 3)]
    assert len({r["headers"]["X-Portal-Event-Id"] for r in flaky.requests}) == 1 and len(flaky.requests) == 3
    listed = client.get(f"/v1/notification-channels/{made['id']}/deliveries", headers=token["admin"]).get_json()
    assert [(a["status"], a["ok"], a["event"]) for a in listed] == [(200, True, "run.failed"), (500, False, "run.failed"),
                                                                    (500, False, "run.failed")]
    assert listed[0]["next_attempt_at"] is None and listed[1]["next_attempt_at"] > listed[1]["attempted_at"]


def test_the_event_is_written_with_the_state_change_that_causes_it(app, client, token, training):
    make_project(client, token["operator"])
    run_id = start(client, token["operator"])["id"]
    response = client.post(f"/v1/runs/{run_id}/stop", headers=token["operator"])
    assert response.status_code == 200, response.get_json()
    with app.app_context():
        [event] = db.session.scalars(select(Event)).all()
        assert (event.kind, event.run_id, event.project) == ("run.stopped", run_id, "p1")
        assert event.payload["run"]["status"] == "cancelled"


def test_a_nan_loss_rule_fires_once_per_run(app, client, token, training, receivers, tick_until):
    hook = receivers()
    channel(client, token["admin"], hook, events=[], rules=[{"kind": "nonfinite", "metric": "loss"},
                                                            {"kind": "threshold", "metric": "loss", "op": ">",
                                                             "value": 10, "after_step": 2}])
    # a diverging run as the Trainer prints it: {'loss': nan, ...}; NaN twice, then inf, then finite
    (training / "diverge.py").write_text("\n".join(f"print({{'loss': {v}, 'epoch': {i}}}, flush=True)" for i, v in
                                                   enumerate(["1.5", "float('nan')", "float('nan')", "float('inf')"])))
    make_project(client, token["operator"], start_command=f"{PY} diverge.py")
    start(client, token["operator"])
    tick_until(lambda: deliveries(app, "delivered") and not deliveries(app, "pending"))
    for _ in range(5):
        tick_until(lambda: True)
    assert [(r["body"]["event"], r["body"]["rule"]["kind"]) for r in hook.requests] == [("run.rule", "nonfinite")]
    assert hook.requests[0]["body"]["rule"]["seen"]["value"] == "nan"


def test_a_threshold_rule_fires_once_until_its_condition_clears(app, client, token, training, receivers, tick_until):
    hook = receivers()
    channel(client, token["admin"], hook, events=[], rules=[{"kind": "threshold", "metric": "loss", "op": ">",
                                                            "value": 10, "after_step": 2}])
    losses = [(1, 20.0), (3, 5.0), (4, 12.0), (5, 15.0), (6, 1.0), (7, 11.0)]  # step 1 is before step 2: ignored
    (training / "losses.py").write_text("".join(f"print('{{\"step\": {s}, \"loss\": {v}}}', flush=True)\n"
                                                for s, v in losses))
    make_project(client, token["operator"], start_command=f"{PY} losses.py")
    start(client, token["operator"])
    tick_until(lambda: len(deliveries(app, "delivered")) == 2)
    for _ in range(5):
        tick_until(lambda: True)
    seen = [(r["body"]["rule"]["seen"]["step"], r["body"]["rule"]["seen"]["value"]) for r in hook.requests]
    assert seen == [(4, 12.0), (7, 11.0)]


def test_a_stall_rule_fires_when_a_running_run_writes_nothing(app, client, token, training, receivers, tick_until):
    import os
    import time

    from portal.runs.models import Run
    from portal.supervisor import executors

    hook = receivers()
    channel(client, token["admin"], hook, events=[], rules=[{"kind": "stalled", "minutes": 1}])
    make_project(client, token["operator"], start_command=f"{PY} -c \"print('step 1', flush=True); "
                                                          f"import time; time.sleep(120)\"")
    run_id = start(client, token["operator"])["id"]

    def output_log():
        with app.app_context():
            run = db.session.get(Run, run_id)
            path = executors.get(run.executor).log_path(run.folder)
            return path if run.status == "running" and path.exists() and path.stat().st_size else None

    path = tick_until(output_log)
    os.utime(path, (time.time() - 90, time.time() - 90))  # its last output was 90 s ago
    tick_until(lambda: hook.requests, timeout=60)
    body = hook.requests[0]["body"]
    assert body["event"] == "run.rule" and body["rule"]["kind"] == "stalled" and body["rule"]["seen"]["seconds"] >= 60
    assert client.post(f"/v1/runs/{run_id}/stop", headers=token["operator"]).status_code == 200
    tick_until(lambda: client.get(f"/v1/runs/{run_id}", headers=token["operator"]).get_json()["status"] == "cancelled")
