"""Server time of the run page and the APIs it polls, for a run with a long log and many metrics.

One running run gets an output.log of 200,000 lines (training output: log lines, tqdm
redraws, Trainer dicts) written straight into its folder, and 20,000 steps of metric points
(loss, grad_norm, learning_rate, epoch at every step, eval_loss every 100 steps: 80,200 rows)
bulk-inserted. Each request is timed around the Flask test client call in this process (the
server's work without a network or gunicorn), round-robin so noise hits every endpoint alike,
and the median is compared with the 50 ms goal. The reference, measured in the same loop, is
the cheapest authenticated call on the same run, `GET /v1/runs/<id>`: the floor of auth,
routing and one row. The chart call must return at most 2,000 points per series.
SQLite always; PostgreSQL too when PORTAL_TEST_DATABASE_URL is set (`eval "$(scripts/services env)"`),
in a schema of its own, ANALYZEd after the bulk insert as autovacuum would have done.

    python bench/runs/bench_run_page.py [--small] [--lines 200000] [--points 20000] [--db sqlite,postgres]
"""
import argparse
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from harness import Portal, median, postgres_url, quantile  # noqa: E402

from sqlalchemy import insert, text  # noqa: E402

from portal.extensions import db  # noqa: E402
from portal.runs import metrics, services  # noqa: E402
from portal.runs.models import Metric, Run, RunLog  # noqa: E402
from portal.timeutil import utcnow  # noqa: E402

GOAL = 0.050
MAX_POINTS = 2000
CHART_KEYS = ("loss", "eval_loss", "learning_rate")
LOG_LINES = (
    "[INFO|2024-11-03 10:{m:02d}:{s:02d}] llamafactory.data.loader:{n} >> Loading dataset alpaca_zh_{n}.json...",
    "[rank{r}]:[W1103 10:{m:02d}:{s:02d}] ProcessGroupNCCL.cpp:{n}] Warning: TORCH_NCCL_AVOID_RECORD_STREAMS=1 "
    "has no effect for point-to-point collectives.",
    "[2024-11-03 10:{m:02d}:{s:02d}] [INFO] [logging.py:128:log_dist] [Rank 0] step={n}, skipped=0, lr=[4.2e-05]",
    "/opt/conda/lib/python3.11/site-packages/torch/utils/checkpoint.py:464: UserWarning: use_reentrant ...",
    "[INFO] 第 {n} 批数据处理完成，耗时 {x:.2f} 秒，显存占用 {r}7%",
)


def output_log(lines: int, rng: random.Random) -> bytes:
    """`lines` newline-ended lines; every 4th carries tqdm redraws, every 10th is a Trainer dict."""
    out = []
    for i in range(lines):
        if i % 10 == 9:
            out.append(str({"loss": round(2 - i / lines, 4), "grad_norm": round(rng.random(), 4),
                            "learning_rate": 5e-05 * (1 - i / lines), "epoch": round(i / lines, 2)}))
            continue
        line = rng.choice(LOG_LINES).format(m=i // 60 % 60, s=i % 60, n=rng.randint(1, 99999),
                                            r=rng.randint(0, 7), x=rng.random() * 20)
        if i % 4 == 0:
            line = "".join(f"\r{n * 100 // lines:3d}%|█████     | {n}/{lines} [01:02<03:04,  1.23it/s]"
                           for n in range(i, i + 3)) + "\r" + line
        out.append(line)
    return ("\n".join(out) + "\n").encode()


def prepare(portal: Portal, lines: int, points: int) -> tuple[int, int, int]:
    """A running run with its output.log and metric rows in place: (run id, log bytes, metric rows)."""
    rng = random.Random(5)
    portal.project("big")
    run_id = portal.start("big")["id"]
    with portal.app.app_context():
        run = services.get_run(run_id)
        data = output_log(lines, rng)
        folder = portal.run_folder(run)
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "output.log").write_bytes(data)
        rows = []
        for step in range(1, points + 1):
            rows += [{"run_id": run.id, "key": "loss", "step": step, "value": 2 - step / points + rng.random() / 10},
                     {"run_id": run.id, "key": "grad_norm", "step": step, "value": rng.random() * 3},
                     {"run_id": run.id, "key": "learning_rate", "step": step, "value": 5e-05 * (1 - step / points)},
                     {"run_id": run.id, "key": "epoch", "step": step, "value": step / points}]
            if step % 100 == 0:
                rows.append({"run_id": run.id, "key": "eval_loss", "step": step, "value": 1.9 - step / points})
        for i in range(0, len(rows), 10_000):
            db.session.execute(insert(Metric), rows[i:i + 10_000])
        for i in range(30):
            db.session.add(RunLog(run_id=run.id, message=f"event {i}: started in container (pid {1000 + i})"))
        run.status, run.started_at, run.handle = "running", utcnow(), {"pid": 0, "create_time": 0, "run_dir": ""}
        run.step, run.total_steps, run.progress = points, points * 2, 0.5
        run.output_bytes = run.parsed_bytes = len(data)
        run.last_metrics = {"loss": 1.0, "eval_loss": 0.9, "learning_rate": 2.5e-05}
        db.session.commit()
        if portal.database == "postgres":  # autovacuum would have analysed a table this size by now
            db.session.execute(text("ANALYZE metrics"))
            db.session.commit()
        db.session.remove()
    return run_id, len(data), len(rows)


