"""Slurm runs: how soon the portal shows a job running, and what following 50 jobs costs.

Needs the single-node Slurm of `scripts/services` (`eval "$(scripts/services env)"`).

1. Latency: runs one after another, each a job that sleeps. The bench polls, every 50 ms and
   in the same loop, `squeue` (Slurm's own view: the job is R) and the portal's API (the run's
   status reason says `Slurm job N on <node>`). Printed: Slurm's scheduling delay (submit → R
   in squeue) and the portal's delay beyond it (R in squeue → running in the portal), p50/max.
   Goal: p50 beyond Slurm's ≤ 2 s.
2. Load: 50 runs at once (on a 2-CPU node: 2 run, 48 pend with a reason). A real supervisor
   (`flask --app wsgi supervisor`, its own process) follows them; its CPU is psutil user+system
   delta over wall time, as a share of one core. Shims on PATH count every Slurm CLI call, so
   the calls per tick are printed (squeue should be 1 per tick). Goal: ≤ 10 % of a core.

    python bench/slurm/bench_slurm.py [--latency-runs 10] [--jobs 50] [--seconds 20]
"""
import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

import psutil

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "runs"))

from harness import Portal, median, quantile, wait_for  # noqa: E402

TOOLS = ("sbatch", "squeue", "scontrol", "scancel")


def shims(folder: Path) -> Path:
    """Wrappers that count each call of a Slurm tool (one line per call) and run the real one."""
    folder.mkdir(parents=True, exist_ok=True)
    for tool in TOOLS:
        real = subprocess.run(["which", tool], capture_output=True, text=True, check=True).stdout.strip()
        (folder / tool).write_text(f'#!/bin/sh\necho {tool} >> "{folder}/calls"\nexec {real} "$@"\n')
        (folder / tool).chmod(0o755)
    return folder


def squeue_running(job_id: str) -> bool:
    out = subprocess.run(["squeue", "-h", "-j", job_id, "-o", "%T"], capture_output=True, text=True, timeout=20, check=False)
    return out.stdout.strip() in ("RUNNING", "COMPLETING")


def latency(portal: Portal, partition: str, count: int) -> None:
    (portal.training / "sleep.py").write_text("import time\ntime.sleep(3)\n")
    portal.project("lat", executor="slurm", start_command=f"{sys.executable} sleep.py",
                   slurm={"partition": partition, "cpus_per_task": 1})
    slurm_delay, beyond, loop = [], [], []
    with portal.supervisor(PORTAL_TICK_SECONDS="0.5") as proc:
        portal.wait_active(proc)
        for _ in range(count):
            submitted = time.monotonic()
            run = portal.start("lat")
            seen_slurm = seen_portal = None
            job_id = None
            while seen_portal is None or seen_slurm is None:
                now = time.monotonic()
                if now - submitted > 60:
                    raise TimeoutError(f"run {run['id']} did not show running within 60 s")
                reason = portal.api("GET", f"/v1/runs/{run['id']}")["status_reason"]
                if job_id is None and reason.startswith("Slurm job "):
                    job_id = reason.split()[2]
                if seen_portal is None and " on " in reason:
                    seen_portal = now
                if seen_slurm is None and job_id and squeue_running(job_id):
                    seen_slurm = now
                time.sleep(0.05)
                loop.append(time.monotonic() - now)
            slurm_delay.append(seen_slurm - submitted)
            beyond.append(max(0.0, seen_portal - seen_slurm))
            wait_for(lambda run=run: portal.api("GET", f"/v1/runs/{run['id']}")["status"] == "succeeded", 60,
                     what="the run to end")
    print(f"submit → R in squeue (Slurm's own delay): p50 {median(slurm_delay):.2f} s, max {max(slurm_delay):.2f} s")
    print(f"R in squeue → running in the portal:      p50 {median(beyond):.2f} s, p90 {quantile(beyond, 0.9):.2f} s, "
          f"max {max(beyond):.2f} s   (goal: p50 ≤ 2 s; the bench looks every {median(loop):.2f} s, so 0 means "
          "within one look)")


def load(portal: Portal, partition: str, jobs: int, seconds: float, bin_dir: Path) -> None:
    (portal.training / "sleep.py").write_text("import time\ntime.sleep(600)\n")
    portal.project("load", executor="slurm", start_command=f"{sys.executable} sleep.py",
                   slurm={"partition": partition, "cpus_per_task": 1})
    env = {"PATH": f"{bin_dir}:{os.environ['PATH']}", "PORTAL_TICK_SECONDS": "1"}
    with portal.supervisor(**env) as proc:
        portal.wait_active(proc)
        ids = [portal.start("load")["id"] for _ in range(jobs)]
        wait_for(lambda: all(r.handle for r in portal.runs()), 120, every=0.5, what="every job to be submitted")
        time.sleep(3)  # the launches' last commits
        calls = bin_dir / "calls"
        before_calls = len(calls.read_text().splitlines())
        process = psutil.Process(proc.pid)
        cpu0, wall0 = sum(process.cpu_times()[:2]), time.monotonic()
        machine0 = psutil.cpu_times()
        time.sleep(seconds)
        cpu1, wall1 = sum(process.cpu_times()[:2]), time.monotonic()
        machine1 = psutil.cpu_times()
        window = calls.read_text().splitlines()[before_calls:]
        runs = portal.runs()
        pending = sum("waiting in the queue" in r.status_reason for r in runs if r.id in ids)
        running = sum(" on " in r.status_reason for r in runs if r.id in ids)
    ticks = (wall1 - wall0) / 1.0
    busy = 1 - (machine1.idle - machine0.idle) / max(1e-9, sum(machine1) - sum(machine0))
    print(f"{jobs} jobs followed ({running} running, {pending} pending with Slurm's reason) for {wall1 - wall0:.0f} s")
    print(f"supervisor CPU: {100 * (cpu1 - cpu0) / (wall1 - wall0):.1f} % of a core   (goal ≤ 10 %; "
          f"the whole machine was {100 * busy:.0f} % busy)")
    per_tick = {tool: window.count(tool) / ticks for tool in TOOLS}
    print("Slurm CLI calls per tick (1 s tick): " + ", ".join(f"{tool} {n:.2f}" for tool, n in per_tick.items()))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--latency-runs", type=int, default=10)
    parser.add_argument("--jobs", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=20.0)
    args = parser.parse_args()
    partition = os.environ.get("PORTAL_TEST_SLURM_PARTITION")
    if not partition:
        sys.exit('no Slurm: run `scripts/services up slurm` and `eval "$(scripts/services env)"`')
    with Portal() as portal:
        latency(portal, partition, args.latency_runs)
    with Portal() as portal:
        load(portal, partition, args.jobs, args.seconds, shims(portal.tmp / "bin"))


if __name__ == "__main__":
    main()
