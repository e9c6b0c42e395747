"""Comparing runs: series per run and key, downsampled in SQL, final and best values, the config difference."""
import pytest

from tests.support import make_project, start


def save_config(client, headers, text):
    response = client.put("/v1/train-configs/train", headers={**headers, "Content-Type": "application/yaml"},
                          data=text.encode())
    assert response.status_code == 200, response.get_json()


def push(client, headers, run_id, points):
    for i in range(0, len(points), 1000):
        response = client.post(f"/v1/runs/{run_id}/metrics", json={"metrics": points[i:i + 1000]}, headers=headers)
        assert response.status_code == 200, response.get_json()


@pytest.fixture
def three(client, token, training):
    """Three queued runs of one project, each with its own learning rate and a few loss points."""
    op = token["operator"]
    ids = []
    for i, lr in enumerate(("1.0e-5", "2.0e-5", "2.0e-5")):
        save_config(client, op, f"learning_rate: {lr}\nlora:\n  rank: {8 * (i + 1)}\nnum_train_epochs: 1\n")
        if not ids:
            make_project(client, op)
        run_id = start(client, op)["id"]
        push(client, op, run_id, [{"key": "loss", "value": 2.0 - i - s / 10, "step": s} for s in range(5)]
             + [{"key": "loss", "value": 5.0, "step": 5}]  # the last is not the best
             + [{"key": "eval_accuracy", "value": 0.5 + s / 10 + i / 100, "step": s} for s in (2, 4)])
        ids.append(run_id)
    return ids


def test_compare_answers_series_summaries_and_only_the_differing_config_keys(client, token, three):
    response = client.get(f"/v1/runs/compare?ids={','.join(map(str, three))}&keys=loss,eval_accuracy",
                          headers=token["viewer"])
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert [r["id"] for r in body["runs"]] == three and body["runs"][0]["name"] == "p1 #1"
    first = str(three[0])
    assert body["series"][first]["loss"] == [[s, 2.0 - s / 10] for s in range(5)] + [[5, 5.0]]
    assert body["series"][first]["eval_accuracy"] == [[2, 0.7], [4, 0.9]]
    assert len(body["times"][first]["loss"]) == 6 and all(t >= 0 for t in body["times"][first]["loss"])
    last = body["runs"][2]
    assert last["status"] == "queued" and last["final"] == {"loss": 5.0, "eval_accuracy": pytest.approx(0.92)}
    assert last["best"]["loss"] == pytest.approx(-0.4)  # lowest for a loss, highest for an accuracy
    assert last["best"]["eval_accuracy"] == pytest.approx(0.92)
    diff = {d["key"]: d["values"] for d in body["config_diff"]}
    assert set(diff) == {"learning_rate", "lora.rank"}  # num_train_epochs is the same in all three
    assert diff["learning_rate"] == {str(three[0]): 1e-05, str(three[1]): 2e-05, str(three[2]): 2e-05}
    assert diff["lora.rank"] == {str(three[0]): 8, str(three[1]): 16, str(three[2]): 24}
    assert body["groups"] == {"loss": ["loss"], "eval": ["eval_accuracy"]}


def test_without_keys_every_key_of_the_runs_is_compared(client, token, three):
    body = client.get(f"/v1/runs/compare?ids={three[0]},{three[1]}", headers=token["viewer"]).get_json()
    assert body["keys"] == ["eval_accuracy", "loss"] and set(body["series"]) == {str(three[0]), str(three[1])}


def test_long_series_are_downsampled_to_max_points_in_step_buckets(client, token, training):
    op = token["operator"]
    make_project(client, op)
    run_id = start(client, op)["id"]
    push(client, op, run_id, [{"key": "loss", "value": float(s), "step": s} for s in range(5000)])
    series = client.get(f"/v1/runs/compare?ids={run_id}&keys=loss&max_points=100",
                        headers=token["viewer"]).get_json()["series"][str(run_id)]["loss"]
    assert len(series) == 100
    assert series[0] == [0, 24.5] and series[-1] == [4950, 4974.5]  # each point: a bucket's first step, mean value
    raw = client.get(f"/v1/runs/compare?ids={run_id}&keys=loss&max_points=10000",
                     headers=token["viewer"]).get_json()["series"][str(run_id)]["loss"]
    assert len(raw) == 5000 and raw[4999] == [4999, 4999.0]


@pytest.mark.parametrize("query, status", [
    ("ids=", 400), ("ids=a,b", 400), ("ids=" + ",".join(map(str, range(1, 52))), 400), ("ids=0", 400),
    ("ids=99999", 404), ("ids=1&max_points=5", 422), ("ids=1&keys=" + ",".join(f"k{i}" for i in range(51)), 400),
])
def test_bad_comparisons_get_a_clear_4xx(client, token, three, query, status):
    response = client.get(f"/v1/runs/compare?{query}", headers=token["viewer"])
    assert response.status_code == status, response.get_json()
    assert response.get_json()["detail"]


def test_compare_needs_a_token(client, three):
    assert client.get(f"/v1/runs/compare?ids={three[0]}").status_code == 401


def test_the_compare_page_shows_the_runs_and_their_config_difference(client, auth, users, three):
    auth.login("viewer")
    ids = ",".join(map(str, three))
    page = client.get(f"/ui/runs/compare?ids={ids}").get_data(as_text=True)
    assert page.count('<tr data-run="') == 3 and 'id="config-diff"' in page and "lora.rank" in page
    assert "num_train_epochs" not in page and 'id="parallel"' in page
    without_js = client.get("/ui/runs/compare?" + "&".join(f"ids={i}" for i in three))
    assert without_js.status_code == 302 and without_js.location == f"/ui/runs/compare?ids={ids}"
    latest = client.get("/ui/runs/compare?project=p1").get_data(as_text=True)
    assert latest.count('<tr data-run="') == 3
    listed = client.get("/ui/runs/").get_data(as_text=True)
    assert listed.count('class="select-run"') == 3 and 'id="compare-form"' in listed
    assert 'id="compare-latest"' in client.get("/ui/projects/p1").get_data(as_text=True)
    assert "Select runs with the checkboxes" in client.get("/ui/runs/compare").get_data(as_text=True)
    assert client.get("/ui/runs/compare?ids=x").status_code == 400
