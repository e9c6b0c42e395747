"""jieba is loaded when a worker starts, not by the first call that asks for names (issue 15.28)."""
import os
import subprocess
import sys
import urllib.request

import pytest

from portal import ROOT
from tests.support import free_port, wait_for

WARMED = """
import sys
from portal import create_app
app = create_app({"TESTING": True})
with app.app_context():
    from portal.extensions import db
    db.create_all()
    from portal.deid import services
    assert "jieba" not in sys.modules
    print(services.warm_up())
    import jieba
    print(jieba.dt.initialized)
"""


def test_warm_up_loads_jieba_for_the_policies_that_find_names(tmp_path):
    env = {**os.environ, "PORTAL_DATA_DIR": str(tmp_path / "data")}
    env.pop("TRAINING_DB_URL", None)
    done = subprocess.run([sys.executable, "-c", WARMED], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["['strict']", "True"]


@pytest.mark.slow
def test_a_gunicorn_worker_warms_up_at_start(tmp_path):
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PORTAL_", "TRAINING_"))}
    env.update(PORTAL_DATA_DIR=str(tmp_path / "data"), PORTAL_BIND=f"127.0.0.1:{port}", PORTAL_WORKERS="1",
               PORTAL_EMBEDDED_SUPERVISOR="off", FLASK_APP="wsgi")
    bin_dir = os.path.dirname(sys.executable)
    subprocess.run([os.path.join(bin_dir, "flask"), "db", "upgrade"], cwd=ROOT, env=env, check=True,
                   capture_output=True, timeout=120)
    log = tmp_path / "gunicorn.log"
    with open(log, "wb") as out:
        server = subprocess.Popen([os.path.join(bin_dir, "gunicorn"), "-c", "gunicorn.conf.py"], cwd=ROOT, env=env,
                                  stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        wait_for(lambda: "jieba loaded" in log.read_text(errors="replace") or server.poll() is not None,
                 timeout=120)
        assert "deid: jieba loaded in" in log.read_text() and "for policies strict" in log.read_text()
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=10) as answer:
            assert answer.status == 200
    finally:
        server.terminate()
        server.wait(30)
