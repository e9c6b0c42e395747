"""What the supervisor costs while it follows many chatty local runs.

100 runs (20 with --small) each print 20 lines/s for 60 s (10 s) the way a training script
does: a tqdm bar redrawn with \\r on stderr every step, a Trainer dict every 10 steps (the bar
cleared first, as tqdm.write does), an ordinary log line now and then. A real supervisor
(`flask --app wsgi supervisor`, its own process, default tick unless --tick) launches and
follows them all. Its CPU is psutil cpu_times (user+system) delta over wall time, as a share
of one core, over the window in which every run is printing; RSS is sampled each second.
The reference, measured in the same run: the same supervisor idle (no runs) for a few seconds,
and how busy the whole machine was (other engineers run tests on its 2 cores).
At the end: how long after each run's process exited (its exit_code file) the supervisor
recorded it as ended, and whether every metric point the runs printed was recorded once.

    python bench/runs/bench_supervisor_load.py [--small] [--runs 100] [--seconds 60] [--tick 2]
"""
import argparse
import re
import sys
import time
from pathlib import Path

import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent))

from harness import Portal, median, quantile, wait_for  # noqa: E402

from sqlalchemy import func, select  # noqa: E402

from portal.extensions import db  # noqa: E402
from portal.runs.models import ENDED, Metric  # noqa: E402
from portal.timeutil import as_utc  # noqa: E402

TRAIN = r'''"""Prints like a Hugging Face Trainer run: a tqdm bar per step, a logs dict every 10 steps."""
import random, sys, time

seconds, rate = float(sys.argv[1]), float(sys.argv[2])
total = int(seconds * rate)
started = time.time()

def clock(s):
    return "%02d:%02d" % (s // 60, s % 60)

def bar(n):
    elapsed = time.time() - started
    speed = n / elapsed if elapsed > 0 else 0.0
    left = (total - n) / speed if speed else 0
    filled = n * 10 // total
    return ("\r%3d%%|%s%s| %d/%d [%s<%s, %5.2fit/s]"
            % (n * 100 // total, "█" * filled, " " * (10 - filled), n, total, clock(int(elapsed)), clock(int(left)),
               speed))

for n in range(1, total + 1):
    delay = started + n / rate - time.time()
    if delay > 0:
        time.sleep(delay)
    if n % 10 == 0:
        sys.stderr.write("\r" + " " * 60 + "\r")
        sys.stderr.flush()
        print({"loss": round(2.5 - n / total + random.random() / 10, 4), "grad_norm": round(random.random() * 3, 4),
               "learning_rate": 5e-05 * (1 - n / total), "epoch": round(n / total, 2)}, flush=True)
    elif n % 25 == 0:
        print("[INFO|trainer.py:%d] >> Saving model checkpoint to saves/checkpoint-%d" % (3800 + n % 100, n),
              flush=True)
    sys.stderr.write(bar(n))
    sys.stderr.flush()
sys.stderr.write("\n")
print({"train_runtime": round(time.time() - started, 2), "train_loss": 1.9, "epoch": 1.0}, flush=True)
'''
GOAL_CPU = 0.25


class Sampler:
    """The supervisor's CPU seconds and RSS, sampled by the caller."""

    def __init__(self, pid: int):
        self.proc = psutil.Process(pid)
        self.samples: list[tuple[float, float, int]] = []  # (monotonic, cpu seconds, rss bytes)

    def sample(self) -> tuple[float, float, int]:
        times = self.proc.cpu_times()
        point = (time.monotonic(), times.user + times.system, self.proc.memory_info().rss)
        self.samples.append(point)
        return point

    def children_cpu(self) -> float:
        times = self.proc.cpu_times()
        return times.children_user + times.children_system


def share(a: tuple, b: tuple) -> float:
    return (b[1] - a[1]) / (b[0] - a[0])


def mb(rss: int) -> str:
    return f"{rss / 2**20:.0f} MB"


def measure(runs: int, seconds: float, rate: float, idle: float, tick: str | None) -> dict:
    """Queue the runs under a fresh supervisor; sample it until every run has ended."""
    with Portal(**({"PORTAL_TICK_SECONDS": tick} if tick else {})) as portal:
        (portal.training / "train_like.py").write_text(TRAIN)
        portal.project("load", start_command=f"{sys.executable} train_like.py {seconds:g} {rate:g}")
        m = {"tick": portal.app.config["PORTAL"].tick_seconds, "machine": psutil.cpu_times()}
        with portal.supervisor() as proc:
            portal.wait_active(proc)
            sampler = Sampler(proc.pid)
            m["idle_a"] = sampler.sample()
            time.sleep(idle)
            m["idle_b"] = sampler.sample()
            queued_at = time.monotonic()
            ids = [portal.start("load")["id"] for _ in range(runs)]
            m["running"] = wait_for(lambda: all(r.status in ("running", *ENDED) for r in portal.runs()) and
                                    sampler.sample(), 120, every=0.2, what="every run to start")
            m["launch"] = m["running"][0] - queued_at
            # every run prints until its own end; the window closes when the first one stops
            while time.monotonic() < queued_at + seconds - 1.0:
                time.sleep(1.0)
                sampler.sample()
            m["steady"] = sampler.sample()
            wait_for(lambda: sampler.sample() and all(r.status in ENDED for r in portal.runs()), seconds + 120,
                     every=0.5, what="every run to end")
            m["done"] = sampler.sample()
            m["runs_cpu"] = sampler.children_cpu() / (m["done"][0] - queued_at)
        m["machine_after"], m["samples"], m["pid"] = psutil.cpu_times(), sampler.samples, proc.pid
        longest = re.findall(r"longest tick ([0-9.]+) s", portal.supervisor_log())
        m["longest_tick"] = float(longest[-1]) if longest else None
        m["lease"] = portal.app.config["PORTAL"].lease_seconds

        found = portal.runs()
        exits = [(portal.run_folder(r) / "exit_code").stat().st_mtime for r in found]
        m["notice"] = [as_utc(r.ended_at).timestamp() - exited for r, exited in zip(found, exits)]
        m["last_noticed"] = max(as_utc(r.ended_at).timestamp() for r in found) - max(exits)
        m["statuses"] = {s: sum(r.status == s for r in found) for s in {r.status for r in found}}
        m["steps_ok"] = sum(r.step == r.total_steps == int(seconds * rate) for r in found)
        with portal.app.app_context():
            losses = dict(db.session.execute(select(Metric.run_id, func.count()).where(Metric.key == "loss")
                                             .group_by(Metric.run_id)).all())
            db.session.remove()
        m["losses"] = [losses.get(i, 0) for i in ids]
    return m


