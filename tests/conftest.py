"""Fixtures in the flaskr style: `app`, `client`, `runner`, `auth`, and seeded `users`.

The database is a fresh SQLite file per test, or the PostgreSQL server from
`scripts/services` when PORTAL_TEST_DB=postgres (`.ci/run` runs the suite both ways).
"""
import os
import re
import signal

import pytest
from sqlalchemy import text

from portal import create_app
from portal.auth import services as auth_services
from portal.deid import native
from portal.extensions import db
from tests.support import require

PASSWORD = "correct-horse-9"
CSRF_META = re.compile(r'<meta name="csrf-token" content="([^"]+)"')


def database_url(tmp_path) -> str:
    if os.environ.get("PORTAL_TEST_DB") == "postgres":
        return require("postgres")
    return f"sqlite:///{tmp_path / 'portal.db'}"


def reset_postgres(url: str) -> None:
    """Start each PostgreSQL test from an empty schema (tables of other tests included)."""
    from sqlalchemy import create_engine

    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text("DROP SCHEMA public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    engine.dispose()


@pytest.fixture
def app_config(tmp_path):
    url = database_url(tmp_path)
    if url.startswith("postgresql"):
        reset_postgres(url)
    return {
        "TESTING": True,
        "PORTAL_DATA_DIR": str(tmp_path / "data"),
        "PORTAL_TRAINING_DIR": str(tmp_path / "training"),
        "TRAINING_DB_URL": url,
        "PORTAL_SECRET_KEY": "test-secret-key-0123456789",
        "PORTAL_FAKE_GPUS": "",
        "PORTAL_LOGIN_MAX_FAILURES": "3",
    }


@pytest.fixture
def app(app_config):
    app = create_app(app_config)
    with app.app_context():
        db.create_all()
    yield app
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


@pytest.fixture
def users(app):
    """One user of each role, all with PASSWORD."""
    with app.app_context():
        return {role: auth_services.create_user(role, PASSWORD, role).id
                for role in ("admin", "operator", "viewer")}


class AuthActions:
    def __init__(self, client):
        self.client = client

    def csrf(self, path: str = "/login") -> str:
        page = self.client.get(path).get_data(as_text=True)
        match = CSRF_META.search(page)
        assert match, f"no CSRF token on {path}"
        return match.group(1)

    def login(self, username: str = "admin", password: str = PASSWORD, **extra):
        token = self.csrf("/login")
        return self.client.post("/login", data={"username": username, "password": password,
                                                "csrf_token": token, **extra})

    def logout(self):
        token = self.csrf("/ui/tokens")
        return self.client.post("/logout", data={"csrf_token": token})

    def post(self, path: str, data: dict | None = None, **kwargs):
        """A form post from a signed-in page, with the session's CSRF token."""
        return self.client.post(path, data={"csrf_token": self.csrf("/ui/tokens"), **(data or {})}, **kwargs)


@pytest.fixture
def auth(client):
    return AuthActions(client)


@pytest.fixture
def token(app, users):
    """A bearer header for each role."""
    from portal.auth.models import User

    with app.app_context():
        return {role: {"Authorization": "Bearer " + auth_services.create_token(db.session.get(User, uid))[1]}
                for role, uid in users.items()}


@pytest.fixture
def training(app):
    """The training dir with a dataset and a config, as a project names them by default."""
    root = app.config["PORTAL"].training_dir
    (root / "datasets").mkdir(parents=True, exist_ok=True)
    (root / "configs").mkdir(parents=True, exist_ok=True)
    (root / "datasets" / "sample.jsonl").write_text('{"instruction": "hi", "output": "hello"}\n')
    (root / "configs" / "train.yaml").write_text("num_train_epochs: 1\n")
    return root


@pytest.fixture
def supervisor(app):
    """An in-process supervisor of `app` to tick by hand."""
    from portal.supervisor import Supervisor

    sup = Supervisor(app)
    yield sup
    sup.close()


@pytest.fixture
def procs():
    """Processes a test started (supervisors): killed with their session afterwards, paused or not."""
    started = []
    yield started
    for proc in started:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGCONT)
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def pytest_collection_modifyitems(config, items):
    """On the PostgreSQL pass, run only the tests that use the database; and every
    de-identification test when that pass runs the pure-Python engine (`.ci/run`: the first
    pass ran them on the compiled one)."""
    if os.environ.get("PORTAL_TEST_DB") != "postgres":
        return
    deid = os.path.join(os.path.dirname(__file__), "deid") if native.pure_asked() else None
    keep = [item for item in items if "app_config" in getattr(item, "fixturenames", ())
            or deid is not None and str(item.path).startswith(deid)]
    config.hook.pytest_deselected(items=[item for item in items if item not in keep])
    items[:] = keep
