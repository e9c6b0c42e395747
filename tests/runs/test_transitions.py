"""Run states change only through conditional transitions: lost races are answered, not overwritten."""
import sys
import threading
from concurrent.futures import ThreadPoolExecutor

import psutil
import pytest

from portal.extensions import db
from portal.runs import services
from portal.runs.models import Run, RunLog
from portal.runs.transitions import transition
from tests.support import make_project, start
from tests.support import wait_for

SLEEPER = f"{sys.executable} -c \"import time; print('up', flush=True); time.sleep(600)\""


def handle_of(app, run_id: int) -> dict | None:
    with app.app_context():
        return db.session.get(Run, run_id).handle


def alive(handle: dict) -> bool:
    try:
        return psutil.Process(handle["pid"]).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def test_a_transition_from_a_state_the_row_left_loses_and_refreshes(app, client, token, training):
    h = token["operator"]
    make_project(client, h)
    run_id = start(client, h)["id"]
    with app.app_context():
        run = db.session.get(Run, run_id)
        assert transition(run, "cancelled", ("queued",), "first")
        db.session.commit()
        assert not transition(run, "stopping", ("queued", "running"), "second")
        assert run.status == "cancelled"
        messages = list(db.session.scalars(db.select(RunLog.message).filter_by(run_id=run_id)))
        assert messages[-1] == "first" and "second" not in messages


def test_a_stop_that_read_queued_while_the_supervisor_launched_stops_the_launched_process(
        app, client, token, training, ticker):
    """The reproduced race: request_stop reads `queued`, the supervisor launches, then the stop writes."""
    h = token["operator"]
    make_project(client, h, start_command=SLEEPER)
    run_id = start(client, h)["id"]
    have_read, go_on, answer = threading.Event(), threading.Event(), {}

    def stop_request():  # a request of its own: its session reads the run, then (later) writes
        with app.app_context():
            answer["read"] = services.get_run(run_id).status
            have_read.set()
            go_on.wait(60)
            answer["status"] = services.request_stop(run_id).status

    stopper = threading.Thread(target=stop_request)
    stopper.start()
    assert have_read.wait(30) and answer["read"] == "queued"
    ticker.until(run_id, "running")  # meanwhile the supervisor launches it
    handle = handle_of(app, run_id)
    assert alive(handle)
    go_on.set()
    stopper.join(30)
    assert answer["status"] == "stopping"  # not `cancelled` beside a live process
    done = ticker.until(run_id, "cancelled")
    assert done["exit_code"] is not None
    assert not alive(handle)
    events = [e["message"] for e in client.get(f"/v1/runs/{run_id}/logs", headers=h).get_json()["items"]]
    assert any(m.startswith("sent SIGTERM") for m in events) and events[-1].startswith("stopped; exit code")


def test_a_stop_while_the_launch_is_in_flight_becomes_a_stop_of_the_launched_run(
        app, client, token, training, supervisor, ticker):
    h = token["operator"]
    make_project(client, h, start_command=SLEEPER)
    run_id = start(client, h)["id"]
    gate = threading.Event()
    busy = [supervisor.pool.submit(gate.wait, 60) for _ in range(supervisor.pool._max_workers)]
    try:
        supervisor.tick()  # places the run and hands its launch to the (full) pool
        assert ticker.get(run_id)["status"] == "starting"
        response = client.post(f"/v1/runs/{run_id}/stop", headers=h)
        assert response.status_code == 200 and response.get_json()["status"] == "stopping"
    finally:
        gate.set()
    for future in busy:
        future.result(10)
    handle = wait_for(lambda: handle_of(app, run_id), 30)  # the launch went ahead and recorded its handle
    done = ticker.until(run_id, "cancelled")
    assert not alive(handle) and done["exit_code"] is not None
    events = [e["message"] for e in client.get(f"/v1/runs/{run_id}/logs", headers=h).get_json()["items"]]
    assert any("while a stop was requested" in m for m in events)


def test_concurrent_starts_of_one_project_each_get_their_own_number(app, client, token, training):
    h = token["operator"]
    make_project(client, h)

    def start_one(_):
        return app.test_client().post("/projects/p1/runs", headers=h)

    with ThreadPoolExecutor(10) as pool:
        answers = list(pool.map(start_one, range(10)))
    assert [a.status_code for a in answers] == [200] * 10
    assert sorted(a.get_json()["number"] for a in answers) == list(range(1, 11))


@pytest.mark.parametrize("field,value", [("env", {"A": "x\x00y"}), ("start_command", "echo a\x00b"),
                                         ("description", "a\x00"), ("workdir", "a\x00b")])
