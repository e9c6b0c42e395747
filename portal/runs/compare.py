"""Comparing runs: their curves side by side, final and best values, and how their configs differ."""
import functools
import json

from sqlalchemy import select
from sqlalchemy.orm import undefer

from portal.configs import validate
from portal.errors import Invalid, NotFound
from portal.extensions import db
from portal.i18n import _l, run_name
from portal.projects import services as projects
from portal.runs import metrics
from portal.runs.models import Run
from portal.runs.services import duration
from portal.routing import ID_MAX

MAX_RUNS = 50  # what parallel coordinates of a project's runs still draw readably
MAX_KEYS = 50
# keys where a higher value is the better one; every other key (losses, perplexity…) is best lowest
HIGHER_IS_BETTER = ("acc", "f1", "bleu", "rouge", "precision", "recall", "reward", "score", "exact_match")


def parse_ids(text: str) -> list[int]:
    """`1,2,3` → [1, 2, 3] (order kept, repeats dropped); Invalid for anything else."""
    try:
        ids = list(dict.fromkeys(int(part) for part in text.split(",") if part.strip()))
    except ValueError:
        raise Invalid(_l("ids must be run ids separated by commas, e.g. 1,2,3")) from None
    if not ids or len(ids) > MAX_RUNS or any(not 0 < i <= ID_MAX for i in ids):
        raise Invalid(_l("ids: between 1 and %(max)s run ids", max=MAX_RUNS))
    return ids


def parse_keys(text: str) -> list[str]:
    keys = list(dict.fromkeys(k.strip() for k in text.split(",") if k.strip()))
    if len(keys) > MAX_KEYS or any(len(k) > metrics.KEY_LENGTH for k in keys):
        raise Invalid(_l("keys: at most %(max)s metric keys", max=MAX_KEYS))
    return keys


def higher_is_better(key: str) -> bool:
    return any(word in key.lower() for word in HIGHER_IS_BETTER)


@functools.lru_cache(maxsize=256)  # by text: a comparison polled again parses nothing; callers only read it
def flatten(text: str | None) -> dict:
    """A YAML mapping as dotted keys (`a.b: 1`); lists stay values. Not YAML or not a mapping: {}.

    Read as LLaMA-Factory reads it (`1e-4` and `1.0e-4` are the same number), so the difference
    shows only what the runs really did differently.
    """
    try:
        data = validate.load(text or "")
    except Invalid:  # ConfigInvalid: not YAML, empty, or not a mapping
        return {}
    flat: dict = {}

    def walk(prefix: str, value) -> None:
        if isinstance(value, dict) and value:
            for key, item in value.items():
                walk(f"{prefix}.{key}" if prefix else str(key), item)
        else:
            flat[prefix] = value if isinstance(value, (str, int, float, bool, type(None))) else json.loads(
                json.dumps(value, default=str))
    if isinstance(data, dict):
        walk("", data)
    return flat


def config_diff(runs: list[Run]) -> list[dict]:
    """Only the config keys whose values differ between the runs (missing counts as a value: null)."""
    flat = {run.id: flatten(((run.snapshot or {}).get("config") or {}).get("text")) for run in runs}
    keys = sorted({key for values in flat.values() for key in values})
    return [{"key": key, "values": {str(run_id): values.get(key) for run_id, values in flat.items()}}
            for key in keys if len({json.dumps(v.get(key), sort_keys=True) for v in flat.values()}) > 1]


def _summary(run: Run, keys: list[str], drawn: dict[str, dict]) -> dict:
    final = {k: v for k, v in (run.last_metrics or {}).items() if k in keys}
    best = {key: series["high"] if higher_is_better(key) else series["low"]
            for key, series in drawn.items() if series["count"]}
    return {"id": run.id, "project": run.project.name, "number": run.number,
            "name": run_name(run), "status": run.status,
            "duration_seconds": duration(run), "started_at": run.started_at, "final": final, "best": best}


def load(ids: list[int]) -> list[Run]:
    """Runs `ids` in that order, their snapshots loaded; NotFound naming every missing one."""
    found = {run.id: run for run in db.session.scalars(select(Run).options(undefer(Run.snapshot))
                                                        .where(Run.id.in_(ids)))}
    missing = [i for i in ids if i not in found]
    if missing:
        raise NotFound(_l("runs not found: %(ids)s", ids=", ".join(map(str, missing))))
    return [found[i] for i in ids]


def latest_of(project_name: str) -> list[int]:
    """The ids of a project's latest MAX_RUNS runs, oldest first (parallel coordinates of a project)."""
    project = projects.get_project(project_name)
    ids = db.session.scalars(select(Run.id).where(Run.project_id == project.id).order_by(Run.id.desc())
                             .limit(MAX_RUNS)).all()
    return sorted(ids)


def overview(runs: list[Run], keys: list[str], max_points: int = 2000) -> dict:
    """The runs' summaries (status, duration, final and best of each key), their config difference,
    and (`drawn`) each run's series of each key, downsampled in SQL."""
    shown = keys or sorted({key for run in runs for key in (run.last_metrics or {})})[:MAX_KEYS]
    drawn = metrics.series_many(runs, shown, max_points)
    return {"runs": [_summary(run, shown, drawn[run.id]) for run in runs], "keys": shown,
            "groups": metrics.grouped(shown), "config_diff": config_diff(runs), "drawn": drawn}


def compare(ids: list[int], keys: list[str], max_points: int = 2000) -> tuple[dict, dict]:
    """Runs `ids` side by side: the overview, and each run's series of each key (`pairs_json`:
    [[step, value], …]; `seconds_json`: seconds since the run started, one per point)."""
    runs = load(ids)
    result = overview(runs, keys, max_points)
    drawn = result.pop("drawn")
    return result, {str(run.id): drawn[run.id] for run in runs}
