"""What stops a run from starting is said on the pages: before Run, and atop a failed run (issue 15.21)."""
from tests.support import make_project, start


def test_project_page_names_every_missing_thing_before_run(client, auth, token, training):
    make_project(client, token["operator"], workdir="no/such/dir", dataset_name="datasets/none.jsonl")
    auth.login("operator")
    page = client.get("/ui/projects/p1").get_data(as_text=True)
    missing = page.split('id="run-missing"', 1)[1].split("</div>", 1)[0]
    assert "dataset_name datasets/none.jsonl" in missing and f"workdir {training}/no/such/dir" in missing
    assert 'id="run-button" disabled' in page
    client.patch("/projects/p1", json={"workdir": ".", "dataset_name": "datasets/sample.jsonl",
                                       "start_command": "nowhere-cli train {config}"}, headers=token["operator"])
    page = client.get("/ui/projects/p1").get_data(as_text=True)
    assert "program nowhere-cli (not in" in page and 'id="run-button" disabled' in page


def test_project_page_with_everything_in_place_offers_run(client, auth, token, training):
    make_project(client, token["operator"], start_command="sh -c true")
    auth.login("operator")
    page = client.get("/ui/projects/p1").get_data(as_text=True)
    assert 'id="run-missing"' not in page and 'id="run-button" disabled' not in page


def test_failed_start_shows_its_reason_at_the_top_of_the_run_page(client, auth, token, training, ticker):
    (training / "gone").mkdir()
    make_project(client, token["operator"], workdir="gone")
    run = start(client, token["operator"])
    (training / "gone").rmdir()
    done = ticker.until(run["id"], "failed")
    auth.login("operator")
    page = client.get(f"/ui/runs/{run['id']}").get_data(as_text=True)
    top = page.split('id="run-reason" role="alert">', 1)[1].split("</div>", 1)[0]
    assert "working directory" in top and page.index('id="run-reason"') < page.index('id="run-progress"')
    assert done["status_reason"] in top


def test_a_run_that_exits_non_zero_says_so_at_the_top(client, auth, token, training, ticker):
    make_project(client, token["operator"], start_command="sh -c 'exit 3'")
    run = start(client, token["operator"])
    done = ticker.until(run["id"], "failed")
    assert done["status_reason"] == "failed with exit code 3"
    auth.login("operator")
    page = client.get(f"/ui/runs/{run['id']}").get_data(as_text=True)
    assert "failed with exit code 3" in page.split('id="run-reason" role="alert">', 1)[1].split("</div>", 1)[0]
