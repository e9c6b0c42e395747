"""Every change to datasets and their validated files (uploads in flight: `transfers.py`)."""
import re
import shutil
import uuid

from sqlalchemy import or_, select, update

from portal.configs.models import TrainConfig
from portal.datasets import llamafactory, paths
from portal.datasets.models import Dataset, DatasetFile
from portal.datasets.validate import Result, validate
from portal.errors import Conflict, Invalid, NotFound, found
from portal.extensions import db
from portal.i18n import _l
from portal.projects.models import Project
from portal.timeutil import utcnow

EDITABLE = ("type", "description", "task_type", "metadata", "train_config")
ENTRY_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,199}$")
PROGRESS_BYTES = 64 << 20


def _config_summary(name: str) -> dict | None:
    """The training config's summary, from the configs package when it is installed."""
    try:
        from portal.configs.services import config_summary
    except ImportError:
        return None
    return config_summary(name)


def _check_fields(fields: dict) -> dict:
    out = dict(fields)
    unknown = set(out) - set(EDITABLE)
    if unknown:
        raise Invalid(_l("unknown dataset field %(field)s", field=repr(sorted(unknown)[0])))
    for key in ("type", "task_type"):
        if key in out and len(out[key] or "") > 32:
            raise Invalid(_l("%(field)s: at most 32 characters", field=key))
    if "metadata" in out and not isinstance(out["metadata"] or {}, dict):
        raise Invalid(_l("metadata must be a JSON object"))
    if out.get("train_config"):
        try:
            from portal.configs import services as configs  # noqa: F401 - is the configs package there?
        except ImportError:
            configs = None
        if configs is not None and _config_summary(out["train_config"]) is None:
            raise Invalid(_l("no training config named %(name)s", name=repr(out["train_config"])))
    if "train_config" in out:
        out["train_config"] = out["train_config"] or None
    if "metadata" in out:
        out["meta"] = out.pop("metadata") or {}
    return out


def create_dataset(name: str, created_by: int | None = None, **fields) -> Dataset:
    paths.check_dataset_name(name)
    if db.session.scalar(select(Dataset.id).filter_by(name=name)):
        raise Conflict(_l("dataset %(name)s already exists", name=repr(name)))
    dataset = Dataset(id=str(uuid.uuid4()), name=name, created_by=created_by, **_check_fields(fields))
    db.session.add(dataset)
    db.session.commit()
    paths.dataset_dir(name).mkdir(parents=True, exist_ok=True)
    return dataset


def get_dataset(dataset_id: str) -> Dataset:
    return found(db.session.get(Dataset, dataset_id), _l("dataset %(id)s not found", id=repr(dataset_id)))


def list_datasets(q: str = "", task_type: str = "", after: str = "", limit: int = 50) -> list[Dataset]:
    """Datasets by name, searched in name and description; keyset-paginated by name."""
    stmt = select(Dataset).order_by(Dataset.name).limit(min(max(limit, 1), 200))
    if q:
        like = f"%{q.lower()}%"
        stmt = stmt.where(or_(Dataset.name.ilike(like), Dataset.description.ilike(like)))
    if task_type:
        stmt = stmt.where(Dataset.task_type == task_type)
    if after:
        stmt = stmt.where(Dataset.name > after)
    return list(db.session.scalars(stmt))


def update_dataset(dataset_id: str, **fields) -> Dataset:
    dataset = get_dataset(dataset_id)
    for key, value in _check_fields(fields).items():
        setattr(dataset, key, value)
    db.session.commit()
    return dataset


def delete_dataset(dataset_id: str) -> None:
    """Rows, files and registrations; uploads still streaming notice and stop."""
    dataset = get_dataset(dataset_id)
    root, name = paths.datasets_root(), dataset.name
    for item in dataset.files:
        llamafactory.unregister(root, f"{name}/{item.stored_name}")
    db.session.delete(dataset)
    db.session.commit()
    shutil.rmtree(paths.dataset_dir(name), ignore_errors=True)


