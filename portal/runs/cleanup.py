"""Checkpoints and disk: each checkpoint's size, step and metric, and a project's clean-up policy.

A policy (`projects.services.check_cleanup`) keeps the best N checkpoints by a metric
(trainer_state.json's `best_model_checkpoint` first, as the Trainer itself judged), the latest
M, and every tagged one; a run still going also keeps its newest, which may be half written.
The rest lose their optimizer state (`global_step*/`, `optimizer.pt`, `scheduler.pt`: they can
no longer be resumed from, but still be evaluated or deployed) or go entirely. The plan is made
from the executor's listing of the run's output dir, and deletion goes through the executor too,
which never leaves that dir nor follows a symlink.
"""
import fnmatch
import json
import re
from dataclasses import dataclass, field

from sqlalchemy import delete, select

from portal.errors import Conflict, Invalid
from portal.extensions import db
from portal.i18n import N_, _l
from portal.projects import services as projects
from portal.runs import services
from portal.runs.models import ACTIVE, Artifact, Metric, Run
from portal.runs.transitions import log_event
from portal.supervisor import executors
from portal.supervisor.executors.base import LaunchError

CHECKPOINT = re.compile(r"^checkpoint-(\d+)$")
# what resuming needs and nothing else does: DeepSpeed's global_step*/ folders, the Trainer's optimizer and scheduler
OPTIMIZER_DIRS = "global_step*"
OPTIMIZER_FILES = ("optimizer.pt", "scheduler.pt")
LIST_DEPTH = 4  # checkpoint-N/global_stepN/<file> is three deep
STATE_BYTES = 16 * 1024 * 1024  # the most of trainer_state.json read (it holds the whole log history)


@dataclass
class Checkpoint:
    path: str  # relative to the run's output dir
    step: int
    size: int = 0
    parts: dict[str, int] = field(default_factory=dict)  # optimizer state: relative path -> bytes
    metric: float | None = None
    tags: list[str] = field(default_factory=list)
    keep: list[str] = field(default_factory=list)  # why it stays: best, latest, tagged, running (the newest of a running run)
    remove: list[str] = field(default_factory=list)  # what goes
    frees: int = 0


@dataclass
class RunPlan:
    run: Run
    checkpoints: list[Checkpoint]

    @property
    def frees(self) -> int:
        return sum(c.frees for c in self.checkpoints)


def step_of(path: str) -> int | None:
    match = CHECKPOINT.match(path)
    return int(match.group(1)) if match else None


def inventory(files: list[tuple[str, int, float, bool]]) -> list[Checkpoint]:
    """The checkpoints in an output dir listing, with their folder totals and optimizer state."""
    found: dict[str, Checkpoint] = {}
    for rel, size, _mtime, is_dir in files:
        top, _, inner = rel.partition("/")
        step = step_of(top)
        if step is None or (not inner and not is_dir):
            continue
        checkpoint = found.setdefault(top, Checkpoint(path=top, step=step))
        if not inner or is_dir:
            continue
        checkpoint.size += size
        first = inner.split("/", 1)[0]
        in_folder = first != inner
        if (fnmatch.fnmatch(first, OPTIMIZER_DIRS) if in_folder else first in OPTIMIZER_FILES):
            key = f"{top}/{first}"
            checkpoint.parts[key] = checkpoint.parts.get(key, 0) + size
    return sorted(found.values(), key=lambda c: c.step)


def metric_at(run: Run, key: str, steps: list[int]) -> dict[int, float]:
    """The metric's value at each step: the last one recorded at or before it (an eval logs at its step)."""
    rows = db.session.execute(select(Metric.step, Metric.value).where(Metric.run_id == run.id, Metric.key == key)
                              .order_by(Metric.step, Metric.id)).all()
    values, index, last = {}, 0, None
    for step in sorted(steps):
        while index < len(rows) and rows[index][0] <= step:
            last = rows[index][1]
            index += 1
        if last is not None:
            values[step] = last
    return values


def best_checkpoint(run: Run, executor, checkpoints: list[Checkpoint]) -> str | None:
    """trainer_state.json's best_model_checkpoint (the run's, else its newest checkpoint's), as a folder name."""
    places = [run.output_dir] + [f"{run.output_dir}/{c.path}" for c in reversed(checkpoints)][:1]
    for place in places:
        try:
            state = json.loads(executor.read_file(run.handle, f"{place}/trainer_state.json", 0, STATE_BYTES) or b"{}")
        except (ValueError, LaunchError):
            continue
        best = state.get("best_model_checkpoint") if isinstance(state, dict) else None
        if isinstance(best, str) and best:
            return best.rstrip("/").rsplit("/", 1)[-1]
    return None


def policy_metric(run: Run) -> str:
    """The metric a run's checkpoints are judged by: the project policy's, else eval_loss."""
    return (run.project.cleanup or projects.CLEANUP_DEFAULTS)["metric"]


def describe(run: Run) -> list[Checkpoint]:
    """The run's checkpoints from its artifact rows (what the supervisor last listed): size, step, metric."""
    rows = [a for a in services.list_artifacts(run.id) if a.kind == "checkpoint" and step_of(a.path) is not None]
    found = [Checkpoint(path=a.path, step=step_of(a.path), size=a.size, tags=list(a.tags or [])) for a in rows]
    values = metric_at(run, policy_metric(run), [c.step for c in found])
    for checkpoint in found:
        checkpoint.metric = values.get(checkpoint.step)
    return sorted(found, key=lambda c: c.step)


