"""Every change to training configs: the library, its versions, its files, the current one.

The database holds every version (so history works on any database and survives a lost
file); `configs/<name>.yaml` under the training dir holds the latest, which is what runs
read. A save writes the file only after the rows are flushed, and commits only after the
file is in place, so neither is left pointing at something the other lacks.
"""
import hashlib
import json
import os
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path

from flask import current_app
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError, InvalidRequestError
from sqlalchemy.orm import defer
from sqlalchemy.orm.exc import StaleDataError

from portal.configs import validate
from portal.configs.models import TrainConfig, TrainConfigVersion
from portal.errors import Conflict, Invalid, NotFound, TooLarge, found
from portal.extensions import db
from portal.i18n import _l, gettext
from portal.projects.models import Project
from portal.storage import resolve_under
from portal.timeutil import as_utc, utcnow

NAME = re.compile(r"[a-z0-9][a-z0-9._-]{0,63}")
SUFFIXES = (".yaml", ".yml")
RESERVED = {"new", "upload"}  # page paths under /ui/configs/, which a config page would hide behind
MAX_INFO_BYTES = 16 * 1024 * 1024  # dataset_info.json larger than this is not parsed for warnings


@dataclass(frozen=True)
class Detail:
    """A config as its page and `GET /v1/train-configs/{name}` show it."""

    config: TrainConfig
    content: str
    warnings: list[str]
    problems: list[validate.Problem]  # when the stored version no longer validates (a stricter portal)
    disk: str  # "same", "modified" (edited outside the portal) or "missing"
    versions: list[TrainConfigVersion]
    projects: list[str]


def _settings():
    return current_app.config["PORTAL"]


def normalize_name(name: str) -> str:
    """`train`, `train.yaml` and `train.yml` all name the config `train`."""
    name = (name or "").strip()
    for suffix in SUFFIXES:
        if name.lower().endswith(suffix):
            return name[:-len(suffix)]
    return name


def check_name(name: str) -> str:
    name = normalize_name(name)
    if not NAME.fullmatch(name):  # fullmatch: `$` would let a trailing newline in
        raise Invalid(_l("config name must be a slug: lowercase letters, digits, '.', '_' or '-', at most 64"))
    if name in RESERVED:
        raise Invalid(_l("%(name)s is reserved; choose another config name", name=repr(name)))
    return name


def check_new_name(name: str) -> str:
    """A name a new config may take: a free slug."""
    name = check_name(name)
    if db.session.get(TrainConfig, name) is not None:
        raise Conflict(_l("config %(name)s already exists", name=repr(name)))
    return name


def name_from_filename(filename: str, raw: bytes) -> str:
    """A slug from an uploaded file's name (`Qwen SFT.yaml` → `qwen-sft`); from its digest
    when nothing usable is left (`微调.yaml`), so every upload gets a name."""
    stem = normalize_name(filename)
    slug = re.sub(r"[^a-z0-9._-]+", "-", stem.lower()).strip("-._")[:64].rstrip("-._")
    if not slug or slug in RESERVED:
        slug = f"config-{hashlib.sha256(raw).hexdigest()[:8]}"
    return slug


def file_path(name: str) -> Path:
    return resolve_under(_settings().training_dir, f"configs/{name}.yaml", "config")


def known_datasets(dataset_dir: str = "datasets") -> tuple[set[str] | None, str]:
    """Dataset names in `<dataset_dir>/dataset_info.json`, the file LLaMA-Factory reads, or None and why not.

    LLaMA-Factory takes a relative one from the run's working dir, which a config alone does
    not know: the portal takes it from the training dir (where configs and datasets live). An
    absolute one is read when it is inside the training dir; one outside is not read (user
    paths stay in their root).
    """
    shown = f"{dataset_dir.rstrip('/')}/dataset_info.json"
    root = _settings().training_dir.resolve()
    try:
        folder = Path(dataset_dir)
        if folder.is_absolute():
            if not folder.resolve().is_relative_to(root):
                return None, gettext("dataset_dir %(dir)s is outside the training dir %(root)s", dir=dataset_dir,
                                     root=str(root))
            folder = folder.resolve().relative_to(root)
        path = resolve_under(root, f"{folder.as_posix()}/dataset_info.json", "dataset_dir")
        if path.stat().st_size > MAX_INFO_BYTES:
            return None, gettext("%(file)s is too large to read", file=shown)
        info = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None, gettext("%(file)s does not exist (the portal registers datasets in %(ours)s; set dataset_dir: "
                             "%(dir)s)", file=shown, ours="datasets/dataset_info.json", dir=str(datasets_dir()))
    except (Invalid, OSError, ValueError) as error:
        return None, gettext("%(file)s cannot be read (%(error)s)", file=shown, error=getattr(error, "message", error))
    if not isinstance(info, dict):
        return None, gettext("%(file)s is not a JSON object", file=shown)
    return set(info), ""