def used_by(dataset: Dataset) -> dict[str, list[str]]:
    """Who would lose this dataset with it: projects naming one of its files, and configs whose
    `dataset`/`eval_dataset` ask LLaMA-Factory for one of its dataset_info.json entries."""
    folder = f"datasets/{dataset.name}/"
    projects = db.session.scalars(select(Project.name).where(or_(Project.dataset_name.startswith(folder),
                                                                 Project.dataset_name.startswith("./" + folder)))
                                  .order_by(Project.name))
    entries = {f.registered_as for f in dataset.files if f.registered_as}
    configs = []
    for name, summary in db.session.execute(select(TrainConfig.name, TrainConfig.summary).order_by(TrainConfig.name)):
        asked = [(summary or {}).get(key) or [] for key in ("dataset", "eval_dataset")]
        names = {n.strip() for value in asked for n in (value.split(",") if isinstance(value, str) else value)
                 if isinstance(n, str)}
        if names & entries:
            configs.append(name)
    return {"projects": list(projects), "configs": configs}


def status(dataset: Dataset) -> str:
    """empty | uploading | validating | invalid | ready, from its files.

    A dataset with a ready file is usable (a project names one file): an invalid file beside it
    is that file's state, shown on its row, and makes the dataset `invalid` only when nothing is ready.
    """
    states = {f.status for f in dataset.files}
    for state in ("validating", "ready", "invalid"):
        if state in states:
            return state
    return "uploading" if "receiving" in states else "empty"


def train_config(dataset: Dataset) -> dict | None:
    if not dataset.train_config:
        return None
    summary = _config_summary(dataset.train_config) or {}
    return {"name": dataset.train_config, "filename": summary.get("filename"),
            "uploaded_at": summary.get("uploaded_at"), "size": summary.get("size")}


def get_file(dataset_id: str, upload_id: str) -> DatasetFile:
    item = db.session.get(DatasetFile, upload_id)
    if item is None or item.dataset_id != dataset_id or item.status in ("aborted", "failed"):
        raise NotFound(_l("file %(file)s not found in dataset %(dataset)s", file=repr(upload_id), dataset=repr(dataset_id)))
    return item


def file_path(item: DatasetFile):
    return paths.final_path(item.dataset.name, item.stored_name)


def record_validation(upload_id: str, result: Result, size: int) -> None:
    """Store a validation's outcome, unless the file was removed meanwhile."""
    db.session.execute(update(DatasetFile).where(DatasetFile.id == upload_id, DatasetFile.status == "validating")
                       .values(status=result.status, format=result.format, records=result.records,
                               report=result.report, stats=result.stats, validated_bytes=size))
    db.session.commit()


def _record_progress(upload_id: str, done: int) -> None:
    db.session.execute(update(DatasetFile).where(DatasetFile.id == upload_id).values(validated_bytes=done))
    db.session.commit()


def run_validation(upload_id: str) -> None:
    """Validate a `validating` file, recording progress every PROGRESS_BYTES."""
    item = db.session.get(DatasetFile, upload_id)
    if item is None or item.status != "validating":
        return
    path = file_path(item)
    marks = {"next": PROGRESS_BYTES}

    def progress(done: int) -> None:
        if done >= marks["next"]:
            marks["next"] = done + PROGRESS_BYTES
            _record_progress(upload_id, done)

    try:
        result = validate(path, progress)
    except OSError as error:  # the file vanished or cannot be read: say so, do not crash the pool
        result = Result("invalid", None, None, {"errors": [{"line": 0, "message": f"cannot read the file: {error}"}],
                                                "bad_records": 0})
    record_validation(upload_id, result, item.bytes_received)


def register_file(dataset_id: str, upload_id: str, name: str | None = None) -> tuple[str, dict]:
    """Write the file's entry into datasets/dataset_info.json; returns (entry name, entry)."""
    item = get_file(dataset_id, upload_id)
    if item.status != "ready":
        raise Conflict(_l("only a validated file can be registered; this one is %(status)s", status=item.status))
    name = name or item.dataset.name
    if not ENTRY_NAME.match(name):
        raise Invalid(_l("the entry name must be letters, digits, '.', '_' or '-' (at most 200)"))
    value = llamafactory.entry(f"{item.dataset.name}/{item.stored_name}", item.format, item.stats)
    llamafactory.register(paths.datasets_root(), name, value)
    item.registered_as = name
    db.session.commit()
    return name, value


def delete_file(item: DatasetFile, reason: str = "removed") -> DatasetFile:
    """Mark a file aborted and remove its bytes and its registration."""
    dataset = item.dataset
    item.status, item.error = "aborted", reason
    item.updated_at = utcnow()
    db.session.commit()
    paths.part_path(dataset.name, item.id).unlink(missing_ok=True)
    paths.final_path(dataset.name, item.stored_name).unlink(missing_ok=True)
    if item.registered_as:
        llamafactory.unregister(paths.datasets_root(), f"{dataset.name}/{item.stored_name}")
    return item