def facts(run: Run) -> tuple[str, dict[str, Checkpoint]]:
    """For the run page: the metric checkpoints are judged by, and each checkpoint's step and value by path."""
    return policy_metric(run), {c.path: c for c in describe(run)}


def plan_run(run: Run, running: bool | None = None) -> RunPlan:
    """What the project's policy would do to this run's checkpoints, from a fresh listing.

    `running`: whether a run writing into the same folder is still going (default: this one).
    """
    policy = _policy(run.project)
    if run.handle is None:
        return RunPlan(run, [])
    executor = executors.get(run.executor)
    try:
        found = inventory(executor.list_files(run.handle, run.output_dir, max_depth=LIST_DEPTH))
    except LaunchError as error:
        raise Conflict(str(error)) from None
    tags = {a.path: list(a.tags or []) for a in services.list_artifacts(run.id)}
    values = metric_at(run, policy["metric"], [c.step for c in found])
    for checkpoint in found:
        checkpoint.metric, checkpoint.tags = values.get(checkpoint.step), tags.get(checkpoint.path, [])
    _decide(found, policy, best_checkpoint(run, executor, found),
            running=run.status in ACTIVE if running is None else running)
    return RunPlan(run, found)


def _decide(found: list[Checkpoint], policy: dict, best: str | None, running: bool) -> None:
    scored = [c for c in found if c.metric is not None and c.path != best]
    scored.sort(key=lambda c: c.metric, reverse=policy["mode"] == "max")
    ranking = [c for c in found if c.path == best] + scored
    for checkpoint in ranking[:policy["keep_best"]]:
        checkpoint.keep.append("best")
    for checkpoint in found[::-1][:policy["keep_latest"]]:
        checkpoint.keep.append("latest")
    for checkpoint in found:
        if checkpoint.tags:
            checkpoint.keep.append("tagged")
    if running and found:
        found[-1].keep.append("running")  # the newest of a running run may still be half written
    for checkpoint in found:
        if checkpoint.keep:
            continue
        if policy["action"] == "delete":
            checkpoint.remove, checkpoint.frees = [checkpoint.path], checkpoint.size
        else:
            checkpoint.remove, checkpoint.frees = sorted(checkpoint.parts), sum(checkpoint.parts.values())


def _policy(project) -> dict:
    if not project.cleanup:
        raise Invalid(_l("project %(name)s has no checkpoint clean-up policy", name=repr(project.name)))
    return project.cleanup


def plan_project(name: str) -> list[RunPlan]:
    project = projects.get_project(name)
    _policy(project)
    runs = db.session.scalars(select(Run).where(Run.project_id == project.id, Run.handle.is_not(None))
                              .order_by(Run.id.desc())).all()
    # runs whose config names one output_dir share a folder: it is planned once, as the newest run's,
    # and its newest checkpoint stays while any of them still writes there
    folders: dict[tuple, list[Run]] = {}
    for run in runs:
        folders.setdefault((run.executor, run.container, run.output_dir), []).append(run)
    return [plan_run(group[0], running=any(r.status in ACTIVE for r in group)) for group in folders.values()]


def apply_project(name: str, by: int | None = None) -> list[RunPlan]:
    """Do what the preview shows, run by run, each with its event; returns the plans carried out."""
    done = []
    for plan in plan_project(name):
        if any(c.remove for c in plan.checkpoints):
            apply_run(plan, by)
            done.append(plan)
    return done


def apply_run(plan: RunPlan, by: int | None = None) -> None:
    run = plan.run
    paths = [path for c in plan.checkpoints for path in c.remove]
    try:
        executors.get(run.executor).remove(run.handle, run.output_dir, paths)
    except LaunchError as error:
        raise Conflict(str(error)) from None
    deleted = [c.path for c in plan.checkpoints if c.remove == [c.path]]
    stripped = [c for c in plan.checkpoints if c.remove and c.remove != [c.path]]
    if deleted:
        db.session.execute(delete(Artifact).where(Artifact.run_id == run.id, Artifact.path.in_(deleted)))
    for checkpoint in stripped:
        db.session.execute(Artifact.__table__.update()
                           .where(Artifact.run_id == run.id, Artifact.path == checkpoint.path)
                           .values(size=checkpoint.size - checkpoint.frees))
    log_event(run, N_("checkpoint clean-up by %(who)s: deleted %(deleted)s; optimizer state removed from "
                      "%(stripped)s; %(freed)s bytes freed", who=services.who(by),
                      deleted=", ".join(deleted) or "-", stripped=", ".join(c.path for c in stripped) or "-",
                      freed=plan.frees))
    db.session.commit()


def disk_use(run_ids: list[int]) -> dict[int, int]:
    """Bytes of each run's recorded artifacts (checkpoints are folder totals)."""
    from sqlalchemy import func
    rows = db.session.execute(select(Artifact.run_id, func.sum(Artifact.size)).where(Artifact.run_id.in_(run_ids))
                              .group_by(Artifact.run_id)).all()
    return {run_id: int(total or 0) for run_id, total in rows}
