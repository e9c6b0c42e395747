"""Finding runs: filters, search, sorts, the list's columns, and a run's tags and note."""
from datetime import timedelta

from sqlalchemy import update

from portal.extensions import db
from portal.runs.models import Run
from portal.timeutil import utcnow
from tests.support import make_project, start


def ids(client, headers, query: str) -> list[int]:
    response = client.get(f"/v1/runs?{query}", headers=headers)
    assert response.status_code == 200, response.get_json()
    return [r["id"] for r in response.get_json()]


def push(client, headers, run_id, values):
    points = [{"key": "eval_loss", "value": v, "step": s} for s, v in enumerate(values, 1)]
    assert client.post(f"/v1/runs/{run_id}/metrics", json={"metrics": points}, headers=headers).status_code == 200


def set_times(app, run_id, started_minutes_ago, ran_minutes=None, created_days_ago=0, status=None):
    now = utcnow()
    values = {"started_at": now - timedelta(minutes=started_minutes_ago),
              "created_at": now - timedelta(days=created_days_ago)}
    if ran_minutes is not None:
        values["ended_at"] = values["started_at"] + timedelta(minutes=ran_minutes)
    if status:
        values["status"] = status
    with app.app_context():
        db.session.execute(update(Run).where(Run.id == run_id).values(**values))
        db.session.commit()


def test_filters_search_and_sorts(app, client, token, training):
    op, admin = token["operator"], token["admin"]
    make_project(client, op, name="alpha")
    make_project(client, op, name="beta")
    a1, a2 = start(client, op, "alpha")["id"], start(client, admin, "alpha")["id"]
    b1 = start(client, op, "beta")["id"]
    set_times(app, a1, 100, ran_minutes=90, created_days_ago=3, status="succeeded")
    set_times(app, a2, 30, ran_minutes=5, status="failed")
    set_times(app, b1, 60, status="running")
    push(client, op, a1, [0.9, 0.4, 0.6])  # best 0.4
    push(client, op, a2, [0.7, 0.5])
    push(client, op, b1, [0.8])
    client.patch(f"/v1/runs/{a2}/annotations", json={"tags": ["lr-sweep", "baseline"], "note": "warmup 500 steps"}, headers=op)

    assert ids(client, op, "project=alpha") == [a2, a1]
    assert ids(client, op, "status=succeeded,running") == [b1, a1]
    assert ids(client, op, "user=admin") == [a2]
    assert ids(client, op, "tag=baseline") == [a2] and ids(client, op, "tag=base") == []  # whole tags only
    assert ids(client, op, "q=warmup") == [a2] and ids(client, op, "q=bet") == [b1] and ids(client, op, "q=%231") == [b1, a1]
    today = utcnow().date()
    assert ids(client, op, f"since={today}") == [b1, a2]
    assert ids(client, op, f"until={today - timedelta(days=1)}") == [a1]
    assert ids(client, op, "sort=metric&key=eval_loss&order=asc") == [a1, a2, b1]  # best (lowest) first
    assert ids(client, op, "sort=metric&key=eval_loss&order=desc") == [a1, b1, a2]  # highest value first
    assert ids(client, op, "sort=duration&order=desc") == [a1, b1, a2]  # 90 min, 60 and counting, 5
    assert ids(client, op, "sort=created&order=asc&limit=2") == [a1, a2]
    assert ids(client, op, "sort=duration&limit=1&page=1") == [b1]
    listed = client.get("/v1/runs?project=alpha", headers=op).get_json()
    assert listed[0]["tags"] == ["lr-sweep", "baseline"] and listed[0]["note"] == "warmup 500 steps"
    assert round(listed[1]["duration_seconds"]) == 90 * 60


def test_bad_filters_are_clear_4xx(client, token, training):
    h = token["viewer"]
    assert client.get("/v1/runs?sort=size", headers=h).status_code == 422
    assert client.get("/v1/runs?since=yesterday", headers=h).status_code == 422
    assert client.get("/v1/runs?key=a%20b&sort=metric", headers=h).status_code == 400
    assert client.get("/v1/runs?tag=" + "x" * 41, headers=h).status_code == 422
    assert client.get("/ui/runs/?since=2026-13-01").status_code in (302, 401)  # not signed in: the gate first


def test_tags_and_note_need_an_operator_and_are_bounded(client, token, training):
    make_project(client, token["operator"])
    run = start(client, token["operator"])
    assert client.patch(f"/v1/runs/{run['id']}/annotations", json={"tags": ["x"]}, headers=token["viewer"]).status_code == 403
    bad = client.patch(f"/v1/runs/{run['id']}/annotations", json={"tags": ['say "hi"']}, headers=token["operator"])
    assert bad.status_code == 400 and "quotes" in bad.get_json()["detail"]
    assert client.patch(f"/v1/runs/{run['id']}/annotations", json={"note": "n" * 10001}, headers=token["operator"]).status_code == 422
    kept = client.patch(f"/v1/runs/{run['id']}/annotations", json={"note": "keep"}, headers=token["operator"]).get_json()
    assert kept["note"] == "keep" and kept["tags"] == []  # the tags were left as they were


def test_the_runs_page_filters_and_shows_duration_and_best_eval_loss(app, client, auth, users, token, training):
    h = token["operator"]
    make_project(client, h, name="alpha")
    make_project(client, h, name="beta")
    a1, b1 = start(client, h, "alpha")["id"], start(client, h, "beta")["id"]
    set_times(app, a1, 100, ran_minutes=61, status="succeeded")
    push(client, h, a1, [0.9, 0.1234])
    auth.login("viewer")
    page = client.get("/ui/runs/?project=alpha").get_data(as_text=True)
    assert "Best eval loss" in page and "0.1234" in page and "1h 1m 0s" in page
    assert f'href="/ui/runs/{a1}"' in page and f'href="/ui/runs/{b1}"' not in page
    rows = client.get("/ui/runs/?q=beta", headers={"HX-Request": "true", "HX-Target": "run-rows"}).get_data(as_text=True)
    assert rows.lstrip().startswith('<div id="run-rows"') and f'/ui/runs/{b1}"' in rows and f'/ui/runs/{a1}"' not in rows
    assert client.get("/ui/runs/?since=2026-13-01").status_code == 400


def test_an_operator_tags_a_run_and_notes_on_its_page(client, auth, users, token, training):
    make_project(client, token["operator"])
    run = start(client, token["operator"])
    auth.login("operator")
    saved = auth.post(f"/ui/runs/{run['id']}/notes", {"tags": "best, ship-it", "note": "看起来不错"},
                      headers={"HX-Request": "true"})
    assert saved.status_code == 200 and 'value="best, ship-it"' in saved.get_data(as_text=True)
    assert client.get(f"/v1/runs/{run['id']}", headers=token["viewer"]).get_json()["tags"] == ["best", "ship-it"]
    listed = client.get("/ui/runs/?tag=ship-it").get_data(as_text=True)
    assert f'/ui/runs/{run["id"]}"' in listed and '<span class="badge">ship-it</span>' in listed
