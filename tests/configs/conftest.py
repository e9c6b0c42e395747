"""Fixtures for configs: a training dir with a registered dataset, and YAML documents."""
import io
import json

import pytest

GOOD = """### model
model_name_or_path: Qwen/Qwen2.5-7B-Instruct
stage: sft
do_train: true
finetuning_type: lora
lora_rank: 8
dataset: alpaca_zh, missing_set
dataset_dir: datasets
template: qwen
cutoff_len: 2048
learning_rate: 1.0e-4
num_train_epochs: 3.0
per_device_train_batch_size: 2
gradient_accumulation_steps: 8
output_dir: saves/qwen/lora
bf16: true
"""

# nine levels of nine aliases: 9**9 (387 million) strings once expanded, 400 bytes as text
BILLION_LAUGHS = 'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]\n' + "".join(
    f"{chr(98 + i)}: &{chr(98 + i)} [{','.join([f'*{chr(97 + i)}'] * 9)}]\n" for i in range(8))


@pytest.fixture
def training(app):
    """The training dir, with `alpaca_zh` registered in datasets/dataset_info.json."""
    root = app.config["PORTAL"].training_dir
    (root / "datasets").mkdir(parents=True, exist_ok=True)
    (root / "datasets" / "dataset_info.json").write_text(json.dumps(
        {"alpaca_zh": {"file_name": "alpaca_zh.json"}, "identity": {"file_name": "identity.json"}}))
    return root


def upload(client, headers, content, filename="finetune.yaml", **form):
    """PUT /v1/train-config with a multipart `file`."""
    raw = content.encode() if isinstance(content, str) else content
    return client.put("/v1/train-config", headers=headers, content_type="multipart/form-data",
                      data={"file": (io.BytesIO(raw), filename), **form})


def put(client, headers, name, content):
    """PUT /v1/train-configs/{name} with raw YAML."""
    return client.put(f"/v1/train-configs/{name}", headers={**headers, "Content-Type": "application/yaml"},
                      data=content.encode() if isinstance(content, str) else content)
