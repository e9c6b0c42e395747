"""How fast vLLM deployments start, how soon a crash shows, and what health checking costs.

A throwaway portal (bench/runs/harness.py) with PORTAL_FAKE_GPUS=50x80GiB and a range of 100
ports, the stand-in vLLM server (tests/fixtures/fake_vllm.py) as PORTAL_VLLM_BIN, and a real
supervisor (`flask --app wsgi supervisor`, its own process, default tick unless --tick):

1. spawn: N deployments (20; 5 with --small) created one after another through POST
   /deployments, each after a random pause of up to one tick (so the POSTs fall at every phase
   of the supervisor's tick); per deployment, from before the POST to the row showing the pid
   (GET /deployments/{id}), to the process's create time, and to the server's own first log
   line (its log file no longer empty). The health check marking it `running` is context.
2. crash: two ways, both timed to GET /deployments showing a status other than
   running/starting (PORTAL_DEPLOY_MAX_RESTARTS=0, so `failed`; a restart would show `pending`):
   a) the N servers of (1) get SIGKILL from us, one every ~0.6 s at random moments: the kill is
      the exact start; b) N more servers exit by themselves (FAKE_VLLM_CRASH_AFTER, 3-5 s after
      ready, a different delay for each, so the exits fall at every phase of the 2 s health
      check): the exit is seen by a pidfd (readable the instant the process ends).
3. health checking: the idle supervisor (a fresh one, no live deployment) for a few seconds as
   the reference, then 50 live stand-in servers (5 with --small) created at once; once all are
   running, the supervisor's CPU (psutil cpu_times, user+system, over wall time, as a share of
   one core) over a steady window, per-second samples too; the servers' own CPU and how busy
   the machine was (2 cores shared with other engineers) as context. The supervisor is then
   stopped and its "longest tick X s" (logged at shutdown: idle, spawning the 50, the window)
   is compared with lease / 3. A third supervisor stops the 50 with DELETE ?force=true.

Every server is stopped at the end, even on Ctrl-C: DELETE ?force=true through a supervisor,
then SIGKILL to any process group left of a deployment's handle (pid + create time).

    python bench/deployments/bench_deployments.py [--small] [--spawns N] [--live N] [--seconds S] [--tick S]
"""
import argparse
import os
import random
import re
import select
import shutil
import signal
import sys
import tempfile
import threading
import time
from pathlib import Path

import psutil

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "runs"))

from harness import ROOT, Portal, median, quantile, wait_for  # noqa: E402
from bench_supervisor_load import Sampler, share  # noqa: E402

from sqlalchemy import select as sql_select  # noqa: E402

from portal.deployments.models import ENDED, Deployment, DeploymentEvent  # noqa: E402
from portal.extensions import db  # noqa: E402
from portal.timeutil import as_utc  # noqa: E402

FAKE_VLLM = ROOT / "tests" / "fixtures" / "fake_vllm.py"
# like tests/deployments/conftest.py's vllm_bin, but the crash switch comes from the served model
# name (crash-<seconds>-<n>): one supervisor serves both kinds (the server's env is not the portal's)
SHIM = f"""#!/bin/sh
prev=
for arg in "$@"; do
  if [ "$prev" = "--served-model-name" ]; then
    case "$arg" in crash-*) after=${{arg#crash-}}; export FAKE_VLLM_CRASH_AFTER="${{after%%-*}}";; esac
  fi
  prev=$arg
done
exec {sys.executable} {FAKE_VLLM} "$@"
"""
MODEL = "models/qwen2.5"
GOAL_SPAWN_P50 = 1.0
GOAL_CRASH_P95 = 3.0
GOAL_CPU = 0.05
UP = ("running", "starting")


def machine_busy(a, b) -> float:
    busy = sum(getattr(b, f) - getattr(a, f) for f in ("user", "system", "nice", "irq", "softirq"))
    return busy / ((sum(b) - sum(a)) or 1)


def started_at(pid: int) -> float:
    """A process's start on the wall clock, to the clock tick: /proc/PID/stat's start time is counted
    from boot; psutil's create_time adds /proc/stat's boot time, which is whole seconds (off by up to 1 s)."""
    start_ticks = int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[19])
    age = time.clock_gettime(time.CLOCK_BOOTTIME) - start_ticks / os.sysconf("SC_CLK_TCK")
    return time.time() - age