def datasets_dir() -> Path:
    """Where the portal registers datasets: the `dataset_dir` a config should name."""
    return _settings().training_dir / "datasets"


def check_content(content: bytes | str) -> validate.Checked:
    """Validate a document as a config; raises ConfigInvalid (422) or TooLarge (413)."""
    return validate.check(content, _settings().max_config_bytes, known_datasets)


def _write_file(path: Path, raw: bytes) -> None:
    """Replace the file atomically: a run starting meanwhile reads the old or the new, never half."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(raw)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, 0o644)  # mkstemp makes it 0600; the training container must read it
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _disk_digest(path: Path) -> str | None:
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except (FileNotFoundError, IsADirectoryError):
        return None


def _mark_current(name: str) -> None:
    db.session.execute(update(TrainConfig).where(TrainConfig.is_current, TrainConfig.name != name)
                       .values(is_current=False))


def save_config(name: str, content: bytes | str, filename: str | None = None, by: int | None = None,
                make_current: bool = False, create_only: bool = False) -> tuple[TrainConfig, validate.Checked]:
    """Create config `name` or add a version to it (none when the content is unchanged)."""
    name = check_new_name(name) if create_only else check_name(name)
    checked = check_content(content)
    raw = checked.text.encode("utf-8")
    digest = hashlib.sha256(raw).hexdigest()
    path = file_path(name)
    row = db.session.get(TrainConfig, name)
    if row is None:
        row = TrainConfig(name=name, version=0, sha256="", size=0, filename="", created_by=by, is_current=False)
        db.session.add(row)
    changed = row.sha256 != digest
    if changed:
        row.version += 1
        row.filename = _clean_filename(filename) or f"{name}.yaml"
        row.size, row.sha256, row.summary, row.updated_at = len(raw), digest, checked.summary, utcnow()
        db.session.add(TrainConfigVersion(config_name=name, number=row.version, content=checked.text,
                                          filename=row.filename, size=len(raw), sha256=digest, created_by=by))
    try:
        db.session.flush()  # a concurrent save of the same name or version fails here, before the file
        if make_current:
            _mark_current(name)
            row.is_current = True
        if changed or _disk_digest(path) != digest:  # also puts back a file deleted or edited on disk
            _write_file(path, raw)
        db.session.commit()
    except (IntegrityError, StaleDataError):  # StaleDataError: deleted since it was read
        db.session.rollback()
        raise Conflict(_l("config %(name)s was saved by someone else at the same moment; try again",
                          name=repr(name))) from None
    except BaseException:
        db.session.rollback()
        raise
    try:
        # load it now: the answer is written after this, and a delete committed meanwhile would
        # otherwise surface there as ObjectDeletedError (a 500) instead of here
        db.session.refresh(row)
    except InvalidRequestError:
        raise Conflict(_l("config %(name)s was deleted while it was being saved; try again", name=repr(name))) from None
    return row, checked


def _clean_filename(filename: str | None) -> str:
    """The last part of a client's file name, without control characters, at most 255."""
    base = re.split(r"[\\/]", filename or "")[-1]
    return "".join(ch for ch in base if ch.isprintable())[:255]


