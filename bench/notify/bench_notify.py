"""Notifications: event → delivered latency with a 1 s tick, and the tick time under a backlog.

1. Latency: runs that fail at once, one after another at random phases of the tick, with a real
   supervisor process (PORTAL_TICK_SECONDS=1) and a local webhook receiver. For each event: the
   state change's commit (`occurred_at`) → the receiver has it, and the run's own exit (it prints
   its clock) → the receiver has it. Goal: p95 ≤ 2 s. Reference: the tick (1 s), the time the
   supervisor may take to notice an exit at all.
2. Backlog: 1,000 events queued for a receiver that takes 1 s per request, plus a fast channel.
   The supervisor is ticked here, in process, once a second, and each tick is timed: first with
   nothing to send, then with the backlog. Goal: the tick time does not rise; the fast channel's
   events still arrive within a tick or two; the slow one drains at its own pace (1 request/s,
   one in flight per channel: the receiver's limit).

    .venv/bin/python bench/notify/bench_notify.py [--small] [--runs N] [--seconds S]
"""
import argparse
import os
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "runs"))

from harness import Portal, quantile, wait_for
from sqlalchemy import func, select

from portal.extensions import db
from portal.notify.models import Delivery, Event
from portal.notify.supervise import NotifyHandler
from portal.supervisor import (
    Supervisor,
    runner,
)
from portal.timeutil import as_utc
from tests.support import Receiver

NOTIFY = {"PORTAL_NOTIFY_ALLOW_PRIVATE": "on", "PORTAL_TICK_SECONDS": "1"}
FAIL_NOW = f"{sys.executable} -c 'import sys, time; print(repr(time.time()), flush=True); sys.exit(1)'"


def channel(portal: Portal, name: str, receiver: Receiver, events: list[str]) -> None:
    response = portal.client.post("/v1/notification-channels", headers=portal.headers,
                                  json={"name": name, "kind": "webhook", "url": receiver.url, "events": events})
    assert response.status_code == 201, response.get_json()


def occurred(portal: Portal) -> dict[str, float]:
    with portal.app.app_context():
        found = {e.id: as_utc(e.occurred_at).timestamp() for e in db.session.scalars(select(Event))}
        db.session.remove()
        return found


def latency(runs: int) -> None:
    receiver = Receiver()
    with Portal(**NOTIFY) as portal:
        channel(portal, "hook", receiver, ["run.failed"])
        portal.project("p", start_command=FAIL_NOW)
        with portal.supervisor(**NOTIFY) as proc:
            portal.wait_active(proc)
            for i in range(runs):
                time.sleep(random.uniform(0, 1))  # a random phase of the tick
                portal.start("p")
                wait_for(lambda i=i: len(receiver.requests) > i, 30, 0.02, "the event")
        times = occurred(portal)
        exits = {run.id: float(portal.run_folder(run).joinpath("output.log").read_text().split()[0])
                 for run in portal.runs()}
    commit = [r["at"] - times[r["headers"]["X-Portal-Event-Id"]] for r in receiver.requests]
    exit_ = [r["at"] - exits[r["body"]["run"]["id"]] for r in receiver.requests]
    receiver.close()
    print(f"1. event → delivered, {runs} failing runs, tick 1 s (goal p95 ≤ 2 s; reference: the tick, 1.00 s)")
    print(f"   state change committed → received: p50 {quantile(commit, .5):.3f} s  p95 {quantile(commit, .95):.3f} s"
          f"  max {max(commit):.3f} s")
    print(f"   run's exit → received:            p50 {quantile(exit_, .5):.3f} s  p95 {quantile(exit_, .95):.3f} s"
          f"  max {max(exit_):.3f} s")


def timed_ticks(supervisor: Supervisor, seconds: float, notify: list[float] | None = None) -> list[float]:
    """Tick once a second for `seconds`: each tick's duration (and the notify handler's share in `notify`)."""
    durations = []
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        started = time.monotonic()
        supervisor.tick()
        durations.append(time.monotonic() - started)
        if notify is not None and supervisor.handlers:
            notify.append(next(h.spent for h in supervisor.handlers if isinstance(h, Timed)))
        time.sleep(max(0.0, 1.0 - durations[-1]))
    return durations