class ExitWatch:
    """The instant each watched process ends, from a pidfd (epoll wakes as it exits, before its reaping)."""

    def __init__(self):
        self.epoll = select.epoll()
        self.keys: dict[int, str] = {}
        self.exited: dict[str, float] = {}
        self.late: set[str] = set()  # already gone when we started watching: no exact exit time
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="exit-watch", daemon=True)
        self._thread.start()

    def add(self, key: str, pid: int, create_time: float) -> None:
        try:
            fd = os.pidfd_open(pid)
            if abs(psutil.Process(pid).create_time() - create_time) > 0.05 or \
                    psutil.Process(pid).status() == psutil.STATUS_ZOMBIE:
                os.close(fd)
                self.late.add(key)
                return
        except (ProcessLookupError, psutil.NoSuchProcess):
            self.late.add(key)
            return
        self.keys[fd] = key
        self.epoll.register(fd, select.EPOLLIN)

    def _run(self) -> None:
        while not self._stop.is_set():
            for fd, _ in self.epoll.poll(0.1):
                self.exited[self.keys[fd]] = time.monotonic()
                self.epoll.unregister(fd)
                os.close(fd)

    def close(self) -> None:
        self._stop.set()
        self._thread.join(1)
        for fd in list(self.keys):
            try:
                os.close(fd)
            except OSError:
                pass
        self.epoll.close()


