"""Configs are read, summarized and checked as LLaMA-Factory ff6d4d1 reads them (OmegaConf's loader).

The YAML files are upstream's own examples (tests/fixtures/llamafactory/examples); OmegaConf
itself is the oracle for values.
"""
import io
from pathlib import Path

import pytest
from omegaconf import OmegaConf

from portal.configs import validate
from portal.runs.compare import flatten
from tests.configs.conftest import put

EXAMPLES = Path(__file__).resolve().parents[1] / "fixtures" / "llamafactory" / "examples"
EDGES = """learning_rate: 1e-4
warmup: 5E-2
big: 1_000.5e3
neg: -3e+2
plain_int: 1_000
hex: 0x10
sexagesimal: 1:30
when: 2024-01-01
stamp: 2001-12-14t21:59:43.10-05:00
flag: yes
none: null
ref: ${learning_rate}
dot: .5
nan: .nan
version: 1.10
nested: {lr: 2e-5, list: [1e3, "1e3", 3]}
"""


def omegaconf_reads(text: str):
    return OmegaConf.to_container(OmegaConf.load(io.StringIO(text)))


@pytest.mark.parametrize("path", sorted(EXAMPLES.rglob("*.yaml")), ids=lambda p: p.relative_to(EXAMPLES).as_posix())
def test_upstream_examples_read_as_omegaconf_reads_them(path):
    text = path.read_text()
    assert validate.load(text) == omegaconf_reads(text)


def test_numbers_and_dates_read_as_omegaconf_reads_them():
    ours, theirs = validate.load(EDGES), omegaconf_reads(EDGES)
    ours_nan, theirs_nan = ours.pop("nan"), theirs.pop("nan")
    assert ours_nan != ours_nan and theirs_nan != theirs_nan  # NaN equals nothing, not even itself
    assert ours == theirs
    assert ours["learning_rate"] == 0.0001 and ours["when"] == "2024-01-01"


def test_duplicate_keys_are_refused_like_omegaconf():
    text = "model_name_or_path: m\nstage: sft\nnested:\n  a: 1\n  a: 2\n"
    with pytest.raises(Exception, match="found duplicate key"):
        OmegaConf.load(io.StringIO(text))
    with pytest.raises(validate.ConfigInvalid) as refused:
        validate.load(text)
    assert (refused.value.problems[0].line, refused.value.problems[0].column) == (5, 3)
    merged = "base: &b {a: 1}\nchild:\n  <<: *b\n  a: 2\n"  # a merge key is not a repeat, for both
    assert validate.load(merged) == omegaconf_reads(merged)


def test_learning_rate_1e_4_is_summarized_as_the_number_llamafactory_reads(client, token, training):
    body = put(client, token["operator"], "lr", "model_name_or_path: m\nlearning_rate: 1e-4\n").get_json()
    assert body["summary"]["learning_rate"] == 0.0001


def test_dataset_names_are_looked_up_in_the_dataset_dir_of_the_config(client, token, training):
    (training / "data").mkdir()
    (training / "data" / "dataset_info.json").write_text('{"identity": {"file_name": "identity.json"}}')
    default = put(client, token["operator"], "default", "model_name_or_path: m\ndataset: identity, alpaca_zh\n")
    body = default.get_json()
    assert body["summary"]["dataset_dir"] == "data"  # LLaMA-Factory's default, shown although unset
    assert body["warnings"] == ["dataset 'alpaca_zh' is not in data/dataset_info.json"]
    ours = put(client, token["operator"], "ours", f"model_name_or_path: m\ndataset: identity, alpaca_zh\n"
                                                  f"dataset_dir: {training / 'datasets'}\n").get_json()
    assert ours["summary"]["dataset_dir"] == str(training / "datasets") and ours["warnings"] == []
    (training / "data" / "dataset_info.json").unlink()
    missing = client.get("/v1/train-configs/default", headers=token["viewer"]).get_json()["warnings"]
    assert missing[0].startswith("dataset names cannot be checked: data/dataset_info.json does not exist")
    outside = put(client, token["operator"], "outside", "model_name_or_path: m\ndataset: identity\n"
                                                        "dataset_dir: /etc\n").get_json()
    assert "outside the training dir" in outside["warnings"][0]


@pytest.mark.parametrize("value", ["identity,,alpaca_zh", "identity,", "[identity, '']"])
def test_an_empty_dataset_name_is_reported(client, token, training, value):
    body = put(client, token["operator"], "empty", f"model_name_or_path: m\ndataset: {value}\n"
                                                   "dataset_dir: datasets\n").get_json()
    assert body["warnings"] == ["dataset has an empty name (two commas in a row, or one at the end): LLaMA-Factory "
                                "stops with \"Undefined dataset  in dataset_info.json\""]


def test_v1_layout_gets_its_summary_and_no_false_warning(client, auth, token, users, training):
    text = (EXAMPLES / "v1" / "train_lora_sft.yaml").read_text()
    body = put(client, token["operator"], "v1", text).get_json()
    assert body["warnings"] == []
    assert body["summary"] == {"model": "Qwen/Qwen3-4B", "model_class": "llm", "peft_config": "lora",
                               "dist_config": "fsdp2", "train_dataset": "data/v1_sft_demo.yaml",
                               "cutoff_len": 2048, "learning_rate": 0.0001, "max_steps": 10,
                               "micro_batch_size": 1, "output_dir": "./outputs/test_lora"}
    auth.login("viewer")
    listing = client.get("/ui/configs/").get_data(as_text=True)
    assert "Qwen/Qwen3-4B" in listing and "data/v1_sft_demo.yaml" in listing


def test_the_starter_config_names_where_the_portal_registers_datasets(client, auth, users, training):
    auth.login("operator")
    page = client.get("/ui/configs/new").get_data(as_text=True)
    assert f"dataset_dir: {training / 'datasets'}" in page


def test_run_comparison_sees_config_values_as_llamafactory_reads_them():
    assert flatten("learning_rate: 1e-4\nlora: {rank: 8}\n") == flatten("learning_rate: 1.0e-4\nlora: {rank: 8}\n") \
        == {"learning_rate": 0.0001, "lora.rank": 8}
