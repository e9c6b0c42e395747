"""Project and run pages: forms with CSRF and inline validation, live fragments, roles."""
import re
import sys

from tests.support import make_project, start


def form(auth, path, headers=None, **fields):
    data = {"stop_signal": "SIGTERM", "grace_seconds": "30", "gpus_per_run": "0", **fields}
    return auth.post(path, data, headers=headers or {})


def test_create_project_in_the_ui(client, auth, users, training):
    auth.login("operator")
    page = client.get("/ui/projects/new").get_data(as_text=True)
    assert "datasets/sample.jsonl" in page and "configs/train.yaml" in page  # offered in datalists
    response = form(auth, "/ui/projects/new", name="ui-proj", dataset_name="datasets/sample.jsonl",
                    training_yaml_name="configs/train.yaml", tags="a, b", env="A=1\nB=two")
    assert response.status_code == 302 and response.location == "/ui/projects/ui-proj"
    shown = client.get("/ui/projects/ui-proj").get_data(as_text=True)
    assert "✓ dataset" in shown and "A=1" in shown and 'id="run-button"' in shown


def test_form_errors_come_back_in_the_form(client, auth, users, training):
    auth.login("operator")
    response = form(auth, "/ui/projects/new", name="x", dataset_name="../../etc/passwd")
    assert response.status_code == 400
    assert "leaves the training directory" in response.get_data(as_text=True)
    htmx = form(auth, "/ui/projects/new", name="Bad!", headers={"HX-Request": "true"})
    body = htmx.get_data(as_text=True)
    assert htmx.status_code == 400 and body.lstrip().startswith("<form") and "slug" in body


def test_inline_validation_reports_problems_and_files(client, auth, users, training):
    auth.login("operator")
    ok = form(auth, "/ui/projects/validate", name="fine", dataset_name="datasets/sample.jsonl",
              training_yaml_name="configs/missing.yaml").get_data(as_text=True)
    assert "✓ dataset" in ok and "✗ training config" in ok and "flash-error" not in ok
    bad = form(auth, "/ui/projects/validate", name="fine", start_command="run {nope}").get_data(as_text=True)
    assert "unknown placeholder {nope}" in bad


def test_project_list_live_search_returns_rows_only(client, auth, users, token, training):
    make_project(client, token["operator"], name="alpha")
    make_project(client, token["operator"], name="beta")
    auth.login("viewer")
    fragment = client.get("/ui/projects/?q=alp", headers={"HX-Request": "true", "HX-Target": "project-rows"})
    body = fragment.get_data(as_text=True)
    assert body.lstrip().startswith('<div id="project-rows"') and "alpha" in body and "beta" not in body
    assert "HX-Request" in fragment.headers["Vary"]


def test_viewer_sees_no_run_button_and_cannot_start(client, auth, users, token, training):
    make_project(client, token["operator"])
    auth.login("viewer")
    assert 'id="run-button"' not in client.get("/ui/projects/p1").get_data(as_text=True)
    assert auth.post("/ui/projects/p1/runs").status_code == 403


def test_run_button_queues_and_the_run_page_is_live(client, auth, users, token, training, ticker):
    make_project(client, token["operator"], start_command=f"{sys.executable} -c 'print(42)'")
    auth.login("operator")
    response = auth.post("/ui/projects/p1/runs")
    run_id = int(re.search(r"/ui/runs/(\d+)", response.location).group(1))
    assert "p1 #1 queued." in client.get(response.location).get_data(as_text=True)  # one name (issue 15.23)
    page = client.get(f"/ui/runs/{run_id}").get_data(as_text=True)
    assert 'data-status="queued"' in page and 'hx-trigger="every 2s"' in page
    assert "<title>p1 #1 · " in page and "<h1>p1 #1 " in page
    # Stop confirms inline, as deletes do (issue 15.22): no native confirm()
    assert "hx-confirm" not in page and 'id="stop-confirm"' in page and ">Stop p1 #1</button>" in page
    ticker.until(run_id, "succeeded")
    status = client.get(f"/ui/runs/{run_id}/status", headers={"HX-Request": "true"}).get_data(as_text=True)
    assert status.lstrip().startswith('<section id="run-status"') and "every 2s" not in status  # stops polling
    assert "succeeded" in status and "Re-run" in status
    runs_page = client.get("/ui/runs/?status=ended").get_data(as_text=True)
    assert f"/ui/runs/{run_id}" in runs_page


def test_stop_button_answers_with_the_status_block(client, auth, users, token, training, ticker):
    make_project(client, token["operator"], start_command=f"{sys.executable} -c 'import time; time.sleep(30)'")
    run = start(client, token["operator"])
    ticker.until(run["id"], "running")
    auth.login("operator")
    response = auth.post(f"/ui/runs/{run['id']}/stop", headers={"HX-Request": "true"})
    assert response.status_code == 200 and 'data-status="stopping"' in response.get_data(as_text=True)
    ticker.until(run["id"], "cancelled")
    page = client.get(f"/ui/runs/{run['id']}").get_data(as_text=True)
    assert '<span class="badge status-cancelled">stopped</span>' in page  # the API keeps `cancelled`
