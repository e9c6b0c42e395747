"""Checkpoint clean-up inside a training container (no host mount): the executor's delete door there."""
import uuid

import docker
import pytest

from tests.support import make_project, start

TREE = ("import os, sys\n"
        "out, outside = sys.argv[1], sys.argv[2]\n"
        "os.makedirs(outside, exist_ok=True)\n"
        "open(outside + '/precious.pt', 'wb').write(b'p' * 64)\n"
        "for step in (1, 2, 3):\n"
        "    ck = out + '/checkpoint-' + str(step)\n"
        "    os.makedirs(ck + '/global_step' + str(step), exist_ok=True)\n"
        "    open(ck + '/model.safetensors', 'wb').write(b'm' * 100)\n"
        "    open(ck + '/optimizer.pt', 'wb').write(b'o' * 30)\n"
        "    open(ck + '/global_step' + str(step) + '/states.pt', 'wb').write(b'g' * 50)\n"
        "os.symlink(outside, out + '/checkpoint-1/link-out')\n"
        "os.symlink(outside, out + '/checkpoint-9')\n")


@pytest.fixture
def app_config(app_config, container):
    return {**app_config, "PORTAL_DOCKER_CONTAINER": container}


def sh(container: str, script: str) -> str:
    return docker.from_env().containers.get(container).exec_run(["sh", "-c", script]).output.decode()


def test_clean_up_in_a_container_deletes_only_inside_the_output_dir(client, token, training, ticker, container):
    h = token["operator"]
    outside = f"/tmp/portal-outside-{uuid.uuid4().hex[:8]}"
    code = "'" + TREE.replace("'", "'\"'\"'") + "'"
    make_project(client, h, executor="docker", workdir="/tmp", start_command=f"python3 -c {code} {{output_dir}} {outside}",
                 cleanup={"metric": "eval_loss", "keep_best": 0, "keep_latest": 1, "action": "delete"})
    run = start(client, h)
    ticker.until(run["id"], "succeeded", timeout=60)
    out = run["output_dir"]
    sizes = {a["path"]: a["size"] for a in client.get(f"/v1/runs/{run['id']}/artifacts", headers=h).get_json()}
    assert sizes == {"checkpoint-1": 180, "checkpoint-2": 180, "checkpoint-3": 180}  # read in the container
    applied = client.post("/v1/projects/p1/cleanup", headers=h).get_json()
    assert applied["frees"] == 360
    assert sh(container, f"ls {out}").split() == ["checkpoint-3", "checkpoint-9"]
    assert sh(container, f"ls {outside}; wc -c < {outside}/precious.pt").split() == ["precious.pt", "64"]
    sh(container, f"rm -rf {outside}")
