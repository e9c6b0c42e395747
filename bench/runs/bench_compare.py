"""Server time and page weight of comparing runs: 10 runs x 20,000 steps x 4 keys (800,000 metric rows).

Each run gets its own config (a learning rate of its own, so the config difference has a row)
and 20,000 steps of loss, eval_loss, learning_rate and grad_norm, bulk-inserted. Timed around
the Flask test client call in this process (the server's work, no network), round-robin:

- `GET /v1/runs/compare?ids=<10>&keys=<4>&max_points=2000` warm: as a page is opened again or
  polled (the series cache holds while a run's row count is unchanged), and cold: the cache
  emptied before each call, so every series is downsampled in SQL anew;
- the reference in the same loop: `GET /v1/runs/<id>` (the floor of auth, routing and one row);
- the peer, the limit we avoid: reading the same 800,000 rows without downsampling (one SELECT,
  rows fetched, no JSON), and what they would weigh as the API's [[step, value]] JSON.

Goals: compare p50 <= 100 ms; at most 2,000 points per series per run.
SQLite always; PostgreSQL too when PORTAL_TEST_DATABASE_URL is set (`eval "$(scripts/services env)"`).

    python bench/runs/bench_compare.py [--small] [--runs 10] [--steps 20000] [--db sqlite,postgres]
"""
import argparse
import json
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from harness import Portal, databases, median, quantile  # noqa: E402

from sqlalchemy import insert, select, text  # noqa: E402

from portal.extensions import db  # noqa: E402
from portal.runs import metrics  # noqa: E402
from portal.runs.models import Metric, Run  # noqa: E402
from portal.timeutil import utcnow  # noqa: E402

GOAL = 0.100
MAX_POINTS = 2000
KEYS = ("loss", "eval_loss", "learning_rate", "grad_norm")


def prepare(portal: Portal, runs: int, steps: int) -> list[int]:
    """`runs` succeeded runs of one project, each with its config and `steps` x 4 metric rows."""
    rng = random.Random(11)
    portal.project("sweep", training_yaml_name="configs/sweep.yaml")
    ids = []
    for i in range(runs):
        portal.client.put("/v1/train-configs/sweep", headers={**portal.headers, "Content-Type": "application/yaml"},
                          data=f"learning_rate: {(i + 1) * 1e-5}\nnum_train_epochs: 3\nlora_rank: 16\n".encode())
        ids.append(portal.start("sweep")["id"])
    with portal.app.app_context():
        for n, run_id in enumerate(ids):
            rows = []
            for step in range(1, steps + 1):
                base = (2.0 - n / 20) / (1 + step / 2000)
                rows += [{"run_id": run_id, "key": "loss", "step": step, "value": base + rng.random() / 10},
                         {"run_id": run_id, "key": "eval_loss", "step": step, "value": base * 1.1},
                         {"run_id": run_id, "key": "learning_rate", "step": step, "value": 5e-05 * (1 - step / steps)},
                         {"run_id": run_id, "key": "grad_norm", "step": step, "value": rng.random() * 3}]
            for i in range(0, len(rows), 10_000):
                db.session.execute(insert(Metric), rows[i:i + 10_000])
            run = db.session.get(Run, run_id)
            run.status, run.started_at, run.ended_at = "succeeded", utcnow(), utcnow()
            run.last_metrics = {key: rows[-4 + k]["value"] for k, key in enumerate(KEYS)}
        db.session.commit()
        if portal.database == "postgres":  # autovacuum would have analysed a table this size by now
            db.session.execute(text("ANALYZE metrics"))
            db.session.commit()
        db.session.remove()
    return ids


def raw_read(portal: Portal, ids: list[int]) -> tuple[float, int, int]:
    """The peer: every row of these series read as they are (seconds, rows, bytes as the API's JSON)."""
    with portal.app.app_context():
        began = time.perf_counter()
        rows = db.session.execute(select(Metric.run_id, Metric.key, Metric.step, Metric.value)
                                  .where(Metric.run_id.in_(ids), Metric.key.in_(KEYS))
                                  .order_by(Metric.run_id, Metric.key, Metric.step)).all()
        spent = time.perf_counter() - began
        db.session.remove()
    series: dict = {}
    for run_id, key, step, value in rows:
        series.setdefault(str(run_id), {}).setdefault(key, []).append([step, value])
    return spent, len(rows), len(json.dumps({"series": series}))


