"""The supervisor lease: one holder at a time, takeover after expiry, on SQLite and PostgreSQL."""
import os
import signal
import subprocess
import sys
import time

import pytest
from sqlalchemy import create_engine, text

from portal import ROOT
from portal.supervisor import lease
from tests.support import require, wait_for


def test_one_holder_at_a_time(app):
    with app.app_context():
        assert lease.try_acquire("a", ttl=10, now=100.0)
        assert not lease.try_acquire("b", ttl=10, now=105.0)
        assert lease.try_acquire("a", ttl=10, now=108.0)  # renewal extends to 118
        assert not lease.try_acquire("b", ttl=10, now=117.0)
        assert lease.current().holder == "a"


def test_expired_lease_is_taken_over(app):
    with app.app_context():
        assert lease.try_acquire("a", ttl=10, now=100.0)
        assert lease.try_acquire("b", ttl=10, now=111.0)
        assert lease.current().holder == "b"
        assert not lease.try_acquire("a", ttl=10, now=112.0)


def test_release_lets_a_successor_in_at_once(app):
    with app.app_context():
        assert lease.try_acquire("a", ttl=60)
        lease.release("a")
        assert lease.try_acquire("b", ttl=60)


def _supervisor(env):
    return subprocess.Popen([sys.executable, "-m", "flask", "--app", "wsgi", "supervisor"], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True)


def _holder(url: str) -> tuple[str, float] | None:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            row = conn.execute(text("SELECT holder, expires_at FROM leases")).first()
    finally:
        engine.dispose()
    return (row[0], row[1]) if row else None


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_killed_holder_is_replaced_within_the_lease_time(tmp_path, backend):
    """Two real supervisor processes; kill -9 the active one; the other takes over."""
    if backend == "postgres":
        from tests.conftest import reset_postgres
        url = require("postgres")
        reset_postgres(url)
    else:
        url = f"sqlite:///{tmp_path / 'portal.db'}"
    env = {**os.environ, "TRAINING_DB_URL": url, "PORTAL_DATA_DIR": str(tmp_path),
           "PORTAL_LEASE_SECONDS": "2", "PORTAL_TICK_SECONDS": "0.2", "PORTAL_SECRET_KEY": "x" * 32}
    subprocess.run([sys.executable, "-m", "flask", "--app", "wsgi", "db", "upgrade"], cwd=ROOT, env=env,
                   check=True, capture_output=True, timeout=120)
    first, second = _supervisor(env), _supervisor(env)
    try:
        held = wait_for(lambda: _holder(url), 30)
        pid = int(held[0].split(":")[1])
        victim, survivor = (first, second) if pid == first.pid else (second, first)
        assert pid == victim.pid
        os.killpg(victim.pid, signal.SIGKILL)
        killed_at = time.monotonic()
        wait_for(lambda: (h := _holder(url)) and h[0].split(":")[1] == str(survivor.pid), 15)
        # takeover happens once the dead holder's 2 s lease expires, plus at most a tick
        assert time.monotonic() - killed_at < 2 + 3
    finally:
        for proc in (first, second):
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
                proc.wait(10)
    # a clean stop (SIGTERM) releases the lease for the next one at once
    assert _holder(url)[1] == 0.0
