"""The fenced lease: a supervisor that lost the lease can write, launch and signal nothing."""
import logging
import os
import signal
import sys
import time

import psutil
import pytest
from sqlalchemy import create_engine, text, update

from portal.extensions import db
from portal.runs.models import Run, RunLog
from portal.supervisor import Supervisor, lease
from tests.support import make_project, start
from tests.support import supervisor_process, wait_for

SLEEPER = f"{sys.executable} -c \"import time; print('up', flush=True); time.sleep(600)\""


def running(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def expire_lease(app) -> None:
    """As if the holder slept past its lease: the next supervisor to try takes over."""
    with app.app_context():
        db.session.execute(update(lease.Lease).values(expires_at=0.0))
        db.session.commit()


def status(app, run_id: int) -> Run:
    with app.app_context():
        run = db.session.get(Run, run_id)
        db.session.expunge(run)
        return run


@pytest.fixture
def pair(app):
    first, second = Supervisor(app), Supervisor(app)
    yield first, second
    first.close()
    second.close()


def test_the_epoch_rises_at_each_take_over_and_not_at_renewal(app):
    with app.app_context():
        assert lease.try_acquire("a", ttl=10, now=100.0) == 1
        assert lease.try_acquire("a", ttl=10, now=105.0) == 1
        assert lease.try_acquire("b", ttl=10, now=116.0) == 2
        assert lease.try_acquire("a", ttl=10, now=117.0) is None


def test_a_commit_under_a_stale_fence_writes_nothing(app):
    with app.app_context():
        assert lease.try_acquire("a", ttl=10, now=100.0) == 1
        assert lease.try_acquire("b", ttl=10, now=200.0) == 2
        with lease.acting(lease.Fence("a", 1)):
            db.session.add(RunLog(run_id=1, message="from the old holder"))
            with pytest.raises(lease.LeaseLost):
                db.session.commit()
            db.session.rollback()
        with lease.acting(lease.Fence("b", 2)):
            assert db.session.scalar(db.select(db.func.count()).select_from(RunLog)) == 0


def test_a_supervisor_that_lost_the_lease_mid_tick_launches_nothing(app, client, token, training, pair, caplog):
    first, second = pair
    h = token["operator"]
    make_project(client, h, start_command=SLEEPER)
    with app.app_context():
        first.hold()  # the first supervisor renews its lease … and is paused before it acts
    assert first.active
    expire_lease(app)
    assert second.tick()  # the other one took over
    run_id = start(client, h)["id"]
    with caplog.at_level(logging.WARNING, "portal.supervisor"), app.app_context():
        first.act()  # … it resumes and acts on what it believed
    assert not first.active and "lost the lease" in caplog.text
    run = status(app, run_id)
    assert run.status == "queued" and run.handle is None and run.gpus == []
    assert not first.in_pool(("launch", run_id))
    wait_for(lambda: second.tick() and status(app, run_id).status == "running", 30)


def test_a_supervisor_that_lost_the_lease_sends_no_stop(app, client, token, training, pair, caplog):
    first, second = pair
    h = token["operator"]
    make_project(client, h, start_command=SLEEPER)
    run_id = start(client, h)["id"]
    wait_for(lambda: first.tick() and status(app, run_id).status == "running", 30)
    pid = status(app, run_id).handle["pid"]
    with app.app_context():
        first.hold()
    expire_lease(app)
    assert second.tick()
    assert client.post(f"/v1/runs/{run_id}/stop", headers=h).get_json()["status"] == "stopping"
    with caplog.at_level(logging.WARNING, "portal.supervisor"), app.app_context():
        first.act()
    assert not first.active and "lost the lease" in caplog.text
    assert status(app, run_id).stop_sent_at is None and running(pid)
    done = wait_for(lambda: second.tick() and (r := status(app, run_id)).status == "cancelled" and r, 30)
    assert done.exit_code is not None


def _holder_pid(url: str) -> int | None:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            row = conn.execute(text("SELECT holder FROM leases")).first()
    finally:
        engine.dispose()
    return int(row[0].split(":")[1]) if row else None


def _lease_row_free(url: str) -> bool:
    """True when no paused transaction holds the lease row (or SQLite's write lock)."""
    engine = create_engine(url)
    try:
        with engine.begin() as conn:
            conn.execute(text("PRAGMA busy_timeout = 500" if url.startswith("sqlite") else
                              "SET LOCAL lock_timeout = '500ms'"))
            conn.execute(text("UPDATE leases SET heartbeat_at = heartbeat_at"))
        return True
    except Exception:
        return False
    finally:
        engine.dispose()


@pytest.mark.slow
def test_a_paused_supervisor_resumed_after_a_take_over_does_nothing(app, client, token, training, procs, tmp_path):
    """SIGSTOP the active supervisor for over twice its lease, let another take over and launch, SIGCONT it."""
    h = token["operator"]
    url = app.config["PORTAL"].database_url
    make_project(client, h, start_command=SLEEPER)
    procs.append(first := supervisor_process(app, tmp_path / "first.log", PORTAL_LEASE_SECONDS="2"))
    wait_for(lambda: _holder_pid(url) == first.pid, 60)
    while True:  # pause it between transactions, never inside one (that would hold the others up)
        os.kill(first.pid, signal.SIGSTOP)
        if _lease_row_free(url):
            break
        os.kill(first.pid, signal.SIGCONT)
        time.sleep(0.05)
    paused_at = time.monotonic()
    run_id = start(client, h)["id"]
    procs.append(second := supervisor_process(app, tmp_path / "second.log", PORTAL_LEASE_SECONDS="2"))
    wait_for(lambda: _holder_pid(url) == second.pid, 60)
    wait_for(lambda: status(app, run_id).status == "running", 60)
    wait_for(lambda: time.monotonic() - paused_at > 2 * 2, 10)
    stop = client.post(f"/v1/runs/{run_id}/stop", headers=h)  # a stop only the new holder may carry out
    assert stop.get_json()["status"] == "stopping"
    os.kill(first.pid, signal.SIGCONT)
    wait_for(lambda: "lost the lease" in (tmp_path / "first.log").read_text(), 60)
    done = wait_for(lambda: (r := status(app, run_id)).status == "cancelled" and r, 60)
    first_log = (tmp_path / "first.log").read_text()
    assert "launching" not in first_log and "killed the run" not in first_log
    with app.app_context():
        events = list(db.session.scalars(db.select(RunLog.message).filter_by(run_id=run_id)))
    assert sum(m.startswith("started") for m in events) == 1
    assert sum(m.startswith("sent SIGTERM") for m in events) == 1
    assert done.exit_code is not None and not running(done.handle["pid"])
    assert first.poll() is None and _holder_pid(url) == second.pid