def upload(filename: str, raw: bytes, name: str = "", by: int | None = None,
           make_current: bool = True) -> tuple[TrainConfig, validate.Checked]:
    """An uploaded `.yaml`/`.yml` file into the library (named after the file unless `name`)."""
    if not _clean_filename(filename).lower().endswith(SUFFIXES):
        raise validate.ConfigInvalid([validate.Problem("only .yaml or .yml files are accepted", kind="extension")])
    return save_config(name or name_from_filename(_clean_filename(filename), raw), raw,
                       filename=filename, by=by, make_current=make_current)


def get_config(name: str) -> TrainConfig:
    row = db.session.get(TrainConfig, normalize_name(name))
    if row is None:
        raise NotFound(_l("training config %(name)s not found", name=repr(normalize_name(name))))
    return row


def current() -> TrainConfig | None:
    return db.session.scalar(select(TrainConfig).where(TrainConfig.is_current))


def set_current(name: str) -> TrainConfig:
    row = get_config(name)
    _mark_current(row.name)
    row.is_current = True
    db.session.commit()
    return row


def list_configs(q: str = "", after: str = "", limit: int = 100) -> list[TrainConfig]:
    """Configs by name, searched by name, keyset-paginated."""
    stmt = select(TrainConfig).order_by(TrainConfig.name).limit(min(max(limit, 1), 500))
    if q:
        stmt = stmt.where(TrainConfig.name.like(f"%{q.lower()}%"))
    if after:
        stmt = stmt.where(TrainConfig.name > after)
    return list(db.session.scalars(stmt))


def versions(name: str) -> list[TrainConfigVersion]:
    """Every version, newest first, without their content (which may be a MiB each)."""
    return list(db.session.scalars(select(TrainConfigVersion).options(defer(TrainConfigVersion.content))
                                   .filter_by(config_name=name).order_by(TrainConfigVersion.number.desc())))


def get_version(name: str, number: int) -> TrainConfigVersion:
    row = db.session.scalar(select(TrainConfigVersion).filter_by(config_name=normalize_name(name), number=number))
    if row is None:
        raise NotFound(_l("training config %(name)s has no version %(number)s", name=repr(normalize_name(name)),
                          number=number))
    return row


def restore_version(name: str, number: int, by: int | None = None) -> TrainConfig:
    """Save an earlier version's content again, as a new version (history only grows)."""
    old = get_version(name, number)
    return save_config(old.config_name, old.content, filename=old.filename, by=by)[0]


def projects_using(name: str) -> list[str]:
    path = f"configs/{name}.yaml"
    return list(db.session.scalars(select(Project.name).where(Project.training_yaml_name.in_([path, f"./{path}"]))
                                   .order_by(Project.name)))


def detail(name: str) -> Detail:
    row = get_config(name)
    content = get_version(row.name, row.version).content
    disk_digest = _disk_digest(file_path(row.name))
    disk = "missing" if disk_digest is None else "same" if disk_digest == row.sha256 else "modified"
    warnings, problems = [], []
    try:
        warnings = check_content(content).warnings
    except validate.ConfigInvalid as error:
        problems = error.problems
    except TooLarge as error:
        problems = [validate.Problem(error.message, kind="size")]
    return Detail(row, content, warnings, problems, disk, versions(row.name), projects_using(row.name))


def delete_config(name: str) -> None:
    """Remove a config, its versions and its file."""
    row = get_config(name)
    path = file_path(row.name)
    db.session.delete(row)
    db.session.commit()
    path.unlink(missing_ok=True)


def require_current():
    """The current config, or NotFound saying how to make one."""
    return found(current(), _l("no training config is current; upload one with PUT /v1/train-config"))


def delete_current() -> str:
    """`DELETE /v1/train-config`: the current config goes, as it did in the original service."""
    row = require_current()
    delete_config(row.name)
    return row.name


def config_summary(name: str) -> dict | None:
    """`{"filename", "uploaded_at", "size"}` of a config (datasets link to configs by name),
    `uploaded_at` already written like the API writes times; None when there is no such config."""
    row = db.session.get(TrainConfig, normalize_name(name or ""))
    if row is None:
        return None
    uploaded = as_utc(row.updated_at).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    return {"filename": row.filename, "uploaded_at": uploaded, "size": row.size}
