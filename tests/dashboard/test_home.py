"""The dashboard as a home: first steps that tick themselves, runs going and waiting, recent events."""
import re
import sys

from portal.extensions import db
from portal.projects import demo

SLEEP = f"{sys.executable} -c 'import time; time.sleep(60)'"


def steps(page: str) -> dict[str, bool]:
    return {key: done == "true" for key, done in re.findall(r'data-step="(\w+)" data-done="(\w+)"', page)}


def test_a_new_install_lists_first_steps_that_tick_themselves(app, client, auth, users, token):
    auth.login("viewer")
    assert steps(client.get("/").get_data(as_text=True)) == {"dataset": False, "config": False, "project": False,
                                                             "demo": False}
    with app.app_context():
        demo.install(steps=2)  # the demo's own dataset, config and project do not tick the steps
    page = client.get("/").get_data(as_text=True)
    assert steps(page) == {"dataset": False, "config": False, "project": False, "demo": False}
    assert 'href="/ui/projects/demo"' in page
    assert client.post("/projects", json={"name": "mine"}, headers=token["operator"]).status_code == 200
    assert steps(client.get("/").get_data(as_text=True))["project"] is True
    client.post("/v1/datasets", json={"name": "pairs", "type": "text2text"}, headers=token["operator"])
    assert steps(client.get("/").get_data(as_text=True))["dataset"] is True


def test_the_home_shows_runs_going_and_waiting_with_their_reason_and_recent_events(app_config, tmp_path):
    from portal import create_app
    from portal.auth import services
    from portal.supervisor import Supervisor
    from tests.conftest import AuthActions

    app = create_app({**app_config, "PORTAL_FAKE_GPUS": "1x24GiB"})
    with app.app_context():
        db.create_all()
        services.create_user("op", "password-123", "operator")
    client = app.test_client()
    AuthActions(client).login("op", "password-123")
    root = app.config["PORTAL"].training_dir
    (root / "datasets").mkdir(parents=True)
    (root / "configs").mkdir()
    (root / "datasets" / "sample.jsonl").write_text("{}\n")
    (root / "configs" / "train.yaml").write_text("a: 1\n")
    with app.app_context():
        from portal.projects import services as projects
        from portal.runs import services as runs
        projects.create_project("p1", dataset_name="datasets/sample.jsonl", training_yaml_name="configs/train.yaml",
                                executor="local", workdir=".", start_command=SLEEP, gpus_per_run=1)
        first, second = runs.create_run("p1").id, runs.create_run("p1").id
    sup = Supervisor(app)
    try:
        for _ in range(30):
            sup.tick()
            page = client.get("/").get_data(as_text=True)
            if "waiting for 1 GPUs" in page and "status-running" in page:
                break
        home = page.split('id="home-runs"')[1].split('id="home-serving"')[0]
        assert home.index(f'/ui/runs/{first}"') < home.index(f'/ui/runs/{second}"')  # running first, then the queue
        assert "waiting for 1 GPUs; 0 free" in home
        events = page.split('id="home-events"')[1]
        assert "queued by" in events and f'/ui/runs/{first}"' in events
        with app.app_context():
            runs.request_stop(first)
            runs.request_stop(second)
        for _ in range(100):
            sup.tick()
            if "Nothing runs or waits right now" in client.get("/").get_data(as_text=True):
                break
        assert "Nothing runs or waits right now" in client.get("/").get_data(as_text=True)
    finally:
        sup.close()
