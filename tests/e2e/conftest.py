"""End-to-end fixtures: the real server (flask db upgrade + gunicorn) and headless Chromium.

Gated on the ``browser`` service (PORTAL_TEST_CHROMIUM, see tests/support.py): without it
the tests skip locally and fail in CI. The gate is checked before the server starts.
"""
import os
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.support import require

ROOT = Path(__file__).resolve().parents[2]
VENV_BIN = ROOT / ".venv" / "bin"
SCREENSHOTS = ROOT / "var" / "screenshots"
STARTUP_SECONDS = 30
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]


@dataclass
class PortalServer:
    base_url: str  # what the browser uses: http://localhost:PORT
    direct_url: str  # what urllib uses: http://127.0.0.1:PORT (the bound address)
    log_path: Path

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return "(no server log)"


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _server_env(tmp: Path, port: int) -> dict[str, str]:
    env = dict(os.environ)
    env.pop("TRAINING_DB_URL", None)  # the SQLite default in the data dir
    env.pop("PORTAL_SECRET_KEY", None)  # generated once into the data dir
    env.update({
        "PORTAL_DATA_DIR": str(tmp / "data"),
        "PORTAL_TRAINING_DIR": str(tmp / "training"),
        "PORTAL_BIND": f"127.0.0.1:{port}",
        "PORTAL_WORKERS": "1",
        "PORTAL_FAKE_GPUS": "2x80GiB",
        "PORTAL_TICK_SECONDS": "0.5",
        "PORTAL_EMBEDDED_SUPERVISOR": "on",
        "FLASK_APP": "wsgi",
        "PYTHONUNBUFFERED": "1",
    })
    return env


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is not None:
        return
    for sig, wait in ((signal.SIGTERM, 25), (signal.SIGKILL, 5)):
        try:
            os.killpg(proc.pid, sig)  # gunicorn master and its workers share the session
        except ProcessLookupError:
            return
        try:
            proc.wait(timeout=wait)
            return
        except subprocess.TimeoutExpired:
            continue


@pytest.fixture(scope="module", autouse=True)
def chromium() -> str:
    """Path of the Chromium binary; skips (or fails in CI) before anything starts."""
    return require("browser")


def _flask(env: dict[str, str], *args: str, stdin: str | None = None) -> None:
    """Run `flask --app wsgi ARGS` with the server's environment; fail the test if it fails."""
    done = subprocess.run([str(VENV_BIN / "flask"), "--app", "wsgi", *args], cwd=ROOT, env=env, input=stdin,
                          capture_output=True, text=True, timeout=60)
    if done.returncode != 0:
        pytest.fail(f"flask {' '.join(args)} exited {done.returncode}:\n{done.stdout}{done.stderr}", pytrace=False)


@contextmanager
def _running_portal(tmp: Path, env: dict[str, str], port: int):
    """gunicorn (with the embedded supervisor) until the block ends; yields once /healthz answers."""
    log_path = tmp / "server.log"
    server = PortalServer(f"http://localhost:{port}", f"http://127.0.0.1:{port}", log_path)
    with open(log_path, "wb") as log:
        proc = subprocess.Popen([str(VENV_BIN / "gunicorn"), "-c", "gunicorn.conf.py"], cwd=ROOT, env=env,
                                stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                start_new_session=True)
    try:
        deadline = time.monotonic() + STARTUP_SECONDS
        while True:
            if proc.poll() is not None:
                pytest.fail(f"gunicorn exited {proc.returncode} before answering /healthz:\n{server.log()}",
                            pytrace=False)
            try:
                with urllib.request.urlopen(server.direct_url + "/healthz", timeout=2) as response:
                    if response.status == 200:
                        break
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"/healthz did not answer within {STARTUP_SECONDS} s:\n{server.log()}",
                            pytrace=False)
            time.sleep(0.2)
        yield server
    finally:
        _stop(proc)


@pytest.fixture(scope="module")
def portal_server(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("portal-e2e")
    port = _free_port()
    env = _server_env(tmp, port)
    _flask(env, "db", "upgrade")
    with _running_portal(tmp, env, port) as server:
        yield server


DEMO_ADMIN = ("admin", "correct-horse-9")
DEMO_STEPS = 15


def sign_in(page, user: tuple[str, str] = DEMO_ADMIN) -> None:
    """Sign `page` in through the sign-in form as (username, password)."""
    page.get_by_label("Username").fill(user[0])
    page.get_by_label("Password").fill(user[1])
    page.get_by_role("button", name="Sign in").click()


def choose_files(page, files) -> None:
    """Give a dataset page's file input *files*, once static/js/upload.js listens to it: the
    script is deferred, so the page's heading can be there before it runs."""
    page.wait_for_load_state("load")
    page.set_input_files("#file-input", files)


@pytest.fixture(scope="module")
def demo_server(tmp_path_factory):
    """A portal with the `demo` project (DEMO_STEPS steps) and an administrator, DEMO_ADMIN."""
    tmp = tmp_path_factory.mktemp("portal-demo")
    port = _free_port()
    env = _server_env(tmp, port) | {"PORTAL_FAKE_GPUS": "1x24GiB"}
    _flask(env, "db", "upgrade")
    _flask(env, "demo", "--steps", str(DEMO_STEPS))
    _flask(env, "users", "create", DEMO_ADMIN[0], "--role", "admin", "--password-stdin",
           stdin=DEMO_ADMIN[1] + "\n")
    with _running_portal(tmp, env, port) as server:
        yield server


@pytest.fixture(scope="module")
def browser(chromium):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, headless=True, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture(scope="module")
def screenshots() -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    return SCREENSHOTS


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """Attach the server's log (gunicorn, supervisor, access log) to a failing e2e test."""
    outcome = yield
    report = outcome.get_result()
    if not report.failed:
        return
    for value in getattr(item, "funcargs", {}).values():
        if isinstance(value, PortalServer):
            report.sections.append(("portal server log", value.log()))
