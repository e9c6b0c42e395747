"""A run's outputs are where LLaMA-Factory writes them: the config's output_dir, unless the command passes one."""
import sys
from pathlib import Path

import pytest

from portal.supervisor.executors.docker import DockerExecutor
from tests.support import make_project, start

PY = sys.executable
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "llamafactory"
# stands in for `llamafactory-cli train <yaml> [key=value…]`: output_dir from the YAML unless an
# argument overrides it (hparams/parser.py), the console and trainer_log.jsonl of a real run replayed
FAKE_CLI = f"""import os, sys, time
config, overrides = sys.argv[1], dict(arg.split("=", 1) for arg in sys.argv[2:])
out = overrides.get("output_dir") or next(line.split(":", 1)[1].strip() for line in open(config)
                                          if line.startswith("output_dir:"))
os.makedirs(out, exist_ok=True)
log = iter(open({str(FIXTURES / "trainer_log.jsonl")!r}).read().splitlines(True))
for line in open({str(FIXTURES / "llamaboard_output.log")!r}, newline="").read().splitlines(True):
    sys.stdout.write(line)
    sys.stdout.flush()
    if "llamafactory.train.callbacks" in line:
        with open(os.path.join(out, "trainer_log.jsonl"), "a") as f:
            f.write(next(log))
        time.sleep(0.3)
os.makedirs(os.path.join(out, "checkpoint-20"), exist_ok=True)
open(os.path.join(out, "checkpoint-20", "adapter_model.safetensors"), "wb").write(b"x" * 10)
"""


@pytest.fixture
def cli(training):
    (training / "fake_cli.py").write_text(FAKE_CLI)
    return f"{PY} fake_cli.py {{config}}"


def config(training, text: str) -> None:
    (training / "configs" / "train.yaml").write_text(text)


def test_outputs_are_read_from_the_configs_output_dir(client, auth, users, token, training, ticker, cli):
    h = token["operator"]
    config(training, "stage: dpo\noutput_dir: saves/qwen/dpo\nlogging_steps: 10\n")
    make_project(client, h, start_command=cli)
    run = start(client, h)
    assert (run["output_dir"], run["output_source"]) == (str(training / "saves" / "qwen" / "dpo"), "config")
    done = ticker.until(run["id"], "succeeded")
    assert done["metrics"]["loss"] == 0.5123456789012345  # trainer_log.jsonl's value, all digits
    assert {"num_input_tokens_seen", "rewards/accuracies", "vram_allocated", "grad_norm"} <= set(done["metrics"])
    assert not {"total_tokens", "accuracy"} & set(done["metrics"])
    series = client.get(f"/v1/runs/{run['id']}/metrics?keys=loss,epoch", headers=h).get_json()["series"]
    assert series["loss"]["steps"] == [10, 20] and series["epoch"]["steps"] == [10, 20]
    artifacts = client.get(f"/v1/runs/{run['id']}/artifacts", headers=h).get_json()
    assert [a["path"] for a in artifacts] == ["checkpoint-20"]
    auth.login("viewer")
    page = client.get(f"/ui/runs/{run['id']}").get_data(as_text=True)
    assert f"<code>{training / 'saves' / 'qwen' / 'dpo'}</code>" in page
    assert "output_dir of the training config" in page


def test_a_command_passing_output_dir_overrides_the_config(client, token, training, ticker, cli):
    h = token["operator"]
    config(training, "output_dir: saves/ignored\n")
    make_project(client, h, start_command=cli + " output_dir={output_dir}")
    run = start(client, h)
    assert run["output_source"] == "command" and run["output_dir"] == run["argv"][-1].split("=", 1)[1]
    done = ticker.until(run["id"], "succeeded")
    assert done["step"] == 20 and not (training / "saves" / "ignored").exists()
    assert Path(run["output_dir"], "trainer_log.jsonl").exists()


def test_without_an_output_dir_anywhere_the_portal_folder_is_said_to_be_a_guess(client, token, training):
    config(training, "stage: sft\n")
    make_project(client, token["operator"], start_command=f"{PY} -c pass")
    assert start(client, token["operator"])["output_source"] == "portal"


def test_a_second_active_run_on_the_same_output_dir_is_refused(client, token, training):
    h = token["operator"]
    config(training, "output_dir: saves/shared\n")
    make_project(client, h, start_command=f"{PY} -c pass")
    make_project(client, h, name="p2", start_command=f"{PY} -c pass")
    first = start(client, h)
    refused = client.post("/projects/p2/runs", headers=h)
    assert refused.status_code == 409
    assert refused.get_json()["detail"].startswith(f"run p1 #1 (queued) already writes to {first['output_dir']}")
    assert "overwrite_output_dir: true" in refused.get_json()["detail"]
    assert client.get("/projects/p2/runs", headers=h).get_json() == []  # nothing half-made
    client.post(f"/v1/runs/{first['id']}/stop", headers=h)  # cancelled while queued: no longer writes there
    assert start(client, h, name="p2")["output_dir"] == first["output_dir"]


def test_overwrite_output_dir_lets_runs_share_it(client, token, training):
    h = token["operator"]
    config(training, "output_dir: saves/shared\noverwrite_output_dir: true\n")
    make_project(client, h, start_command=f"{PY} -c pass")
    assert start(client, h)["output_dir"] == start(client, h)["output_dir"]


def test_an_output_dir_outside_the_training_dir_is_refused(client, auth, users, token, training):
    config(training, "output_dir: ../../elsewhere\n")
    make_project(client, token["operator"], start_command=f"{PY} -c pass")
    response = client.post("/projects/p1/runs", headers=token["operator"])
    assert response.status_code == 400 and "outside the training directory" in response.get_json()["detail"]
    auth.login("operator")
    page = client.get("/ui/projects/p1").get_data(as_text=True)  # said before anyone clicks Run
    assert 'id="run-missing"' in page and "outside the training directory" in page


def test_in_a_container_the_output_dir_is_taken_from_the_workdir_as_the_run_sees_it(tmp_path):
    executor = DockerExecutor("/portal-runs", None, tmp_path)
    assert executor.output_dir_of("KTIP_Release_2.1.0/train/llm", "saves/qwen/sft") == \
        "KTIP_Release_2.1.0/train/llm/saves/qwen/sft"
    assert executor.output_dir_of("/workspace", "./out/../saves") == "/workspace/saves"
    assert executor.output_dir_of("/workspace", "/data/saves/x") == "/data/saves/x"


def test_the_project_form_offers_the_llamafactory_override_preset(client, auth, users):
    auth.login("operator")
    page = client.get("/ui/projects/new").get_data(as_text=True)
    assert '<option value="llamafactory-cli train {config} output_dir={output_dir}"' in page
    assert 'list="command-presets"' in page
