"""Metric points of runs: recording (from the supervisor or a pushing script) and chart series."""
import math
import threading
from collections import OrderedDict
from functools import partial

from pydantic_core import to_json
from sqlalchemy import func, insert, select

from portal.errors import Invalid
from portal.extensions import db
from portal.i18n import _l
from portal.notify import rules
from portal.runs.models import Metric, Run
from portal.runs.services import get_run
from portal.timeutil import as_utc

MAX_BATCH = 1000
KEY_LENGTH = 100
CACHE_SIZE = 256  # series kept per process: the chart of every open run page polls them
_cache: OrderedDict[tuple, tuple[int, dict]] = OrderedDict()
_lock = threading.Lock()


def record(run: Run, step: int | None, values: dict[str, float]) -> None:
    """Add points for one step and keep the run's latest values (committed by the caller)."""
    record_many(run, [(step, values)])


def record_many(run: Run, points: list[tuple[int | None, dict[str, float]]]) -> None:
    """Add (step, values) points in one INSERT and update the run's latest values once."""
    rows = [{"run_id": run.id, "key": key, "step": step if step is not None else (run.step or 0), "value": value}
            for step, values in points for key, value in values.items() if math.isfinite(value)]
    rules.on_points(run, points)  # a channel's rules see NaN and inf too, in this transaction
    if not rows:
        return
    with db.session.no_autoflush:  # no UPDATE of the run before every INSERT
        db.session.execute(insert(Metric), rows)
        run.last_metrics = {**(run.last_metrics or {}), **{r["key"]: r["value"] for r in rows}}
        run.metrics_version = Run.metrics_version + 1  # in SQL: two writers at once both count


def push(run_id: int, points: list[dict]) -> int:
    """A training script's own points, batched like MLflow's log-batch: [{key, value, step}]."""
    run = get_run(run_id)
    if len(points) > MAX_BATCH:
        raise Invalid(_l("at most %(count)s points per request", count=MAX_BATCH))
    by_step: dict[int | None, dict[str, float]] = {}
    for point in points:
        key = point["key"]
        if not key or len(key) > KEY_LENGTH:
            raise Invalid(_l("metric key must be 1-%(length)s characters", length=KEY_LENGTH))
        by_step.setdefault(point.get("step"), {})[key] = float(point["value"])
    for step, values in by_step.items():
        record(run, step, values)
    db.session.commit()
    return len(points)


# Chart groups, first match wins: the run page and the comparison show keys in this order.
GROUPS = (
    ("system", lambda k: k.startswith("system/")),
    ("eval", lambda k: k.startswith(("eval_", "eval/", "predict_", "test_"))),
    ("learning_rate", lambda k: "learning_rate" in k or k == "lr" or k.endswith("/lr")),
    ("grad_norm", lambda k: "grad_norm" in k),
    ("throughput", lambda k: any(w in k for w in ("per_second", "_per_sec", "throughput", "runtime"))),
    ("loss", lambda k: "loss" in k),
    ("other", lambda k: True),
)
GROUP_ORDER = ("loss", "eval", "learning_rate", "grad_norm", "throughput", "system", "other")


def grouped(keys) -> dict[str, list[str]]:
    """Keys by chart group, groups in GROUP_ORDER, keys sorted; empty groups left out."""
    found: dict[str, list[str]] = {}
    for key in sorted(keys):
        found.setdefault(next(name for name, test in GROUPS if test(key)), []).append(key)
    return {name: found[name] for name in GROUP_ORDER if name in found}


def _cached(key: tuple, version: int, compute):
    """A series is valid while its run's metrics version is unchanged (every batch raises it), so a
    page that is opened again or polled costs no metric query at all."""
    with _lock:
        hit = _cache.get(key)
        if hit and hit[0] == version:
            _cache.move_to_end(key)
            return hit[1]
    value = compute()
    with _lock:
        _cache[key] = (version, value)
        while len(_cache) > CACHE_SIZE:
            _cache.popitem(last=False)
    return value


def _points(run_id: int, key: str, max_points: int, start: float) -> dict:
    """One series: its rows as they are, or averaged into at most `max_points` step buckets in SQL;
    with the lowest and highest value recorded (a comparison's best value)."""
    where = (Metric.run_id == run_id, Metric.key == key)
    count, low, high = db.session.execute(
        select(func.count(), func.min(Metric.step), func.max(Metric.step)).where(*where)).one()
    if count <= max_points:
        rows = db.session.execute(select(Metric.step, Metric.value, Metric.created_at, Metric.value, Metric.value)
                                  .where(*where).order_by(Metric.step, Metric.id)).all()
    else:
        width = max(1, math.ceil((high - low + 1) / max_points))
        bucket = (Metric.step - low) // width
        rows = db.session.execute(select(func.min(Metric.step), func.avg(Metric.value),
                                         func.min(Metric.created_at, type_=Metric.created_at.type),
                                         func.min(Metric.value), func.max(Metric.value))
                                  .where(*where).group_by(bucket).order_by(bucket)).all()
    steps, values = [r[0] for r in rows], [float(r[1]) for r in rows]
    return {"steps": steps, "values": values, "count": count, "downsampled": count > max_points,
            "low": min((r[3] for r in rows), default=None), "high": max((r[4] for r in rows), default=None),
            # the comparison's [[step, value], …] and seconds since the run started (x by relative
            # time), as JSON: a comparison polled again writes none of its 100,000 numbers anew
            "pairs_json": to_json(list(zip(steps, values))),
            "seconds_json": to_json([round(as_utc(r[2]).timestamp() - start, 3) for r in rows])}


def series_many(runs: list[Run], wanted: list[str], max_points: int = 2000) -> dict[int, dict[str, dict]]:
    """Each run's series of each key (all of its keys when `wanted` is empty), in step order (see `_points`)."""
    max_points = max(10, min(max_points, 10000))
    found = {}
    for run in runs:
        start = as_utc(run.started_at or run.created_at).timestamp()
        found[run.id] = {key: _cached((run.id, key, max_points, start), run.metrics_version,
                                      partial(_points, run.id, key, max_points, start))
                         for key in (list(wanted) or sorted(run.last_metrics or {}))}
    return found


def series(run: Run, wanted: list[str], max_points: int = 2000) -> dict[str, dict]:
    """One run's series (see `series_many`)."""
    return series_many([run], wanted, max_points)[run.id]
