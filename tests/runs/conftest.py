"""Fixtures for runs: a training dir with a dataset and config, and a supervisor to tick."""
import time

import pytest

from portal.supervisor import Supervisor


@pytest.fixture
def training(app):
    root = app.config["PORTAL"].training_dir
    (root / "datasets").mkdir(parents=True, exist_ok=True)
    (root / "configs").mkdir(parents=True, exist_ok=True)
    (root / "datasets" / "sample.jsonl").write_text('{"instruction": "hi", "output": "hello"}\n')
    (root / "configs" / "train.yaml").write_text("num_train_epochs: 1\n")
    return root


@pytest.fixture
def supervisor(app):
    sup = Supervisor(app)
    yield sup
    sup.close()


class Ticker:
    """Ticks the supervisor until the run's status is one of `wanted` (bounded)."""

    def __init__(self, sup, client, headers):
        self.sup, self.client, self.headers = sup, client, headers

    def run(self, run_id: int) -> dict:
        return self.client.get(f"/v1/runs/{run_id}", headers=self.headers).get_json()

    def until(self, run_id: int, *wanted: str, timeout: float = 30.0) -> dict:
        deadline = time.monotonic() + timeout
        while True:
            self.sup.tick()
            run = self.run(run_id)
            if run["status"] in wanted:
                return run
            if time.monotonic() > deadline:
                raise AssertionError(f"run {run_id} is {run['status']}, not {wanted} after {timeout}s")
            time.sleep(0.1)


@pytest.fixture
def ticker(supervisor, client, token):
    return Ticker(supervisor, client, token["operator"])


def make_project(client, headers, name="p1", **fields):
    body = {"name": name, "dataset_name": "datasets/sample.jsonl", "training_yaml_name": "configs/train.yaml",
            "executor": "local", "workdir": ".", **fields}
    response = client.post("/projects", json=body, headers=headers)
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def start(client, headers, name="p1", **body):
    response = client.post(f"/projects/{name}/runs", json=body or None, headers=headers)
    assert response.status_code == 200, response.get_json()
    return response.get_json()
