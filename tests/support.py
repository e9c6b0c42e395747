"""Integration-service gates shared by the tests.

A test that needs a real service calls ``require("docker")`` (or slurm, postgres, browser).
Locally a missing service skips the test; when ``PORTAL_TEST_REQUIRE`` names the service
(``.ci/run`` sets it to every service) a missing service fails the test instead, so CI can
never go green by skipping.
"""
import os
import time

import pytest

#: environment variable that `scripts/services env` exports for each service
SERVICE_ENV = {
    "docker": "PORTAL_TEST_DOCKER_CONTAINER",
    "slurm": "PORTAL_TEST_SLURM_PARTITION",
    "postgres": "PORTAL_TEST_DATABASE_URL",
    "browser": "PORTAL_TEST_CHROMIUM",
}


def required_services() -> set[str]:
    raw = os.environ.get("PORTAL_TEST_REQUIRE", "")
    return {name.strip() for name in raw.split(",") if name.strip()}


def require(service: str) -> str:
    """Return the service's setting, or skip (fail when required) if it is absent."""
    value = os.environ.get(SERVICE_ENV[service], "")
    if value:
        return value
    message = f"{service} is not available: {SERVICE_ENV[service]} is unset (run `scripts/services up`)"
    if service in required_services():
        pytest.fail(message, pytrace=False)
    pytest.skip(message)


def wait_for(predicate, timeout: float = 30.0, interval: float = 0.1):
    """Poll `predicate` until it returns something truthy (returned), or fail after `timeout`."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s")


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def supervisor_process(app, log_path=None, **settings: str):
    """`flask --app wsgi supervisor` on `app`'s database and folders, in a session of its own.

    Tick 0.2 s and lease 1.5 s unless `settings` (PORTAL_* names) say otherwise; its log goes to
    `log_path` when given. Stop it with os.killpg (the `procs` fixture does).
    """
    import subprocess
    import sys

    from portal import ROOT

    config = app.config["PORTAL"]
    env = {**os.environ, "TRAINING_DB_URL": config.database_url, "PORTAL_DATA_DIR": str(config.data_dir),
           "PORTAL_TRAINING_DIR": str(config.training_dir), "PORTAL_SECRET_KEY": config.secret_key,
           "PORTAL_TICK_SECONDS": "0.2", "PORTAL_LEASE_SECONDS": "1.5", **settings}
    out = open(log_path, "wb") if log_path else subprocess.DEVNULL
    return subprocess.Popen([sys.executable, "-m", "flask", "--app", "wsgi", "supervisor"], cwd=ROOT, env=env,
                            stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
