"""The first `strict` de-identification call of a fresh worker, with and without the warm-up that
each gunicorn worker runs at start (issue 15.28: the first call paid for loading jieba).

Each sample is a new process (a fresh worker: nothing of jieba loaded), on a throwaway data dir.
Prints medians: the warm-up itself (done in a thread before any request), the first call, and the
second call of the same process (the steady state, measured in the same run as the reference).

    .venv/bin/python bench/deid/bench_first_call.py [--samples N]
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CHILD = r"""
import json, sys, time
from portal import create_app
app = create_app({"TESTING": True})
with app.app_context():
    from portal.extensions import db
    db.create_all()
    from portal.deid import services
    started = time.perf_counter()
    if sys.argv[1] == "warm":
        services.warm_up()
    warmed = time.perf_counter()
    services.deidentify("strict", ["客户张伟的电话是13812345678"])
    first = time.perf_counter()
    services.deidentify("strict", ["联系人李娜，邮箱 li@example.com"])
    second = time.perf_counter()
print(json.dumps({"warm_up": warmed - started, "first": first - warmed, "second": second - first}))
"""


def sample(mode: str) -> dict:
    with tempfile.TemporaryDirectory(prefix="bench-deid-") as data:
        env = {**os.environ, "PORTAL_DATA_DIR": data}
        env.pop("TRAINING_DB_URL", None)
        done = subprocess.run([sys.executable, "-c", CHILD, mode], cwd=ROOT, env=env, capture_output=True,
                              text=True, timeout=300, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--samples", type=int, default=3)
    args = parser.parse_args()
    print(f"{'worker':<22}{'warm-up (thread)':>18}{'first strict call':>20}{'second call':>14}")
    for mode, label in (("cold", "without warm-up"), ("warm", "with warm-up (ours)")):
        runs = [sample(mode) for _ in range(args.samples)]
        med = {key: statistics.median(r[key] for r in runs) for key in runs[0]}
        print(f"{label:<22}{med['warm_up']:>17.2f}s{med['first']:>19.3f}s{med['second']:>13.3f}s")
    print("goal: the first call of a warmed worker costs what a later call does (the 'second call' column);"
          " the issue measured 1.6 s for a cold one")


if __name__ == "__main__":
    main()