def measure(portal: Portal, ids: list[int], repeats: int) -> dict:
    compare = f"/v1/runs/compare?ids={','.join(map(str, ids))}&keys={','.join(KEYS)}&max_points={MAX_POINTS}"
    calls = {"compare, warm cache": (compare, False), "compare, cold (SQL each time)": (compare, True),
             "run JSON (reference)": (f"/v1/runs/{ids[0]}", False)}
    times = {name: [] for name in calls}
    body, peer = None, []
    for i in range(repeats + 2):  # the first two rounds warm the database's pages and are not counted
        for name, (url, cold) in calls.items():
            if cold:
                metrics._cache.clear()
            began = time.perf_counter()
            response = portal.client.get(url, headers=portal.headers)
            spent = time.perf_counter() - began
            if response.status_code != 200:
                raise RuntimeError(f"{url}: {response.status_code} {response.get_data(as_text=True)[:200]}")
            if i >= 2:
                times[name].append(spent)
            if url == compare:
                body = response.data
        if i >= 2 and i < 2 + max(3, repeats // 5):  # the peer is slow: a few rounds are enough
            peer.append(raw_read(portal, ids))
    return {"times": times, "body": body, "peer": peer}


def report(database: str, runs: int, steps: int, result: dict) -> None:
    times, body = result["times"], json.loads(result["body"])
    peer_seconds = median([p[0] for p in result["peer"]])
    peer_rows, peer_bytes = result["peer"][0][1], result["peer"][0][2]
    floor = median(times["run JSON (reference)"])
    print(f"\n{database}: {runs} runs x {steps:,} steps x {len(KEYS)} keys = {peer_rows:,} metric rows; "
          f"{len(times['run JSON (reference)'])} timed requests each (Flask test client, in process)")
    print(f"{'request':34}{'p50 ms':>9}{'p95 ms':>9}{'goal':>8}{'p50/goal':>10}{'p50/ref':>9}")
    for name, spent in times.items():
        p50 = median(spent)
        verdict = "" if name.endswith("(reference)") else ("  ok" if p50 <= GOAL else "  OVER GOAL")
        print(f"{name:34}{p50 * 1000:9.1f}{quantile(spent, .95) * 1000:9.1f}{GOAL * 1000:6.0f}ms{p50 / GOAL:10.2f}"
              f"{p50 / floor:9.1f}{verdict}")
    print(f"{'peer: same rows, no downsampling':34}{peer_seconds * 1000:9.1f}{'':9}{'':8}{'':10}"
          f"{peer_seconds / floor:9.1f}  (SELECT and fetch only, {len(result['peer'])} rounds)")
    counts = [len(points) for per_run in body["series"].values() for points in per_run.values()]
    worst = max(counts)
    print(f"page weight: {len(counts)} series, {min(counts)}-{worst} points each, {len(result['body']) / 1024:.0f} KB "
          f"JSON; the same rows undownsampled: {peer_rows // len(counts):,} points each, {peer_bytes / 1024:.0f} KB "
          f"({peer_bytes / len(result['body']):.1f}x); "
          + (f"at most {MAX_POINTS} per series per run: ok" if worst <= MAX_POINTS else f"OVER {MAX_POINTS} ({worst})"))
    print(f"config difference: {[d['key'] for d in body['config_diff']]}")


def main() -> None:
    args = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    args.add_argument("--small", action="store_true", help="fewer timed requests (same data; for CI)")
    args.add_argument("--runs", type=int, default=10)
    args.add_argument("--steps", type=int, default=20_000)
    args.add_argument("--db", default="sqlite,postgres", help="databases to try (postgres only when available)")
    opts = args.parse_args()
    repeats = 10 if opts.small else 30
    for database in databases(opts.db):
        with Portal(database) as portal:
            ids = prepare(portal, opts.runs, opts.steps)
            report(database, opts.runs, opts.steps, measure(portal, ids, repeats))


if __name__ == "__main__":
    main()
