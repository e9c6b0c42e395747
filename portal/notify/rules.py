"""Channel rules on runs: a metric turns NaN/inf, crosses a threshold after a step, output stalls,
or the run's GPUs idle (the tracking's idle judgment, without stopping the run).

A rule fires once per run and channel until its condition clears (a `RuleState` row marks it
fired). Metric rules are judged on every point as it is recorded (`on_points`, in the
transaction that records it, so the event and the points are written together); the stall rule
by the supervisor from the age of the run's output file (`stalled`), which survives restarts; the
idle-GPU rule whenever the GPUs are sampled (`idle_gpus`), from the recorded samples.
"""
import hashlib
import json
import math
import operator

from sqlalchemy import delete, select

from portal.errors import Invalid
from portal.extensions import db
from portal.i18n import _l
from portal.notify import outbox
from portal.notify.models import Channel, RuleState

KINDS = ("nonfinite", "threshold", "stalled", "idle_gpus")
OPERATORS = {">": operator.gt, ">=": operator.ge, "<": operator.lt, "<=": operator.le}
MAX_RULES = 20
METRIC_LENGTH = 100  # a metric key's limit (runs.metrics.KEY_LENGTH)
MAX_STALL_MINUTES = 7 * 24 * 60


def clean(rules: list) -> list[dict]:
    """The rules as stored: checked, with only their own fields (Invalid otherwise)."""
    if not isinstance(rules, list) or len(rules) > MAX_RULES:
        raise Invalid(_l("at most %(count)s rules per channel", count=MAX_RULES))
    return [_clean_one(rule) for rule in rules]


def _clean_one(rule) -> dict:
    kind = rule.get("kind") if isinstance(rule, dict) else None
    metric = str(rule.get("metric") or "").strip() if isinstance(rule, dict) else ""
    if len(metric) > METRIC_LENGTH:
        raise Invalid(_l("a rule's metric is at most %(length)s characters", length=METRIC_LENGTH))
    if kind == "nonfinite":
        return {"kind": kind, "metric": metric}
    if kind == "threshold":
        value, after = rule.get("value"), rule.get("after_step", 0)
        if not metric or rule.get("op") not in OPERATORS or isinstance(value, bool) or \
                not isinstance(value, (int, float)) or not math.isfinite(value) or \
                not isinstance(after, int) or isinstance(after, bool) or not 0 <= after <= 2**31 - 1:
            raise Invalid(_l("a threshold rule needs a metric, an operator (> >= < <=), a finite value and "
                             "a step from 0 to start after"))
        return {"kind": kind, "metric": metric, "op": rule["op"], "value": float(value), "after_step": after}
    if kind == "stalled":
        minutes = rule.get("minutes")
        if not isinstance(minutes, int) or isinstance(minutes, bool) or not 1 <= minutes <= MAX_STALL_MINUTES:
            raise Invalid(_l("a stall rule needs minutes from 1 to %(most)s", most=MAX_STALL_MINUTES))
        return {"kind": kind, "minutes": minutes}
    if kind == "idle_gpus":
        percent, minutes = rule.get("percent"), rule.get("minutes")
        if not all(isinstance(v, int) and not isinstance(v, bool) for v in (percent, minutes)) or \
                not 1 <= percent <= 100 or not 1 <= minutes <= MAX_STALL_MINUTES:
            raise Invalid(_l("an idle-GPU rule needs a percent from 1 to 100 and minutes from 1 to %(most)s",
                             most=MAX_STALL_MINUTES))
        return {"kind": kind, "percent": percent, "minutes": minutes}
    raise Invalid(_l("a rule's kind is one of: %(kinds)s", kinds=", ".join(KINDS)))


def key(rule: dict) -> str:
    return hashlib.sha1(json.dumps(rule, sort_keys=True).encode()).hexdigest()


def _watching(run, kinds: tuple[str, ...]) -> list[tuple[Channel, dict]]:
    """(channel, rule) pairs of enabled channels that watch `run`'s project with a rule of `kinds`."""
    found = []
    for channel in db.session.scalars(select(Channel).where(Channel.enabled)).all():
        if channel.projects and run.project.name not in channel.projects:
            continue
        found += [(channel, rule) for rule in channel.rules or [] if rule["kind"] in kinds]
    return found


def _matches(rule: dict, step: int, metric: str, value: float) -> bool | None:
    """Whether a point meets the rule's condition; None when the rule does not look at it."""
    if rule["metric"] and metric != rule["metric"]:
        return None
    if rule["kind"] == "nonfinite":
        return not math.isfinite(value)
    if step <= rule["after_step"]:
        return None
    return OPERATORS[rule["op"]](value, rule["value"])


def on_points(run, points: list[tuple[int | None, dict[str, float]]]) -> None:
    """Judge the metric rules on points being recorded for `run` (NaN and inf included)."""
    watching = _watching(run, ("nonfinite", "threshold")) if points else []
    if not watching:
        return
    fired = _fired(run)
    for channel, rule in watching:
        state = was = (channel.id, key(rule)) in fired
        for step, values in points:
            for metric, value in values.items():
                met = _matches(rule, step if step is not None else (run.step or 0), metric, value)
                if met and not state:
                    outbox.rule_fired(run, channel.id, {**rule, "seen": {"metric": metric, "step": step,
                                                                         "value": _json_number(value)}})
                state = state if met is None else met
        _keep(channel.id, run.id, key(rule), was, state)


def stalled(run, last_output_age: float) -> None:
    """Judge the stall rules of a running run whose output last grew `last_output_age` seconds ago."""
    _judge(run, "stalled", lambda rule: last_output_age >= rule["minutes"] * 60, {"seconds": round(last_output_age)})


def idle_gpus(run, idle) -> None:
    """Judge the idle-GPU rules of a running run; `idle(percent, minutes)` says whether its GPUs idled."""
    _judge(run, "idle_gpus", lambda rule: idle(rule["percent"], rule["minutes"]), {})


def _judge(run, kind: str, holds, seen: dict) -> None:
    """Fire each `kind` rule watching `run` whose condition `holds(rule)` newly holds; forget it once it clears."""
    watching = _watching(run, (kind,))
    if not watching:
        return
    fired = _fired(run)
    for channel, rule in watching:
        was = (channel.id, key(rule)) in fired
        now = holds(rule)
        if now and not was:
            outbox.rule_fired(run, channel.id, {**rule, "seen": seen})
        _keep(channel.id, run.id, key(rule), was, now)


def _fired(run) -> set[tuple[int, str]]:
    """(channel id, rule key) of the rules that fired for `run` and have not cleared since."""
    return set(db.session.execute(select(RuleState.channel_id, RuleState.rule)
                                  .where(RuleState.run_id == run.id)).tuples())


def _keep(channel_id: int, run_id: int, rule_key: str, was: bool, now: bool) -> None:
    if now and not was:
        db.session.add(RuleState(channel_id=channel_id, run_id=run_id, rule=rule_key))
    elif was and not now:
        db.session.execute(delete(RuleState).where(RuleState.channel_id == channel_id, RuleState.run_id == run_id,
                                                   RuleState.rule == rule_key))


def _json_number(value: float):
    """JSON has no NaN or inf (PostgreSQL refuses them): those are kept as words."""
    return value if math.isfinite(value) else str(value)
