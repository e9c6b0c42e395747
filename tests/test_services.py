"""Smoke tests proving that each service started by `scripts/services up` really works."""
import os
import subprocess
import time
from pathlib import Path

from tests.support import require


def test_docker_exec_in_trainer_container():
    import docker

    name = require("docker")
    shared = Path(os.environ["PORTAL_TEST_DOCKER_SHARED"])
    client = docker.from_env()
    container = client.containers.get(name)
    assert container.status == "running"

    result = container.exec_run(["python3", "-c", "print(6*7)"])
    assert result.exit_code == 0, result.output
    assert result.output.decode().strip() == "42"

    # The shared directory is mounted at the same absolute path inside the container.
    marker = shared / f"smoke-{os.getpid()}.txt"
    try:
        result = container.exec_run(["sh", "-c", f"echo from-container > {marker}"])
        assert result.exit_code == 0, result.output
        assert marker.read_text().strip() == "from-container"
    finally:
        marker.unlink(missing_ok=True)


def _job_state(job_id: str) -> str:
    out = subprocess.run(
        ["scontrol", "show", "job", "-o", job_id], capture_output=True, text=True
    ).stdout
    for field in out.split():
        if field.startswith("JobState="):
            return field.split("=", 1)[1]
    # Forgotten by slurmctld: only possible once it has left the queue.
    queued = subprocess.run(["squeue", "-h", "-j", job_id], capture_output=True, text=True).stdout
    return "GONE" if not queued.strip() else "UNKNOWN"


def test_slurm_batch_job_runs(tmp_path):
    partition = require("slurm")
    result_file = tmp_path / "result.txt"
    submitted = subprocess.run(
        [
            "sbatch", "--parsable", f"--partition={partition}",
            f"--output={tmp_path / 'job-%j.log'}",
            "--wrap", f"echo hello-from-slurm > {result_file}",
        ],
        capture_output=True, text=True, check=True,
    )
    job_id = submitted.stdout.strip().split(";")[0]

    deadline = time.monotonic() + 60
    state = _job_state(job_id)
    while state in {"PENDING", "CONFIGURING", "RUNNING", "COMPLETING", "UNKNOWN"}:
        assert time.monotonic() < deadline, f"job {job_id} still {state} after 60 s"
        time.sleep(0.5)
        state = _job_state(job_id)
    assert state in {"COMPLETED", "GONE"}, f"job {job_id} ended {state}"
    assert result_file.read_text().strip() == "hello-from-slurm"


def test_postgres_select():
    import sqlalchemy

    url = require("postgres")
    engine = sqlalchemy.create_engine(url)
    try:
        with engine.connect() as conn:
            assert conn.execute(sqlalchemy.text("select 1")).scalar() == 1
            text = conn.execute(sqlalchemy.text("select :t"), {"t": "训练门户"}).scalar()
            assert text == "训练门户"
    finally:
        engine.dispose()


def test_browser_renders_chinese(tmp_path):
    from playwright.sync_api import sync_playwright

    chromium = require("browser")
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=chromium,
            args=[
                "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                "--disable-component-update", "--disable-sync", "--no-first-run",
            ],
        )
        try:
            page = browser.new_page()
            page.set_content('<html><body><h1 id="t">大模型训练门户</h1></body></html>')
            assert page.inner_text("#t") == "大模型训练门户"
            shot = tmp_path / "page.png"
            page.screenshot(path=str(shot))
            assert shot.stat().st_size > 1000
        finally:
            browser.close()
