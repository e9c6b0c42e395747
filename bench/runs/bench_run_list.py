"""Server time of finding runs: filters, search and sorts over 5,000 runs with 1,000,000 metric rows.

5,000 ended runs in 20 projects, one in ten tagged, each with 50 eval_loss and 150 loss points
(bulk-inserted). Timed around the Flask test client call in this process (the server's work, no
network), round-robin, the first two rounds not counted:

- `GET /v1/runs` as it comes, and filtered by project, tag, user, date and search;
- sorted by duration and by a metric (each run's best eval_loss, grouped in SQL);
- the Runs page with a metric sort (its table also shows each run's best eval loss);
- the reference in the same loop: `GET /v1/runs/<id>` (the floor of auth, routing and one row);
- the peer, what a list without SQL sorting does: every run's best eval_loss fetched
  (one SELECT … GROUP BY over all runs) and sorted in Python.

Goal: every list call p50 <= 100 ms. SQLite always; PostgreSQL too when PORTAL_TEST_DATABASE_URL
is set (`eval "$(scripts/services env)"`).

    python bench/runs/bench_run_list.py [--small] [--runs 5000] [--db sqlite,postgres]
"""
import argparse
import random
import sys
import time
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from harness import Portal, databases, median, quantile  # noqa: E402

from sqlalchemy import func, insert, select, text  # noqa: E402

from portal.extensions import db  # noqa: E402
from portal.runs.models import Metric, Run  # noqa: E402
from portal.timeutil import utcnow  # noqa: E402

GOAL = 0.100
PROJECTS = 20


def prepare(portal: Portal, runs: int) -> int:
    """`runs` ended runs copied from one real run of each project; returns a run id."""
    rng = random.Random(7)
    templates = []
    for p in range(PROJECTS):
        portal.project(f"p{p}")
        templates.append(portal.start(f"p{p}")["id"])
    with portal.app.app_context():
        first = {t: db.session.get(Run, t) for t in templates}
        now, rows, metric_rows = utcnow(), [], []
        for i in range(runs - PROJECTS):
            t = first[templates[i % PROJECTS]]
            started = now - timedelta(days=rng.random() * 60)
            rows.append({"project_id": t.project_id, "number": 2 + i // PROJECTS, "status": "succeeded",
                         "executor": t.executor, "argv": t.argv, "workdir": t.workdir, "output_dir": t.output_dir,
                         "folder": f"bench-{i}", "created_by": t.created_by, "created_at": started,
                         "started_at": started, "ended_at": started + timedelta(minutes=rng.random() * 600),
                         "tags": ["sweep"] if i % 10 == 0 else [], "note": "lr sweep" if i % 7 == 0 else ""})
        for i in range(0, len(rows), 2000):
            db.session.execute(insert(Run), rows[i:i + 2000])
        ids = list(db.session.scalars(select(Run.id)))
        for run_id in ids:
            base = 0.5 + rng.random()
            metric_rows += [{"run_id": run_id, "key": "eval_loss", "step": s * 20, "value": base / (1 + s / 10)}
                            for s in range(1, 51)]
            metric_rows += [{"run_id": run_id, "key": "loss", "step": s, "value": base / (1 + s / 30)}
                            for s in range(1, 151)]
            if len(metric_rows) >= 20_000:
                db.session.execute(insert(Metric), metric_rows)
                metric_rows = []
        if metric_rows:
            db.session.execute(insert(Metric), metric_rows)
        db.session.commit()
        if portal.database == "postgres":
            db.session.execute(text("ANALYZE runs"))
            db.session.execute(text("ANALYZE metrics"))
            db.session.commit()
        rows = db.session.scalar(select(func.count()).select_from(Metric))
        db.session.remove()
    print(f"  {len(ids):,} runs, {rows:,} metric rows")
    return ids[0]


def peer(portal: Portal) -> float:
    """Every run's best eval_loss fetched and sorted in Python, 50 kept."""
    with portal.app.app_context():
        began = time.perf_counter()
        best = db.session.execute(select(Metric.run_id, func.min(Metric.value)).where(Metric.key == "eval_loss")
                                  .group_by(Metric.run_id)).all()
        sorted(best, key=lambda r: r[1])[:50]
        spent = time.perf_counter() - began
        db.session.remove()
    return spent


def measure(portal: Portal, run_id: int, repeats: int) -> dict:
    today = utcnow().date()
    calls = {
        "list, newest first": "/v1/runs",
        "filter: project": "/v1/runs?project=p3",
        "filter: tag": "/v1/runs?tag=sweep",
        "filter: user + status": "/v1/runs?user=admin&status=succeeded",
        "filter: last 7 days": f"/v1/runs?since={today - timedelta(days=7)}",
        "search: note": "/v1/runs?q=sweep",
        "sort: duration": "/v1/runs?sort=duration",
        "sort: best eval_loss": "/v1/runs?sort=metric&key=eval_loss&order=asc",
        "page: runs, sort by metric": "/ui/runs/?sort=metric&key=eval_loss&order=asc",
        "run JSON (reference)": f"/v1/runs/{run_id}",
    }
    times = {name: [] for name in calls}
    peers = []
    for i in range(repeats + 2):
        for name, url in calls.items():
            began = time.perf_counter()
            response = portal.client.get(url, headers=portal.headers)
            spent = time.perf_counter() - began
            if response.status_code != 200:
                raise RuntimeError(f"{url}: {response.status_code} {response.get_data(as_text=True)[:200]}")
            if i >= 2:
                times[name].append(spent)
        if i >= 2:
            peers.append(peer(portal))
    return {"times": times, "peer": peers}


def report(database: str, result: dict) -> None:
    times = result["times"]
    floor = median(times["run JSON (reference)"])
    print(f"{'request':30}{'p50 ms':>9}{'p95 ms':>9}{'goal':>8}{'p50/ref':>9}")
    for name, spent in times.items():
        p50 = median(spent)
        verdict = "" if name.endswith("(reference)") else ("  ok" if p50 <= GOAL else "  OVER GOAL")
        print(f"{name:30}{p50 * 1000:9.1f}{quantile(spent, .95) * 1000:9.1f}{GOAL * 1000:6.0f}ms{p50 / floor:9.1f}{verdict}")
    p50 = median(result["peer"])
    print(f"{'peer: best of all, in Python':30}{p50 * 1000:9.1f}{quantile(result['peer'], .95) * 1000:9.1f}"
          f"{'':8}{p50 / floor:9.1f}  (SELECT … GROUP BY every run, sorted in Python)")


def main() -> None:
    args = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    args.add_argument("--small", action="store_true", help="fewer timed requests (same data; for CI)")
    args.add_argument("--runs", type=int, default=5000)
    args.add_argument("--db", default="sqlite,postgres", help="databases to try (postgres only when available)")
    opts = args.parse_args()
    repeats = 5 if opts.small else 20
    for database in databases(opts.db):
        print(f"\n{database}:")
        with Portal(database) as portal:
            run_id = prepare(portal, opts.runs)
            report(database, measure(portal, run_id, repeats))


if __name__ == "__main__":
    main()