def report(m: dict, runs: int, seconds: float, rate: float, idle: float, tick_given: bool) -> None:
    busy = sum(getattr(m["machine_after"], f) - getattr(m["machine"], f)
               for f in ("user", "system", "nice", "irq", "softirq"))
    wall = sum(m["machine_after"]) - sum(m["machine"])
    start, steady, done = m["running"], m["steady"], m["done"]
    cpu = share(start, steady)
    per = [share(a, b) for a, b in zip(m["samples"], m["samples"][1:])
           if start[0] <= a[0] and b[0] <= steady[0] and b[0] - a[0] > 0.5]
    print(f"\nSupervisor load: {runs} local runs x {rate:g} lines/s x {seconds:g} s "
          f"(SQLite, PORTAL_TICK_SECONDS={m['tick']:g}{'' if tick_given else ' default'}, supervisor pid {m['pid']})")
    print(f"{'':44}{'figure':>12}{'goal':>10}{'ratio':>8}")
    print(f"{'supervisor CPU, all runs printing (' + format(steady[0] - start[0], '.0f') + ' s)':44}"
          f"{cpu * 100:11.1f}%{GOAL_CPU * 100:9.0f}%{cpu / GOAL_CPU:8.2f}  {'ok' if cpu <= GOAL_CPU else 'OVER GOAL'}")
    print(f"{'  per-second samples p50 / p95 / max':44}{median(per) * 100:11.1f}%   "
          f"{quantile(per, .95) * 100:.1f}% / {max(per, default=0) * 100:.1f}%")
    print(f"{'supervisor CPU, queue to last end (all in)':44}{share(m['idle_b'], done) * 100:11.1f}%")
    print(f"{'reference: the same supervisor idle':44}{share(m['idle_a'], m['idle_b']) * 100:11.1f}%"
          f"{'':18}  ({idle:g} s, no runs)")
    print(f"{'context: the runs themselves':44}{m['runs_cpu'] * 100:11.1f}%{'':18}  (reaped children's CPU)")
    print(f"{'context: whole machine busy':44}{busy / wall * 100:11.1f}%{'':18}  (of {psutil.cpu_count()} cores)")
    window_rss = [s[2] for s in m["samples"] if start[0] <= s[0] <= steady[0]]
    growth = steady[2] - start[2]
    print(f"RSS: idle {mb(m['idle_b'][2])}, all launched {mb(start[2])}, end of window {mb(steady[2])} "
          f"(max {mb(max(window_rss))}), after all ended {mb(done[2])}; window growth {growth / 2**20:+.1f} MB "
          f"({'flat' if growth < 0.05 * start[2] else 'GROWING'})")
    if m["longest_tick"] is not None:
        print(f"{'longest tick (supervisor log)':44}{m['longest_tick']:11.3f}s{m['lease'] / 3:9.1f}s"
              f"{m['longest_tick'] / (m['lease'] / 3):8.2f}  (goal: lease / 3)")
    print(f"launch: all {runs} running {m['launch']:.1f} s after queueing")
    print(f"end: each run recorded ended p50 {median(m['notice']):.1f} s / max {max(m['notice']):.1f} s after its "
          f"process exited; all {runs} recorded {m['last_noticed']:.1f} s after the last exited (tick {m['tick']:g} s)")
    expected = int(seconds * rate) // 10
    print(f"check: {m['statuses']}; final step reached {m['steps_ok']}/{runs}; loss points recorded "
          f"{sum(m['losses'])}/{runs * expected} ({'each once' if set(m['losses']) == {expected} else 'MISMATCH'})")


def main() -> None:
    args = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    args.add_argument("--small", action="store_true", help="20 runs x 10 s (for CI)")
    args.add_argument("--runs", type=int)
    args.add_argument("--seconds", type=float)
    args.add_argument("--rate", type=float, default=20.0, help="lines per second per run")
    args.add_argument("--tick", help="PORTAL_TICK_SECONDS (default: the portal's default)")
    opts = args.parse_args()
    runs = opts.runs or (20 if opts.small else 100)
    seconds = opts.seconds or (10.0 if opts.small else 60.0)
    idle = 3.0 if opts.small else 6.0
    report(measure(runs, seconds, opts.rate, idle, opts.tick), runs, seconds, opts.rate, idle, bool(opts.tick))

if __name__ == "__main__":
    main()