class Bench:
    def __init__(self, portal: Portal):
        self.portal = portal
        (portal.training / MODEL).mkdir(parents=True, exist_ok=True)
        (portal.training / MODEL / "config.json").write_text('{"model_type": "qwen2"}')

    def create(self, name: str) -> dict:
        return self.portal.api("POST", "/deployments", json={"model_path": MODEL, "served_model_name": name})

    def get(self, deployment_id: str) -> dict:
        return self.portal.api("GET", f"/deployments/{deployment_id}")

    def listing(self) -> dict[str, dict]:
        return {d["deployment_id"]: d for d in self.portal.api("GET", "/deployments")}

    def rows(self, ids) -> dict[str, Deployment]:
        with self.portal.app.app_context():
            found = {d.id: d for d in db.session.scalars(sql_select(Deployment).where(Deployment.id.in_(list(ids))))}
            db.session.expunge_all()
            db.session.remove()
            return found

    def wait_status(self, ids: list[str], wanted: tuple, timeout: float, what: str) -> dict[str, dict]:
        def done():
            items = self.listing()
            bad = [i for i in ids if items[i]["status"] in ENDED and items[i]["status"] not in wanted]
            if bad:
                raise RuntimeError(f"{len(bad)} deployment(s) ended: {items[bad[0]]['status_reason']}")
            return items if all(items[i]["status"] in wanted for i in ids) else None
        return wait_for(done, timeout, every=0.25, what=what)

    # ---------------------------------------------------------------- 1. POST -> spawned

    def spawn(self, count: int, tick: float) -> list[dict]:
        out = []
        for n in range(count):
            time.sleep(random.uniform(0, tick))
            t0 = time.time()
            info = self.create(f"spawn-{n}")
            log = Path(info["log_file"])
            row = {"id": info["deployment_id"], "t0": t0}
            deadline = time.monotonic() + 60
            while "log" not in row or "pid" not in row:
                if "log" not in row and log.exists() and log.stat().st_size > 0:
                    row["log"] = time.time() - t0
                if "pid" not in row and (pid := self.get(info["deployment_id"])["pid"]):
                    row["pid"] = time.time() - t0
                    row["created"] = started_at(pid) - t0
                if time.monotonic() > deadline:
                    raise TimeoutError(f"deployment {n} not spawned after 60 s: {self.get(info['deployment_id'])}")
                time.sleep(0.01)
            out.append(row)
        self.wait_status([r["id"] for r in out], ("running",), 60, "the spawned servers to be running")
        with self.portal.app.app_context():
            ready = dict(db.session.execute(
                sql_select(DeploymentEvent.deployment_id, DeploymentEvent.created_at)
                .where(DeploymentEvent.deployment_id.in_([r["id"] for r in out]), DeploymentEvent.message == "ready")
            ).all())
            db.session.remove()
        for row in out:
            row["ready"] = as_utc(ready[row["id"]]).timestamp() - row["t0"]
        return out

    # ---------------------------------------------------------------- 2. crash -> shown

    def kill_crashes(self, ids: list[str], gap: float = 0.6) -> list[float]:
        """SIGKILL each server at a random moment (one per `gap` s); until the API shows each one not up."""
        items = self.listing()
        rows = self.rows(ids)
        start = time.monotonic() + 0.3
        plan = {i: start + k * gap + random.uniform(0, gap) for k, i in enumerate(ids)}
        killed, seen = {}, {}
        deadline = start + len(ids) * gap + 30
        while len(seen) < len(ids):
            now = time.monotonic()
            for i, at in plan.items():
                if i not in killed and now >= at:
                    handle = rows[i].handle
                    if abs(psutil.Process(handle["pid"]).create_time() - handle["create_time"]) > 0.05:
                        raise RuntimeError(f"pid {handle['pid']} is no longer deployment {i}'s server")
                    assert items[i]["status"] == "running"
                    killed[i] = time.monotonic()
                    os.kill(handle["pid"], signal.SIGKILL)
            items = self.listing()
            arrived = time.monotonic()
            for i in killed:
                if i not in seen and items[i]["status"] not in UP:
                    seen[i] = arrived
            if arrived > deadline:
                raise TimeoutError(f"{len(ids) - len(seen)} killed servers still shown up after 30 s")
            time.sleep(0.02)
        return [seen[i] - killed[i] for i in ids]

    def self_crashes(self, count: int) -> tuple[list[float], list[dict], int]:
        """Servers that exit by themselves 3-5 s after ready; their exit from a pidfd, until the API shows it."""
        watch = ExitWatch()
        try:
            ids = [self.create(f"crash-{random.uniform(3.0, 5.0):.2f}-{n}")["deployment_id"] for n in range(count)]
            watched, seen = set(), {}
            deadline = time.monotonic() + 90
            while len(seen) < count:
                items = self.listing()
                arrived = time.monotonic()
                for i in ids:
                    if i not in watched and items[i]["pid"]:
                        handle = self.rows([i])[i].handle
                        watch.add(i, handle["pid"], handle["create_time"])
                        watched.add(i)
                    if i in watched and i not in seen and items[i]["status"] not in UP:
                        seen[i] = arrived
                if arrived > deadline:
                    raise TimeoutError(f"{count - len(seen)} self-crashing servers still shown up after 90 s")
                time.sleep(0.02)
            wait_for(lambda: all(i in watch.exited or i in watch.late for i in ids), 5, what="every exit")
            late = [i for i in ids if i in watch.late]
            with self.portal.app.app_context():
                last = {i: db.session.scalars(sql_select(DeploymentEvent.message).filter_by(deployment_id=i)
                                              .order_by(DeploymentEvent.id.desc()).limit(1)).first() for i in ids}
                db.session.remove()
            return [seen[i] - watch.exited[i] for i in ids if i in watch.exited], \
                [{"status": items[i]["status"], "reason": last[i]} for i in ids], len(late)
        finally:
            watch.close()

    # ---------------------------------------------------------------- 3. health checking

    def health(self, live: int, idle: float, seconds: float) -> dict:
        portal, m = self.portal, {}
        with portal.supervisor() as proc:
            portal.wait_active(proc)
            sampler = Sampler(proc.pid)
            m["pid"] = proc.pid
            m["idle_a"] = sampler.sample()
            time.sleep(idle)
            m["idle_b"] = sampler.sample()
            queued = time.monotonic()
            ids = [self.create(f"live-{n}")["deployment_id"] for n in range(live)]
            m["create"] = time.monotonic() - queued
            self.wait_status(ids, ("running",), 120 + 2 * live, f"{live} deployments to be running")
            m["all_running"] = time.monotonic() - queued
            time.sleep(3.0)  # the last ones' first metrics scrape and health check pass
            handles = [r.handle for r in self.rows(ids).values()]
            servers = [psutil.Process(h["pid"]) for h in handles]

            def servers_cpu() -> float:
                return sum(p.cpu_times().user + p.cpu_times().system for p in servers)

            logs = [Path(d["log_file"]) for i, d in self.listing().items() if i in set(ids)]

            def health_checks() -> list[int]:  # the stand-in prints an access line per request
                return [path.read_text(errors="replace").count("GET /health ") for path in logs]

            m["checks_a"] = health_checks()
            m["machine_a"], m["servers_a"], m["steady_a"] = psutil.cpu_times(), servers_cpu(), sampler.sample()
            while time.monotonic() < m["steady_a"][0] + seconds:
                time.sleep(1.0)
                sampler.sample()
            m["steady_b"], m["servers_b"], m["machine_b"] = sampler.sample(), servers_cpu(), psutil.cpu_times()
            m["checks_b"] = health_checks()
            m["samples"] = [s for s in sampler.samples if m["steady_a"][0] <= s[0] <= m["steady_b"][0]]
            rows = self.rows(ids)
            now = time.time()
            m["statuses"] = {s: sum(r.status == s for r in rows.values()) for s in {r.status for r in rows.values()}}
            m["health_age"] = max(now - as_utc(r.last_health_at).timestamp() for r in rows.values())
        log = portal.supervisor_log(-1)
        longest = re.findall(r"longest tick ([0-9.]+) s", log)
        ticks = re.findall(r"stopping after (\d+) ticks", log)
        m["longest_tick"] = float(longest[-1]) if longest else None
        m["ticks"] = int(ticks[-1]) if ticks else None
        m["lease"] = portal.app.config["PORTAL"].lease_seconds
        m["ids"] = ids
        return m

    # ---------------------------------------------------------------- cleanup

    def stop_all(self, timeout: float = 90.0) -> float | None:
        """DELETE ?force=true every live deployment through a supervisor; seconds until all are ended."""
        live = [i for i, d in self.listing().items() if d["status"] not in ENDED]
        if not live:
            return None
        with self.portal.supervisor() as proc:
            self.portal.wait_active(proc)
            started = time.monotonic()
            for i in live:
                self.portal.api("DELETE", f"/deployments/{i}?force=true")
            try:
                wait_for(lambda: all(self.listing()[i]["status"] in ENDED for i in live), timeout, every=0.5,
                         what="every deployment to stop")
            except TimeoutError as error:
                print(f"  ({error}; killing what is left)", file=sys.stderr)
                return None
            return time.monotonic() - started

    def kill_leftovers(self) -> int:
        """SIGKILL every process group still left of a deployment's handle (the leader's pid, not reused)."""
        with self.portal.app.app_context():
            handles = [d.handle for d in db.session.scalars(sql_select(Deployment).where(Deployment.handle.is_not(None)))]
            db.session.remove()
        groups = {h["pid"]: h["create_time"] for h in handles}
        killed = 0
        for proc in psutil.process_iter(["pid", "create_time", "status"]):
            try:
                pgid = os.getpgid(proc.info["pid"])
            except (ProcessLookupError, psutil.Error):
                continue
            if pgid in groups and proc.info["create_time"] >= groups[pgid] - 0.05 and \
                    proc.info["status"] != psutil.STATUS_ZOMBIE:
                try:
                    os.kill(proc.info["pid"], signal.SIGKILL)
                    killed += 1
                except ProcessLookupError:
                    pass
        return killed


