"""A parsed training YAML as LLaMA-Factory (`ff6d4d1`) reads it: its layout, summary and warnings.

Two layouts exist: the classic one (`hparams/parser.py`: `model_name_or_path`, `dataset` names
looked up in `<dataset_dir>/dataset_info.json`) and `examples/v1/` (`USE_V1=1`,
`v1/config/arg_parser.py`: `model`, `train_dataset` as a path). Both read the YAML with
OmegaConf, whose number and duplicate-key rules `portal/configs/validate.py` follows.
"""
import math
from typing import Callable

from portal.i18n import gettext

DEFAULT_DATASET_DIR = "data"  # DataArguments.dataset_dir, relative to the run's working dir
SUMMARY_KEYS = (
    "model_name_or_path", "adapter_name_or_path", "stage", "do_train", "finetuning_type", "lora_rank",
    "lora_alpha", "lora_target", "quantization_bit", "dataset", "eval_dataset", "dataset_dir", "template",
    "cutoff_len", "max_samples", "learning_rate", "num_train_epochs", "max_steps", "per_device_train_batch_size",
    "gradient_accumulation_steps", "lr_scheduler_type", "warmup_ratio", "bf16", "fp16", "deepspeed",
    "output_dir",
)
V1_SUMMARY_KEYS = (
    "model", "model_class", "peft_config", "quant_config", "dist_config", "train_dataset", "eval_dataset",
    "cutoff_len", "learning_rate", "num_train_epochs", "max_steps", "micro_batch_size", "global_batch_size",
    "output_dir",
)
_SCALARS = (str, int, float, bool, type(None))

# what a check of dataset names is given: dataset_dir as written → (names in its dataset_info.json or
# None, why they cannot be read)
DatasetLookup = Callable[[str], tuple[set[str] | None, str]]


def is_v1(data: dict) -> bool:
    """The `examples/v1/` layout: `model` and `train_dataset` instead of `model_name_or_path` and `dataset`."""
    return "model_name_or_path" not in data and "dataset" not in data and ("model" in data or "train_dataset" in data)


def _json_safe(value):
    # `.nan` and `.inf` are valid YAML floats but not JSON, which PostgreSQL and browsers refuse
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    return value if isinstance(value, _SCALARS) else str(value)


def summarize(data: dict) -> dict:
    """The keys people look for first, in a fixed order, as JSON-safe values LLaMA-Factory reads."""
    v1 = is_v1(data)
    summary = {}
    for key in V1_SUMMARY_KEYS if v1 else SUMMARY_KEYS:
        if key == "dataset_dir" and key not in data and "dataset" in data:
            summary[key] = DEFAULT_DATASET_DIR  # where the names are looked up even when unset
        if key not in data:
            continue
        value = data[key]
        if isinstance(value, dict) and v1:
            value = value.get("name", value)  # a v1 plugin block (peft_config: {name: lora, …}) by its name
        if isinstance(value, list) and all(isinstance(v, _SCALARS) for v in value):
            summary[key] = [_json_safe(v) for v in value]
        else:
            summary[key] = _json_safe(value)
    return summary


def dataset_names(data: dict, key: str = "dataset") -> list[str]:
    """`dataset: a, b` or a YAML list, split as `DataArguments.__post_init__` does: empty names stay."""
    value = data.get(key)
    if isinstance(value, str):
        return [name.strip() for name in value.split(",")]
    if isinstance(value, list):
        return [str(name) for name in value]
    return []


def dataset_dir(data: dict) -> str:
    value = data.get("dataset_dir")
    return value if isinstance(value, str) and value.strip() else DEFAULT_DATASET_DIR


def output_dir(data: dict) -> str | None:
    """Where the run writes (trainer_log.jsonl, checkpoints), as the config says; None when unset."""
    value = data.get("output_dir")
    return value.strip() if isinstance(value, str) and value.strip() else None


def overwrites_output_dir(data: dict) -> bool:
    return data.get("overwrite_output_dir") is True


def warnings(data: dict, lookup: DatasetLookup) -> list[str]:
    """What would likely break a run, without refusing the config."""
    if is_v1(data):
        return [] if "train_dataset" in data else [gettext("train_dataset is not set")]
    found = []
    for key in ("dataset", "eval_dataset"):
        if "" in dataset_names(data, key):
            found.append(gettext("%(key)s has an empty name (two commas in a row, or one at the end): LLaMA-Factory "
                                 "stops with \"Undefined dataset  in dataset_info.json\"", key=key))
    names = [n for n in dataset_names(data) + dataset_names(data, "eval_dataset") if n]
    if names:
        folder = dataset_dir(data)
        info = f"{folder.rstrip('/')}/dataset_info.json"
        known, reason = lookup(folder)
        if known is None:
            found.append(gettext("dataset names cannot be checked: %(reason)s", reason=reason))
        else:
            found += [gettext("dataset %(name)s is not in %(file)s", name=repr(name), file=info)
                      for name in dict.fromkeys(names) if name not in known]
    if "model_name_or_path" not in data:
        found.append(gettext("model_name_or_path is not set"))
    if data.get("bf16") is True and data.get("fp16") is True:
        found.append(gettext("bf16 and fp16 are both true; choose one"))
    return found