class Timed(NotifyHandler):
    """The notify handler, timed: how much of each tick is its own (the machine is shared and noisy)."""

    spent = 0.0

    def tick(self, supervisor) -> None:
        started = time.monotonic()
        super().tick(supervisor)
        self.spent = time.monotonic() - started


def backlog(seconds: float, queued: int) -> dict:
    """`queued` copies of a run.failed event for a 1 s/request receiver; one tick a second, timed."""
    slow, fast = Receiver(delay=1.0), Receiver()
    with Portal(**NOTIFY) as portal:
        channel(portal, "slow", slow, ["run.failed"])
        channel(portal, "fast", fast, ["run.succeeded"])
        portal.project("p", start_command=FAIL_NOW)
        portal.project("ok", start_command=f"{sys.executable} -c 'pass'")
        runner._handler_types[runner._handler_types.index(NotifyHandler)] = Timed
        supervisor = Supervisor(portal.app)
        notify: list[float] = []
        try:
            timed_ticks(supervisor, 3)  # take the lease, settle
            run = portal.start("p")
            wait_for(lambda: (supervisor.tick() or True) and slow.requests, 30, 0.5, "the first event")
            with portal.app.app_context():  # more of that very event, as if that many runs had failed
                template = db.session.scalar(select(Event).where(Event.run_id == run["id"], Event.kind == "run.failed"))
                db.session.add_all(Event(kind=template.kind, run_id=template.run_id, project=template.project,
                                         payload=template.payload, occurred_at=template.occurred_at)
                                   for _ in range(queued))
                db.session.commit()
                db.session.remove()
            ticks = timed_ticks(supervisor, seconds / 2, notify)
            started_ok = time.time()
            portal.start("ok")  # another channel's event while the slow one is backlogged
            ticks += timed_ticks(supervisor, seconds / 2, notify)
            with portal.app.app_context():
                pending = db.session.scalar(select(func.count()).select_from(Delivery)
                                            .where(Delivery.status == "pending"))
                db.session.remove()
        finally:
            supervisor.close()
            runner._handler_types[runner._handler_types.index(Timed)] = NotifyHandler
    result = {"ticks": ticks, "notify": notify, "sent": len(slow.requests), "pending": pending,
              "fast": fast.requests[0]["at"] - started_ok if fast.requests else float("nan")}
    slow.close(), fast.close()
    return result


def report_backlog(seconds: float) -> None:
    print(f"2. tick time with a backlog for a 1 s/request receiver, ticked in process once a second for {seconds:.0f} s"
          f" (goal: the backlog's size does not raise it; reference: the same with 50 queued, still draining at the end)")
    for queued in (50, 1000):
        r = backlog(seconds, queued)
        print(f"   {queued:>5,} queued: tick p50 {quantile(r['ticks'], .5) * 1000:6.1f} ms  p95 "
              f"{quantile(r['ticks'], .95) * 1000:6.1f} ms  max {max(r['ticks']) * 1000:6.1f} ms · notify handler p50 "
              f"{quantile(r['notify'], .5) * 1000:5.1f} ms  p95 {quantile(r['notify'], .95) * 1000:5.1f} ms · slow "
              f"receiver got {r['sent']} (limit 1/s), {r['pending']} pending · a run.succeeded meanwhile reached "
              f"the fast channel {r['fast']:.2f} s after it was queued (run start and exit included)")
    print(f"   load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", action="store_true", help="fewer runs and seconds (about 40 s)")
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--seconds", type=float, default=30.0)
    args = parser.parse_args()
    runs, seconds = (8, 10.0) if args.small else (args.runs, args.seconds)
    latency(runs)
    report_backlog(seconds)


if __name__ == "__main__":
    main()
