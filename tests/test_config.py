"""Settings: defaults, one-line errors naming the variable, the generated secret key."""
import os
import stat
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from portal import ROOT, create_app
from portal.config import ConfigError, load_settings


def test_defaults(tmp_path):
    settings = load_settings({"PORTAL_DATA_DIR": str(tmp_path)})
    assert settings.database_url == f"sqlite:///{tmp_path / 'portal.db'}"
    assert settings.training_dir == tmp_path / "training"
    assert settings.bind == "127.0.0.1:8000"
    assert settings.executor == "local" and settings.embedded_supervisor is True
    assert settings.docker_container == "qwen2.5-14b-instruct_xpytorch_full_sft"
    assert settings.workdir == "KTIP_Release_2.1.0/train/llm"
    assert settings.start_command == "bash run_train_full_sft.sh {config}"
    assert settings.fake_gpus is None


def test_fake_gpus_are_parsed(tmp_path):
    settings = load_settings({"PORTAL_DATA_DIR": str(tmp_path), "PORTAL_FAKE_GPUS": "2x80GiB",
                              "PORTAL_FAKE_GPU_READINGS": str(tmp_path / "readings.json")})
    assert (settings.fake_gpus.count, settings.fake_gpus.memory) == (2, 80 * 1024**3)
    assert settings.fake_gpus.readings == str(tmp_path / "readings.json")


@pytest.mark.parametrize("name, value", [
    ("PORTAL_BIND", "8000"),
    ("PORTAL_BIND", "host:99999"),
    ("PORTAL_WORKERS", "zero"),
    ("PORTAL_WORKERS", "0"),
    ("PORTAL_EMBEDDED_SUPERVISOR", "maybe"),
    ("PORTAL_EXECUTOR", "kubernetes"),
    ("PORTAL_FAKE_GPUS", "lots"),
    ("PORTAL_START_COMMAND", "bash 'unclosed"),
    ("PORTAL_SECRET_KEY", "short"),
    ("TRAINING_DB_URL", "not-a-url"),
    ("PORTAL_LOG_LEVEL", "LOUD"),
])
def test_invalid_setting_names_the_variable(tmp_path, name, value):
    with pytest.raises(ConfigError) as error:
        load_settings({"PORTAL_DATA_DIR": str(tmp_path), name: value})
    message = str(error.value)
    assert message.startswith(name) and "\n" not in message


def test_secret_key_is_generated_once_with_mode_0600(tmp_path):
    first = load_settings({"PORTAL_DATA_DIR": str(tmp_path)}).secret_key
    second = load_settings({"PORTAL_DATA_DIR": str(tmp_path)}).secret_key
    assert first == second and len(first) >= 32
    assert stat.S_IMODE((tmp_path / "secret_key").stat().st_mode) == 0o600


def test_invalid_setting_stops_the_cli_with_one_line(tmp_path):
    env = {**os.environ, "PORTAL_DATA_DIR": str(tmp_path), "PORTAL_WORKERS": "-3"}
    result = subprocess.run([sys.executable, "-m", "flask", "--app", "wsgi", "users", "list"], cwd=ROOT,
                            env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert result.stderr.strip() == "portal: invalid setting: PORTAL_WORKERS must be at least 1, got '-3'"


def test_create_app_starts_no_thread(app_config):
    before = threading.active_count()
    create_app(app_config)
    assert threading.active_count() == before


def test_env_example_documents_every_setting():
    documented = (ROOT / ".env.example").read_text()
    readme = (ROOT / "README.md").read_text()
    source = Path(ROOT / "portal" / "config.py").read_text()
    import re
    names = set(re.findall(r'"((?:PORTAL|TRAINING)_[A-Z_]+)"', source))
    assert len(names) >= 15
    for name in names:
        assert name in documented, f"{name} missing from .env.example"
        assert name in readme, f"{name} missing from README.md"
