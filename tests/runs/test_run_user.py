"""What a run executes cannot read the portal's secrets: it runs as PORTAL_RUN_USER (as root in CI)."""
import os
import stat
import tempfile
from pathlib import Path

import pytest

from portal import create_app
from portal.auth import services as auth_services
from portal.config import ConfigError, load_settings
from portal.extensions import db
from portal.supervisor import Supervisor
from tests.runs.conftest import run_ticker
from tests.support import make_project, start

PROBE = ("cat {data}/secret_key; cat {data}/portal.db; touch {data}/planted; "
         "mkdir -p $0/checkpoint-1 && echo weights > $0/checkpoint-1/model.safetensors && echo done")


@pytest.fixture
def root_only():
    if os.geteuid() != 0:
        pytest.skip("switching to a run user needs root (CI runs as root)")


@pytest.fixture
def guarded(app_config, root_only):
    """A portal whose data dir (database, secret key, training dir inside) lives where `nobody` may pass."""
    data = Path(tempfile.mkdtemp(prefix="portal-run-user-", dir="/tmp"))
    config = {**app_config, "PORTAL_DATA_DIR": str(data), "PORTAL_TRAINING_DIR": str(data / "training"),
              "PORTAL_SECRET_KEY": "", "PORTAL_RUN_USER": "nobody"}
    if app_config["TRAINING_DB_URL"].startswith("sqlite"):
        config["TRAINING_DB_URL"] = f"sqlite:///{data / 'portal.db'}"
    create_app(config)  # generates the secret key file
    app = create_app(config)  # a second start finds it, and the database, and sets their modes
    with app.app_context():
        db.create_all()
        operator = auth_services.create_user("op", "correct-horse-9", "operator")
        header = {"Authorization": "Bearer " + auth_services.create_token(operator)[1]}
    yield app, data, header
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


def test_a_run_cannot_read_the_secret_key_or_the_database_nor_write_the_data_dir(guarded):
    app, data, header = guarded
    root = app.config["PORTAL"].training_dir
    (root / "datasets").mkdir(parents=True, exist_ok=True)
    (root / "configs").mkdir(parents=True, exist_ok=True)
    (root / "datasets" / "sample.jsonl").write_text('{"instruction": "hi", "output": "hello"}\n')
    (root / "configs" / "train.yaml").write_text("num_train_epochs: 1\n")
    assert stat.S_IMODE(data.stat().st_mode) == 0o711
    assert stat.S_IMODE((data / "secret_key").stat().st_mode) == 0o600
    client = app.test_client()
    command = f"sh -c '{PROBE.format(data=data)}' {{output_dir}}"
    make_project(client, header, start_command=command)
    run = start(client, header)
    supervisor = Supervisor(app)
    try:
        done = run_ticker(supervisor, client, header).until(run["id"], "succeeded", "failed", "lost")
    finally:
        supervisor.close()
    output = client.get(f"/v1/runs/{run['id']}/output", headers=header).get_json()["data"]
    assert done["status"] == "succeeded", output
    assert f"{data}/secret_key: Permission denied" in output
    assert app.config["SECRET_KEY"] not in output
    if app.config["PORTAL"].database_url.startswith("sqlite"):
        assert f"{data}/portal.db: Permission denied" in output
    assert f"cannot touch '{data}/planted': Permission denied" in output
    assert not (data / "planted").exists()
    assert output.strip().endswith("done")  # its own output dir works
    checkpoint = Path(done["output_dir"]) / "checkpoint-1" / "model.safetensors"
    assert checkpoint.read_text() == "weights\n" and checkpoint.stat().st_uid != 0


def test_a_run_user_that_needs_root_stops_the_start_with_one_line(monkeypatch):
    monkeypatch.setattr(os, "geteuid", lambda: 12345)
    with pytest.raises(ConfigError, match="PORTAL_RUN_USER=nobody needs the portal to run as root"):
        load_settings({"PORTAL_RUN_USER": "nobody", "PORTAL_DATA_DIR": tempfile.mkdtemp()})


def test_an_unknown_run_user_is_named(tmp_path):
    with pytest.raises(ConfigError, match="names no user"):
        load_settings({"PORTAL_RUN_USER": "no-such-user-xyz", "PORTAL_DATA_DIR": str(tmp_path)})


def test_a_training_dir_the_run_user_cannot_reach_stops_the_start(root_only, app_config):
    hidden = Path(tempfile.mkdtemp(prefix="portal-hidden-", dir="/tmp"))
    hidden.chmod(0o700)
    with pytest.raises(ConfigError, match=f"the run user nobody cannot reach the training dir .*{hidden} is mode 700"):
        create_app({**app_config, "PORTAL_DATA_DIR": str(hidden / "data"), "PORTAL_TRAINING_DIR": "",
                    "PORTAL_RUN_USER": "nobody"})
