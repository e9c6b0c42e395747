"""LLaMA-Factory's `dataset_info.json`: the entry that makes a dataset file usable by name.

The file is shared with people who edit it by hand and with other portal workers, so every
change is read-modify-write under an exclusive lock, written to a temporary file and
renamed over it: a reader never sees half a file, and no one's entry is lost.
"""
import fcntl
import json
import os
import tempfile
from contextlib import contextmanager
from pathlib import Path

from portal import storage
from portal.errors import Conflict
from portal.i18n import _l

INFO = "dataset_info.json"


def entry(file_name: str, fmt: str, stats: dict | None) -> dict:
    """The dataset_info.json entry for a validated file of format `fmt`.

    LLaMA-Factory (`data/parser.py`, `DatasetAttr.join`) sets every column an entry leaves out
    to None and its converters index every column named, so the entry names exactly the
    optional columns the file has (`stats["columns"]`) and the role words it uses.
    """
    stats = stats or {}
    present = set(stats.get("columns", stats.get("fields", {})))  # stats from before "columns" existed
    roles = set(stats.get("roles", []))
    if fmt == "alpaca":
        columns = {"prompt": "instruction", "query": "input", "response": "output", "system": "system",
                   "history": "history"}
        return {"file_name": file_name, "formatting": "alpaca",
                "columns": {k: v for k, v in columns.items() if k in ("prompt", "response") or v in present}}
    if fmt in ("sharegpt", "openai"):
        extra = {c: c for c in ("system", "tools") if c in present}
    if fmt == "sharegpt":
        tags = {"role_tag": "from", "content_tag": "value",
                "user_tag": "user" if "user" in roles else "human",
                "assistant_tag": "assistant" if "assistant" in roles else "gpt",
                "observation_tag": "observation", "function_tag": "function_call", "system_tag": "system"}
        return {"file_name": file_name, "formatting": "sharegpt", "columns": {"messages": "conversations", **extra},
                "tags": tags}
    if fmt == "openai":
        tags = {"role_tag": "role", "content_tag": "content", "user_tag": "user", "assistant_tag": "assistant",
                "observation_tag": "tool", "system_tag": "system"}
        return {"file_name": file_name, "formatting": "sharegpt", "columns": {"messages": "messages", **extra},
                "tags": tags}
    if fmt == "text":
        return {"file_name": file_name, "formatting": "alpaca", "columns": {"prompt": "text"}}
    return {"file_name": file_name}  # parquet: LLaMA-Factory reads it with its own column names


@contextmanager
def _locked(root: Path):
    root.mkdir(parents=True, exist_ok=True)
    with open(root / f".{INFO}.lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield root / INFO


def _read(path: Path) -> dict:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (ValueError, UnicodeDecodeError) as error:
        raise Conflict(_l("%(file)s is not valid JSON (%(error)s); fix it by hand before registering", file=INFO,
                          error=error)) from None
    if not isinstance(data, dict):
        raise Conflict(_l("%(file)s must hold a JSON object", file=INFO))
    return data


def _write(path: Path, data: dict) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{INFO}.")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            json.dump(data, out, ensure_ascii=False, indent=2)
            out.write("\n")
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException as error:
        Path(tmp).unlink(missing_ok=True)
        if storage.is_disk_full(error):
            raise storage.disk_full(path.parent) from None  # 507 naming the folder, the old file kept
        raise


def register(root: Path, name: str, value: dict) -> None:
    """Write or replace the entry `name`, keeping every other entry as it was."""
    with _locked(root) as path:
        data = _read(path)
        data[name] = value
        _write(path, data)


def unregister(root: Path, file_name: str) -> list[str]:
    """Remove the entries that point at `file_name`; returns their names."""
    with _locked(root) as path:
        if not path.exists():
            return []
        data = _read(path)
        gone = [k for k, v in data.items() if isinstance(v, dict) and v.get("file_name") == file_name]
        if gone:
            _write(path, {k: v for k, v in data.items() if k not in gone})
        return gone


def entries(root: Path) -> dict:
    try:
        return _read(root / INFO)
    except Conflict:
        return {}