def test_a_nul_character_in_a_project_field_is_refused(client, token, training, field, value):
    body = {"name": "nul", "dataset_name": "datasets/sample.jsonl", "training_yaml_name": "configs/train.yaml",
            "executor": "local", field: value}
    response = client.post("/projects", json=body, headers=token["operator"])
    assert response.status_code in (400, 422) and "NUL" in str(response.get_json()["detail"])
    assert client.get("/projects/nul", headers=token["operator"]).status_code == 404


def test_free_text_fields_are_bounded(client, token, training):
    body = {"name": "big", "dataset_name": "datasets/sample.jsonl", "training_yaml_name": "configs/train.yaml",
            "description": "训" * 4000}  # 12,000 bytes of UTF-8
    response = client.post("/projects", json=body, headers=token["operator"])
    assert response.status_code in (400, 422) and "bytes" in str(response.get_json()["detail"])


def test_an_exception_while_launching_fails_the_run_with_its_message(app, client, token, training, ticker):
    h = token["operator"]
    make_project(client, h)
    run_id = start(client, h)["id"]
    with app.app_context():  # a value no launch can take, written past the project's checks
        run = db.session.get(Run, run_id)
        run.argv = ["echo", "a\x00b"]
        db.session.commit()
    done = ticker.until(run_id, "failed")
    assert done["progress"] == 0.0
    events = client.get(f"/v1/runs/{run_id}/logs", headers=h).get_json()["items"]
    assert events[-1]["message"].startswith("failed to start: ") and "null" in events[-1]["message"]


def test_a_launch_recorded_after_the_tick_read_its_row_is_not_taken_for_lost(app, client, token, training,
                                                                            supervisor, ticker):
    """The tick read `starting` without a handle; the launch then records it and leaves the pool."""
    h = token["operator"]
    make_project(client, h, start_command=SLEEPER)
    run_id = start(client, h)["id"]
    gate = threading.Event()
    busy = [supervisor.pool.submit(gate.wait, 60) for _ in range(supervisor.pool._max_workers)]
    supervisor.tick()  # places it; the launch waits in the full pool
    runs = next(h for h in supervisor.handlers if type(h).__name__ == "RunsHandler")
    with app.app_context():
        stale = list(db.session.scalars(db.select(Run).filter_by(id=run_id)))
        assert stale[0].status == "starting" and stale[0].handle is None
        gate.set()
        for future in busy:
            future.result(10)
        wait_for(lambda: handle_of(app, run_id) and not supervisor.in_pool(("launch", run_id)), 30)
        runs._ask(supervisor, stale)  # what that tick goes on to do with the row it read
    assert ticker.get(run_id)["status"] == "running"
    assert alive(handle_of(app, run_id))
    client.post(f"/v1/runs/{run_id}/stop", headers=h)
    ticker.until(run_id, "cancelled")


def test_a_launch_stuck_in_the_pool_past_its_deadline_fails_the_run_and_starts_nothing(
        app, client, token, training, supervisor, ticker, monkeypatch):
    from portal.runs import supervise

    h = token["operator"]
    make_project(client, h, start_command=SLEEPER)
    run_id = start(client, h)["id"]
    gate = threading.Event()
    busy = [supervisor.pool.submit(gate.wait, 60) for _ in range(supervisor.pool._max_workers)]
    supervisor.tick()  # the launch waits behind a pool that does not answer
    monkeypatch.setattr(supervise, "LAUNCH_SECONDS", 0.0)
    done = ticker.until(run_id, "failed")
    gate.set()
    for future in busy:
        future.result(10)
    wait_for(lambda: not supervisor.in_pool(("launch", run_id)), 30)
    assert handle_of(app, run_id) is None and done["progress"] == 0.0
    events = client.get(f"/v1/runs/{run_id}/logs", headers=h).get_json()["items"]
    assert events[-1]["message"] == "the launch did not finish within 0s"


def test_a_full_data_dir_refuses_the_run_up_front(app_config, training):
    from portal import create_app
    from portal.auth import services as auth_services

    app = create_app({**app_config, "PORTAL_DISK_RESERVE": "100000000GiB"})  # more than any disk has free
    with app.app_context():
        db.create_all()
        operator = auth_services.create_user("op", "correct-horse-9", "operator")
        h = {"Authorization": "Bearer " + auth_services.create_token(operator)[1]}
    client = app.test_client()
    make_project(client, h)
    answer = client.post("/projects/p1/runs", headers=h)
    assert answer.status_code == 507 and "not enough space" in answer.get_json()["detail"]
    assert client.get("/v1/runs", headers=h).get_json() == []