def chart_parts(portal: Portal, run_id: int, repeats: int) -> dict[str, float]:
    """Median seconds of the series behind the chart endpoint, without and with its cache."""
    spent = {"metrics.series() cold": [], "metrics.series() cached": []}
    with portal.app.app_context():
        run = db.session.get(Run, run_id)
        parts = {"metrics.series() cold": lambda: (metrics._cache.clear(),
                                                  metrics.series(run, list(CHART_KEYS), MAX_POINTS)),
                 "metrics.series() cached": lambda: metrics.series(run, list(CHART_KEYS), MAX_POINTS)}
        for i in range(repeats + 3):
            for name, call in parts.items():
                began = time.perf_counter()
                call()
                if i >= 3:
                    spent[name].append(time.perf_counter() - began)
        db.session.remove()
    return {name: median(times) for name, times in spent.items()}


def measure(portal: Portal, endpoints: dict[str, str], repeats: int) -> dict[str, dict]:
    times = {name: [] for name in endpoints}
    sizes = {}
    for i in range(repeats + 3):  # the first three rounds warm caches and are not counted
        for name, url in endpoints.items():
            began = time.perf_counter()
            response = portal.client.get(url, headers=portal.headers)
            spent = time.perf_counter() - began
            if response.status_code != 200:
                raise RuntimeError(f"{url}: {response.status_code} {response.get_data(as_text=True)[:200]}")
            if i >= 3:
                times[name].append(spent)
            sizes[name] = len(response.data)
            if name == "metrics (chart)":
                sizes["series"] = response.get_json()["series"]
    return {"times": times, "sizes": sizes}


def report(database: str, run_id: int, size: int, lines: int, metric_rows: int, result: dict) -> None:
    times, sizes = result["times"], result["sizes"]
    floor = median(times["run JSON (reference)"])
    print(f"\n{database}: run {run_id}, output.log {lines:,} lines / {size / 1e6:.1f} MB, {metric_rows:,} metric rows; "
          f"{len(times['run JSON (reference)'])} timed requests each (Flask test client, in process)")
    print(f"{'request':34}{'p50 ms':>8}{'p95 ms':>8}{'goal':>7}{'p50/goal':>10}{'p50/ref':>9}{'KB':>8}")
    for name, spent in times.items():
        p50 = median(spent)
        verdict = "" if name.endswith("(reference)") else ("  ok" if p50 <= GOAL else "  OVER GOAL")
        print(f"{name:34}{p50 * 1000:8.1f}{quantile(spent, .95) * 1000:8.1f}{GOAL * 1000:5.0f}ms{p50 / GOAL:10.2f}"
              f"{p50 / floor:9.1f}{sizes[name] / 1024:8.1f}{verdict}")
    series = sizes["series"]
    worst = max(len(s["steps"]) for s in series.values())
    print("chart payload: " + ", ".join(f"{k} {len(s['steps'])} of {s['count']} points"
                                        f"{' (downsampled)' if s['downsampled'] else ''}" for k, s in series.items())
          + f" -> {sizes['metrics (chart)'] / 1024:.1f} KB; "
          + (f"at most {MAX_POINTS} per series: ok" if worst <= MAX_POINTS else f"OVER {MAX_POINTS} POINTS ({worst})"))
    print("chart call, its parts called directly: "
          + ", ".join(f"{name} {seconds * 1000:.1f} ms" for name, seconds in result["parts"].items()))


def main() -> None:
    args = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    args.add_argument("--small", action="store_true", help="fewer timed requests (same data; for CI)")
    args.add_argument("--lines", type=int, default=200_000)
    args.add_argument("--points", type=int, default=20_000, help="training steps with metric points")
    args.add_argument("--db", default="sqlite,postgres", help="databases to try (postgres only when available)")
    opts = args.parse_args()
    repeats = 15 if opts.small else 60
    for database in [d.strip() for d in opts.db.split(",") if d.strip()]:
        if database == "postgres" and not postgres_url():
            print("\npostgres: skipped, PORTAL_TEST_DATABASE_URL is unset (eval \"$(scripts/services env)\")")
            continue
        with Portal(database) as portal:
            run_id, size, metric_rows = prepare(portal, opts.lines, opts.points)
            endpoints = {
                "run JSON (reference)": f"/v1/runs/{run_id}",
                "run page /ui/runs/<id>": f"/ui/runs/{run_id}",
                "output ?tail=400": f"/v1/runs/{run_id}/output?tail=400",
                "output ?offset=<mid>": f"/v1/runs/{run_id}/output?offset={size // 2}",
                "metrics (chart)": f"/v1/runs/{run_id}/metrics?keys={','.join(CHART_KEYS)}&max_points={MAX_POINTS}",
            }
            result = measure(portal, endpoints, repeats)
            result["parts"] = chart_parts(portal, run_id, repeats)
            report(database, run_id, size, opts.lines, metric_rows, result)


if __name__ == "__main__":
    main()
