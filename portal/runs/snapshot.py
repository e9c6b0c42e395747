"""What a run used, recorded when it is queued: config text, dataset digest, command, masked env.

The snapshot is a copy, not a link: editing or deleting the config afterwards leaves what the
run shows untouched. A dataset's sha256 comes from its upload record when it came through the
portal; otherwise the supervisor hashes it in its pool right before the launch (`complete`),
for files up to `PORTAL_SNAPSHOT_HASH_BYTES`, and larger ones are known by size and mtime.
"""
import hashlib
import re
from datetime import datetime, timezone
from pathlib import Path

from flask import current_app
from sqlalchemy import select

from portal.configs.models import TrainConfig, TrainConfigVersion
from portal.datasets.models import COMPLETE, Dataset, DatasetFile
from portal.extensions import db
from portal.storage import resolve_under

SECRET = re.compile(r"TOKEN|KEY|SECRET|PASSWORD", re.IGNORECASE)
MASK = "••••••"
SNAPSHOT_DIR = ".snapshots"  # under the training dir: recorded configs a "same snapshot" re-run reads
_CHUNK = 1024 * 1024


def _settings():
    return current_app.config["PORTAL"]


def masked(env: dict[str, str]) -> dict[str, str]:
    """The environment with the values of secret-looking names hidden (`HF_TOKEN`, `WANDB_API_KEY`…)."""
    return {name: MASK if SECRET.search(name) else value for name, value in env.items()}


def _stat(path: Path) -> dict:
    info = path.stat()
    return {"size": info.st_size,
            "mtime": datetime.fromtimestamp(info.st_mtime, timezone.utc).isoformat(timespec="seconds")}


def config_part(relative: str, same_as: dict | None = None) -> dict:
    """The config file a run reads, with its text; named by the library version that holds that text."""
    path = resolve_under(_settings().training_dir, relative, "training_yaml_name")
    raw = path.read_bytes()[:_settings().max_config_bytes + 1]
    digest = hashlib.sha256(raw).hexdigest()
    part = {"path": relative, "sha256": digest, "size": len(raw), "name": None, "version": None,
            "text": raw.decode("utf-8", errors="replace") if len(raw) <= _settings().max_config_bytes else None}
    if same_as and same_as.get("sha256") == digest:  # a re-run of a snapshot keeps its library name
        part.update(name=same_as.get("name"), version=same_as.get("version"))
        return part
    name = Path(relative).stem if Path(relative).parent == Path("configs") else None
    if name and db.session.get(TrainConfig, name) is not None:
        version = db.session.scalar(select(TrainConfigVersion.number).filter_by(config_name=name, sha256=digest)
                                    .order_by(TrainConfigVersion.number.desc()).limit(1))
        if version is not None:  # else the file was edited outside the portal: the text says what ran
            part.update(name=name, version=version)
    return part


def dataset_part(relative: str) -> dict:
    """The dataset file's path, size and mtime, and its sha256 when an upload record has it."""
    path = resolve_under(_settings().training_dir, relative, "dataset_name")
    part = {"path": relative, **_stat(path), "sha256": None, "sha256_from": None}
    folder, stored = Path(relative).parent, Path(relative).name
    if folder.parent == Path("datasets"):
        digest = db.session.scalar(select(DatasetFile.sha256).join(Dataset).where(
            Dataset.name == folder.name, DatasetFile.stored_name == stored, DatasetFile.status.in_(COMPLETE)))
        if digest:
            part.update(sha256=digest, sha256_from="upload")
    if part["sha256"] is None:
        part["sha256_from"] = "pending" if part["size"] <= _settings().snapshot_hash_bytes else "size_mtime"
    return part


def build(run, files: dict[str, str], env: dict[str, str], same_config: dict | None = None) -> dict:
    """The snapshot of a run being queued (its argv, workdir and container already planned)."""
    return {
        "config": config_part(files["config"], same_config), "dataset": dataset_part(files["dataset"]),
        "argv": list(run.argv), "workdir": run.workdir, "executor": run.executor, "container": run.container,
        "gpu_count": run.gpu_count, "gpus": [], "env": masked(env),
    }


def linked_version(snap: dict | None) -> tuple[str, int] | None:
    """(config name, version) when that library version still exists, for the run page's link."""
    config = (snap or {}).get("config") or {}
    if not config.get("name") or config.get("version") is None:
        return None
    exists = db.session.scalar(select(TrainConfigVersion.id).filter_by(config_name=config["name"],
                                                                       number=config["version"]))
    return (config["name"], config["version"]) if exists else None


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def complete(run, env: dict[str, str]) -> None:
    """In the pool, right before the launch: hash a dataset left pending, note the GPUs given and
    the whole environment launched (the executor's base and the portal's variables too).

    Set on the row, committed with the launch's own transition.
    """
    snap = dict(run.snapshot or {})
    if not snap:
        return
    dataset = dict(snap.get("dataset") or {})
    if dataset.get("sha256_from") == "pending":
        try:
            path = resolve_under(_settings().training_dir, dataset["path"], "dataset_name")
            dataset.update(_stat(path))
            if dataset["size"] <= _settings().snapshot_hash_bytes:
                dataset.update(sha256=_sha256(path), sha256_from="supervisor")
            else:
                dataset["sha256_from"] = "size_mtime"
        except OSError:  # gone since it was queued: the launch reports it; the snapshot says what was seen
            dataset["sha256_from"] = "size_mtime"
    run.snapshot = {**snap, "dataset": dataset, "gpus": list(run.gpus or []), "env": masked(env)}


def write_config(text: str) -> str:
    """A recorded config text as a file under the training dir (named by its digest); its relative path."""
    raw = text.encode("utf-8")
    relative = f"{SNAPSHOT_DIR}/{hashlib.sha256(raw).hexdigest()}.yaml"
    path = resolve_under(_settings().training_dir, relative, "snapshot")
    if not path.is_file():
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_bytes(raw)
        tmp.chmod(0o644)  # the training container must read it
        tmp.replace(path)
    return relative