def line(label: str, figure: str, goal: str = "", ratio: float | None = None, ok: bool | None = None,
         note: str = "") -> None:
    verdict = "" if ok is None else ("  ok" if ok else "  OVER GOAL")
    ratio_text = "" if ratio is None else f"{ratio:8.2f}"
    print(f"{label:46}{figure:>14}{goal:>10}{ratio_text:>8}{verdict}{('  ' + note) if note else ''}")


def seconds_text(values: list[float]) -> str:
    return f"{median(values):.2f} / {quantile(values, .95):.2f}"


def report(m: dict, opts) -> None:
    spawn, tick = m["spawn"], m["tick"]
    print(f"\nDeployments (stand-in vLLM, SQLite, PORTAL_TICK_SECONDS={tick:g}{'' if opts.tick else ' default'}, "
          f"health check every 2 s, lease {m['health']['lease']:g} s, {psutil.cpu_count()} cores)")
    print(f"{'':46}{'figure':>14}{'goal':>10}{'ratio':>8}")
    print(f"1. POST /deployments -> spawned, {len(spawn)} one after another (p50 / p95, s)")
    for key, label in (("log", "server's first log line"), ("created", "process started (/proc start time)"),
                       ("pid", "pid shown in GET /deployments/{id}")):
        values = [r[key] for r in spawn]
        goal = key == "log"
        line(f"   {label}", seconds_text(values), f"p50 {GOAL_SPAWN_P50:g}" if goal else "",
             median(values) / GOAL_SPAWN_P50 if goal else None, median(values) <= GOAL_SPAWN_P50 if goal else None)
    line("   context: running (first health check ok)", seconds_text([r["ready"] for r in spawn]))
    print("2. crash -> API shows it (not running/starting) (p50 / p95, s)")
    kills, crashes = m["kills"], m["crashes"]
    for values, label in ((kills, f"SIGKILL from us, {len(kills)} servers"),
                          (crashes, f"exit by itself (CRASH_AFTER), {len(crashes)}")):
        p95 = quantile(values, .95)
        line(f"   {label}", seconds_text(values), f"p95 {GOAL_CRASH_P95:g}", p95 / GOAL_CRASH_P95, p95 <= GOAL_CRASH_P95,
             f"max {max(values):.2f}")
    both = kills + crashes
    line(f"   both ({len(both)})", seconds_text(both), f"p95 {GOAL_CRASH_P95:g}",
         quantile(both, .95) / GOAL_CRASH_P95, quantile(both, .95) <= GOAL_CRASH_P95)
    statuses = {}
    for c in m["crash_rows"]:
        statuses[c["status"]] = statuses.get(c["status"], 0) + 1
    print(f"   check: self-crashed shown as {statuses}; last event e.g. \"{m['crash_rows'][0]['reason']}\""
          + (f"; {m['crash_late']} exited before watched (left out)" if m["crash_late"] else ""))
    h = m["health"]
    live = len(h["ids"])
    cpu = share(h["steady_a"], h["steady_b"])
    window = h["steady_b"][0] - h["steady_a"][0]
    per = [share(a, b) for a, b in zip(h["samples"], h["samples"][1:]) if b[0] - a[0] > 0.5]
    print(f"3. health checking {live} live deployments (supervisor pid {h['pid']})")
    line(f"   supervisor CPU, steady window ({window:.0f} s)", f"{cpu * 100:.1f}%", f"{GOAL_CPU * 100:.0f}%",
         cpu / GOAL_CPU, cpu <= GOAL_CPU)
    line("     per-second samples p50 / p95 / max", f"{median(per) * 100:.1f}%",
         note=f"{quantile(per, .95) * 100:.1f}% / {max(per, default=0) * 100:.1f}%")
    idle = share(h["idle_a"], h["idle_b"])
    line("   reference: the same supervisor idle", f"{idle * 100:.1f}%",
         note=f"({h['idle_b'][0] - h['idle_a'][0]:.0f} s, no live deployment); "
              f"window minus idle {(cpu - idle) * 100:.1f}% = {(cpu - idle) * 100 / live:.2f}% per deployment")
    if h["longest_tick"] is not None:
        goal = h["lease"] / 3
        line("   longest tick (supervisor log)", f"{h['longest_tick']:.3f}s", f"{goal:.1f}s", h["longest_tick"] / goal,
             h["longest_tick"] <= goal, f"({h['ticks']} ticks: idle, spawning {live}, the window)")
    line("   context: the servers themselves", f"{(h['servers_b'] - h['servers_a']) / window * 100:.1f}%",
         note=f"({live} stand-in processes, sum)")
    line("   context: whole machine busy, window", f"{machine_busy(h['machine_a'], h['machine_b']) * 100:.1f}%",
         note=f"(of {psutil.cpu_count()} cores; whole run {machine_busy(m['machine_a'], m['machine_b']) * 100:.1f}%)")
    counts = [b - a for a, b in zip(h["checks_a"], h["checks_b"])]
    intervals = [window / c for c in counts if c]
    line("   context: health check interval, mean", f"{window * live / (sum(counts) or 1):.2f}s", "",
         note=f"(CHECK_SECONDS 2; per deployment {min(intervals, default=0):.2f}-{max(intervals, default=0):.2f} s; "
              f"{sum(counts)} GET /health in the window)")
    print(f"   check: {h['statuses']} at the window's end; oldest health check {h['health_age']:.1f} s old; "
          f"{live} created in {h['create']:.1f} s, all running {h['all_running']:.1f} s after the first POST")
    if m.get("stopped") is not None:
        print(f"cleanup: {live} stopped with DELETE ?force=true in {m['stopped']:.1f} s (a fresh supervisor); "
              f"process groups left and killed: {m['leftovers']}")


