"""The vLLM command of a deployment: model and adapter paths checked, flags the portal owns, argv only.

`vllm serve <model> --served-model-name N --host H --port P --tensor-parallel-size T
--gpu-memory-utilization F [--max-model-len L] [LoRA flags] <extra args>`; GPUs are chosen by
the environment (`CUDA_VISIBLE_DEVICES`), since vLLM has no device flag. Nothing is ever given
to a shell: `extra_args` is split with shlex and may not set what the portal owns.
"""
import json
import math
import re
import shlex
from pathlib import Path

from portal.errors import Invalid
from portal.i18n import _l
from portal.storage import resolve_under

# flags whose value the portal decides (or that current vLLM refuses); `--x=v` forms included
OWNED_FLAGS = frozenset({
    "--port", "--host", "--served-model-name", "--tensor-parallel-size", "-tp", "--gpu-memory-utilization",
    "--max-model-len", "--model", "--enable-lora", "--lora-modules", "--max-lora-rank", "--max-loras", "--uds",
})
REMOVED_FLAGS = {"--disable-log-requests": "vLLM removed it and refuses to start with it"}
LORA_RANKS = (1, 8, 16, 32, 64, 128, 256, 320, 512)  # what vLLM's --max-lora-rank accepts
HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")
MAX_EXTRA_ARGS_BYTES = 4000
NAME = re.compile(r"^[A-Za-z0-9][\w.:-]{0,127}$")


def split_extra_args(text: str) -> list[str]:
    """`extra_args` as argv items; refuses the portal's own flags, removed flags and NUL."""
    if len(text.encode()) > MAX_EXTRA_ARGS_BYTES:
        raise Invalid(_l("extra_args: at most %(limit)s bytes", limit=MAX_EXTRA_ARGS_BYTES))
    if "\x00" in text:
        raise Invalid(_l("extra_args: must not contain a NUL character"))
    try:
        items = shlex.split(text)
    except ValueError as error:
        raise Invalid(_l("extra_args cannot be split into arguments: %(error)s", error=str(error))) from None
    for item in items:
        flag = item.split("=", 1)[0]
        if flag in REMOVED_FLAGS:
            raise Invalid(_l("extra_args: %(flag)s is not allowed: %(why)s", flag=flag, why=REMOVED_FLAGS[flag]))
        if flag in OWNED_FLAGS:
            raise Invalid(_l("extra_args: %(flag)s is set by the portal", flag=flag))
    return items


def resolve_model(path: str, training_dir: Path, roots: tuple[Path, ...], allow_hub: bool) -> str:
    """What vLLM loads: a folder under the training dir or a model root, or (if allowed) a hub id."""
    if not path or "\x00" in path or len(path.encode()) > 1000:
        raise Invalid(_l("model_path: give a folder under the training dir or a model root"))
    if path.startswith("/"):
        resolved = Path(path).resolve()
        if not any(resolved.is_relative_to(root) for root in roots):
            raise Invalid(_l("model_path %(path)s is outside the model roots (PORTAL_MODEL_ROOTS: %(roots)s)",
                             path=path, roots=":".join(map(str, roots))))
    else:
        resolved = resolve_under(training_dir, path, "model_path")
    if resolved.exists():
        return str(resolved)
    if allow_hub and HUB_ID.match(path):
        return path
    raise Invalid(_l("model_path %(path)s does not exist (%(where)s)", path=path, where=str(resolved)))


def inspect_adapter(path: Path) -> dict:
    """The facts vLLM needs of a PEFT adapter folder: its rank and base; refuses what vLLM rejects."""
    config_file = path / "adapter_config.json"
    if not config_file.is_file() or not any(path.glob("adapter_model.*")):
        raise Invalid(_l("%(path)s is not a PEFT adapter (adapter_config.json and adapter_model.* expected)",
                         path=str(path)))
    try:
        config = json.loads(config_file.read_text())
    except (OSError, ValueError) as error:
        raise Invalid(_l("%(path)s/adapter_config.json cannot be read: %(error)s", path=str(path),
                         error=str(error))) from None
    targets = config.get("target_modules") or []
    if config.get("modules_to_save") or "lm_head" in (targets if isinstance(targets, list) else [targets]):
        raise Invalid(_l("the adapter %(path)s trains modules_to_save or lm_head, which vLLM cannot serve: "
                         "merge this adapter first", path=str(path)))
    ranks = [config.get("r") or 8, *(config.get("rank_pattern") or {}).values()]
    rank = max(int(r) for r in ranks if isinstance(r, (int, float)))
    return {"rank": rank, "base_model_name_or_path": config.get("base_model_name_or_path") or ""}


def max_lora_rank(ranks: list[int]) -> int:
    """The smallest rank vLLM accepts that fits every adapter."""
    top = max(ranks)
    for allowed in LORA_RANKS:
        if allowed >= top:
            return allowed
    raise Invalid(_l("LoRA rank %(rank)s is above vLLM's largest --max-lora-rank (%(limit)s)", rank=top,
                     limit=LORA_RANKS[-1]))


def lora_flags(adapters: list[dict]) -> list[str]:
    if not adapters:
        return []
    modules = [json.dumps({"name": a["name"], "path": a["path"], "base_model_name": a["base_model_name"]})
               for a in adapters]
    return ["--enable-lora", "--lora-modules", *modules,
            "--max-lora-rank", str(max_lora_rank([a["rank"] for a in adapters])), "--max-loras", str(len(adapters))]


def argv(vllm_bin: str, item, host: str) -> list[str]:
    """The exact command line of a deployment (`item`: a Deployment)."""
    line = [vllm_bin, "serve", item.model, "--served-model-name", item.served_model_name, "--host", host,
            "--port", str(item.port), "--tensor-parallel-size", str(item.tensor_parallel_size),
            "--gpu-memory-utilization", f"{item.gpu_memory_utilization:g}"]
    if item.max_model_len:
        line += ["--max-model-len", str(item.max_model_len)]
    return line + lora_flags(item.lora_adapters or []) + split_extra_args(item.extra_args or "")


def display(line: list[str]) -> str:
    return shlex.join(line)


def gpu_memory_needed(total: int, utilization: float) -> int:
    return math.ceil(total * utilization)
