"""The demo training script, run for real, read back through the log parsers."""
import json
import os
import signal
import struct
import subprocess
import sys
import time

import pytest

from portal import ROOT
from portal.supervisor.logparse import Metrics, OutputParser, Progress, TrainerLogParser

EXAMPLES = ROOT / "examples"
pytestmark = pytest.mark.slow


def demo(output_dir, *extra: str, **popen) -> subprocess.Popen:
    argv = [sys.executable, str(EXAMPLES / "demo_train.py"), "--config", str(EXAMPLES / "configs" / "demo.yaml"),
            "--dataset", str(EXAMPLES / "datasets" / "demo.jsonl"), "--output-dir", str(output_dir), *extra]
    return subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            env={**os.environ, "PYTHONUNBUFFERED": "1"}, **popen)


def parse(parser, data: bytes, chunk: int = 97) -> list:
    """Events of `data` fed in odd-sized chunks, as a tailer reading a growing file would."""
    events = [e for i in range(0, len(data), chunk) for e in parser.feed(data[i:i + chunk])]
    return events + parser.flush()


def test_a_short_run_reads_back_as_progress_and_metrics(tmp_path):
    run = demo(tmp_path, "--steps", "12", "--step-seconds", "0.02")
    output, _ = run.communicate(timeout=60)
    assert run.returncode == 0, output.decode()

    events = parse(OutputParser(), output)
    progress = [e for e in events if isinstance(e, Progress)]
    assert {e.total for e in progress} == {12}  # the evaluation bars (total 5) never counted
    assert (progress[-1].n, progress[-1].total) == (12, 12)
    metrics = [e for e in events if isinstance(e, Metrics)]
    assert [m.step for m in metrics if "loss" in m.values] == [5, 10]
    assert [m.step for m in metrics if "eval_loss" in m.values] == [4, 8, 12]
    assert metrics[-1].step == 12 and set(metrics[-1].values) == {
        "train_runtime", "train_samples_per_second", "train_steps_per_second", "train_loss", "epoch"}
    assert b"Num examples = 50" in output  # the dataset's records were counted

    log_events = parse(TrainerLogParser(), (tmp_path / "trainer_log.jsonl").read_bytes(), chunk=13)
    assert [(e.n, e.total) for e in log_events if isinstance(e, Progress)][-1] == (12, 12)
    losses = [e for e in log_events if isinstance(e, Metrics) and "loss" in e.values]
    assert [m.step for m in losses] == [5, 10]
    assert losses[0].values["loss"] > losses[1].values["loss"]
    assert set(losses[0].values) == {"loss", "learning_rate", "epoch", "throughput", "num_input_tokens_seen"}

    checkpoint = tmp_path / "checkpoint-12"
    assert json.loads((checkpoint / "trainer_state.json").read_text())["global_step"] == 12
    blob = (checkpoint / "adapter_model.safetensors").read_bytes()
    (size,) = struct.unpack("<Q", blob[:8])
    assert "__metadata__" in json.loads(blob[8:8 + size]) and len(blob) == 8 + size


@pytest.mark.parametrize("signum, code", [(signal.SIGTERM, 143), (signal.SIGABRT, 134)])
def test_a_stop_signal_saves_a_checkpoint_and_exits_with_its_code(tmp_path, signum, code):
    run = demo(tmp_path, "--steps", "1000", "--step-seconds", "0.05", "--logging-steps", "2")
    try:
        deadline = time.monotonic() + 20
        while not (tmp_path / "trainer_log.jsonl").exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        run.send_signal(signum)
        output, _ = run.communicate(timeout=20)
    finally:
        run.kill()
    assert run.returncode == code, output.decode()
    assert f"Received {signal.Signals(signum).name}".encode() in output
    checkpoints = [p.name for p in tmp_path.glob("checkpoint-*")]
    assert len(checkpoints) == 1 and int(checkpoints[0].split("-")[1]) >= 2
    assert (tmp_path / checkpoints[0] / "adapter_model.safetensors").exists()