def main() -> None:
    args = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    args.add_argument("--small", action="store_true", help="5 deployments per part, 10 s window (for CI)")
    args.add_argument("--spawns", type=int, help="deployments for spawn and each crash way (20; 5 small)")
    args.add_argument("--live", type=int, help="live deployments health-checked (50; 5 small)")
    args.add_argument("--seconds", type=float, help="steady window (40; 10 small)")
    args.add_argument("--tick", help="PORTAL_TICK_SECONDS (default: the portal's default)")
    opts = args.parse_args()
    spawns = opts.spawns or (5 if opts.small else 20)
    live = opts.live or (5 if opts.small else 50)
    seconds = opts.seconds or (10.0 if opts.small else 40.0)
    idle = 3.0 if opts.small else 6.0
    base = 20000 + (os.getpid() % 90) * 100  # 100 ports of our own, away from the tests' 18200-19199
    shim_dir = Path(tempfile.mkdtemp(prefix="portal-bench-vllm-"))
    shim = shim_dir / "vllm"
    shim.write_text(SHIM)
    shim.chmod(0o755)
    settings = {"PORTAL_FAKE_GPUS": f"{max(50, live, 2 * spawns)}x80GiB", "PORTAL_VLLM_BIN": str(shim),
                "PORTAL_DEPLOY_PORTS": f"{base}-{base + 99}", "PORTAL_DEPLOY_GRACE_SECONDS": "2",
                "PORTAL_DEPLOY_MAX_RESTARTS": "0", **({"PORTAL_TICK_SECONDS": opts.tick} if opts.tick else {})}
    m = {"machine_a": psutil.cpu_times()}
    try:
        with Portal(**settings) as portal:
            bench = Bench(portal)
            m["tick"] = portal.app.config["PORTAL"].tick_seconds
            try:
                with portal.supervisor() as proc:
                    portal.wait_active(proc)
                    print(f"1. spawning {spawns} deployments one after another ...", flush=True)
                    m["spawn"] = bench.spawn(spawns, m["tick"])
                    print(f"2. killing them, then {spawns} servers crashing by themselves ...", flush=True)
                    m["kills"] = bench.kill_crashes([r["id"] for r in m["spawn"]])
                    m["crashes"], m["crash_rows"], m["crash_late"] = bench.self_crashes(spawns)
                print(f"3. health checking {live} live deployments ({seconds:g} s window) ...", flush=True)
                m["health"] = bench.health(live, idle, seconds)
                m["machine_b"] = psutil.cpu_times()
            finally:  # even on Ctrl-C: stop what is live, then kill any group left
                try:
                    m["stopped"] = bench.stop_all()
                finally:
                    m["leftovers"] = bench.kill_leftovers()
                    if "machine_b" not in m:  # interrupted or failed: say what the cleanup did
                        print(f"  (cleanup: live deployments stopped {'in %.1f s' % m['stopped'] if m['stopped'] else 'none'}"
                              f"; leftover processes killed: {m['leftovers']})", file=sys.stderr)
    finally:
        shutil.rmtree(shim_dir, ignore_errors=True)
    report(m, opts)


if __name__ == "__main__":
    main()
