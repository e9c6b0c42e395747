"""Finding a run's artifacts in its output dir: checkpoints, weights, trainer state."""
import fnmatch
from datetime import datetime, timezone

from sqlalchemy import select

from portal.extensions import db
from portal.runs.models import Artifact, Run

PATTERNS = (("checkpoint-*", "checkpoint"), ("*.safetensors", "weights"), ("adapter_model.*", "weights"),
            ("trainer_state.json", "trainer_state"))


def _kind(top: str) -> str | None:
    for pattern, kind in PATTERNS:
        if fnmatch.fnmatch(top, pattern):
            return kind
    return None


def record(run: Run, files: list[tuple[str, int, float, bool]]) -> None:
    """Add or update an artifact row for each match at the top of the output dir (no commit).

    `files` is the executor's listing of the output dir: (relative path, size, mtime, is_dir).
    """
    found: dict[str, dict] = {}
    for rel, size, mtime, is_dir in files:
        top = rel.split("/", 1)[0]
        kind = _kind(top)
        if kind is None or (kind != "checkpoint" and "/" in rel):
            continue
        entry = found.setdefault(top, {"kind": kind, "size": 0, "mtime": 0.0})
        if not is_dir:
            entry["size"] += size
        entry["mtime"] = max(entry["mtime"], mtime)
    if not found:
        return
    existing = {a.path: a for a in db.session.scalars(select(Artifact).filter_by(run_id=run.id))}
    for path, entry in found.items():
        artifact = existing.get(path) or Artifact(run_id=run.id, path=path, kind=entry["kind"], tags=[])
        artifact.size = entry["size"]
        artifact.modified_at = datetime.fromtimestamp(entry["mtime"], timezone.utc)
        db.session.add(artifact)
