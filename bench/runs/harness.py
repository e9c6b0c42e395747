"""What the run benchmarks share: a throwaway portal, runs made through the API, a real supervisor.

A `Portal` is a temp data dir and training dir, a fresh database (an SQLite file, or its own
schema on the PostgreSQL server of `scripts/services`), an admin with an API token, and the
app's test client. `Portal.supervisor()` starts `flask --app wsgi supervisor` as its own
process with the same settings, so its CPU and memory can be measured apart from the client.
"""
import contextlib
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))  # run as a plain script from the repository root

from sqlalchemy import create_engine, select, text  # noqa: E402

from portal import create_app  # noqa: E402
from portal.auth import services as auth_services  # noqa: E402
from portal.extensions import db  # noqa: E402
from portal.runs.models import ACTIVE, Run  # noqa: E402
from portal.supervisor import executors  # noqa: E402

PASSWORD = "bench-password-0123"


def quantile(values: list[float], q: float) -> float:
    """The q-quantile (0..1) by linear interpolation, as numpy's default."""
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    pos = (len(ordered) - 1) * q
    low = int(pos)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (pos - low)


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def postgres_url() -> str | None:
    """The PostgreSQL server of `scripts/services`, when `eval "$(scripts/services env)"` exported it."""
    return os.environ.get("PORTAL_TEST_DATABASE_URL") or None


def databases(spec: str):
    """The databases named in `spec` ("sqlite,postgres") that this machine has; a missing one is said."""
    for database in [d.strip() for d in spec.split(",") if d.strip()]:
        if database == "postgres" and not postgres_url():
            print("\npostgres: skipped, PORTAL_TEST_DATABASE_URL is unset (eval \"$(scripts/services env)\")")
            continue
        yield database


def wait_for(predicate, timeout: float, every: float = 0.1, what: str = "a condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(every)
    raise TimeoutError(f"timed out after {timeout:.0f}s waiting for {what}")


class Portal:
    """A throwaway portal; use as a context manager so runs, files and schema are cleaned up."""

    def __init__(self, database: str = "sqlite", **settings: str):
        self.tmp = Path(tempfile.mkdtemp(prefix="portal-bench-"))
        self.schema = None
        if database == "postgres":
            # our own schema, so neither the test suite's DROP SCHEMA public nor we harm the other
            self.base_url = postgres_url()
            self.schema = f"bench_{uuid.uuid4().hex[:10]}"
            with create_engine(self.base_url).begin() as conn:
                conn.execute(text(f"CREATE SCHEMA {self.schema}"))
            url = f"{self.base_url}?options=-csearch_path%3D{self.schema}"
        else:
            url = f"sqlite:///{self.tmp / 'portal.db'}"
        self.database = database
        self.settings = {"PORTAL_DATA_DIR": str(self.tmp / "data"), "PORTAL_TRAINING_DIR": str(self.tmp / "training"),
                         "TRAINING_DB_URL": url, "PORTAL_SECRET_KEY": "bench-secret-key-0123456789",
                         "PORTAL_FAKE_GPUS": "", **settings}
        self.app = create_app({**self.settings, "PORTAL_LOG_LEVEL": "WARNING"})
        self.client = self.app.test_client()
        self.training = self.app.config["PORTAL"].training_dir
        (self.training / "datasets").mkdir(parents=True, exist_ok=True)
        (self.training / "configs").mkdir(parents=True, exist_ok=True)
        (self.training / "datasets" / "sample.jsonl").write_text('{"instruction": "hi", "output": "hello"}\n')
        (self.training / "configs" / "train.yaml").write_text("num_train_epochs: 1\n")
        with self.app.app_context():
            db.create_all()
            admin = auth_services.create_user("admin", PASSWORD, "admin")
            self.headers = {"Authorization": "Bearer " + auth_services.create_token(admin, "bench")[1]}
        self._supervisors: list[subprocess.Popen] = []

    def __enter__(self) -> "Portal":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def api(self, method: str, path: str, **kwargs):
        response = self.client.open(path, method=method, headers=self.headers, **kwargs)
        if response.status_code != 200:
            raise RuntimeError(f"{method} {path}: {response.status_code} {response.get_data(as_text=True)[:300]}")
        return response.get_json()

    def project(self, name: str, **fields) -> dict:
        body = {"name": name, "dataset_name": "datasets/sample.jsonl", "training_yaml_name": "configs/train.yaml",
                "executor": "local", "workdir": ".", **fields}
        return self.api("POST", "/projects", json=body)

    def start(self, project: str) -> dict:
        return self.api("POST", f"/projects/{project}/runs")

    def runs(self) -> list[Run]:
        """Every run, read fresh from the database."""
        with self.app.app_context():
            found = list(db.session.scalars(select(Run).order_by(Run.id)))
            db.session.expunge_all()
            db.session.remove()
            return found

    def run_folder(self, run: Run) -> Path:
        return self.app.config["PORTAL"].data_dir / "runs" / run.folder

    @contextlib.contextmanager
    def supervisor(self, **extra: str):
        """`flask --app wsgi supervisor` in its own session; its log goes to the temp dir."""
        env = {**os.environ, **self.settings, **extra}
        log = open(self.tmp / f"supervisor-{len(self._supervisors)}.log", "wb")
        proc = subprocess.Popen([sys.executable, "-m", "flask", "--app", "wsgi", "supervisor"], cwd=ROOT, env=env,
                                stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                start_new_session=True)
        self._supervisors.append(proc)
        try:
            yield proc
        finally:
            self._end_supervisor(proc)
            log.close()

    def supervisor_log(self, index: int = -1) -> str:
        logs = sorted(self.tmp.glob("supervisor-*.log"))
        return logs[index].read_text(errors="replace") if logs else ""

    def wait_active(self, proc: subprocess.Popen, timeout: float = 30.0) -> None:
        """Until the supervisor holds the lease (it logs so on its first tick)."""
        def active():
            if proc.poll() is not None:
                raise RuntimeError(f"the supervisor exited with {proc.returncode}:\n{self.supervisor_log()[-2000:]}")
            return "is now active" in self.supervisor_log()
        wait_for(active, timeout, what="the supervisor to take the lease")

    @staticmethod
    def _end_supervisor(proc: subprocess.Popen) -> None:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)  # its own session: only it, never the runs
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()

    def _kill_active_runs(self) -> None:
        """Runs the benchmark left going (interrupted): SIGKILL each one's process group, by its handle."""
        with self.app.app_context():
            for run in db.session.scalars(select(Run).where(Run.status.in_(ACTIVE), Run.handle.is_not(None))):
                try:
                    executors.get(run.executor).signal(run.handle, "SIGKILL")
                except Exception as error:  # cleanup goes on for the other runs
                    print(f"  (could not stop run {run.id}: {error})", file=sys.stderr)
            db.session.remove()

    def close(self) -> None:
        for proc in self._supervisors:
            self._end_supervisor(proc)
        self._kill_active_runs()
        with self.app.app_context():
            db.session.remove()
            db.engine.dispose()
        if self.schema:
            with create_engine(self.base_url).begin() as conn:
                conn.execute(text(f"DROP SCHEMA {self.schema} CASCADE"))
        shutil.rmtree(self.tmp, ignore_errors=True)
