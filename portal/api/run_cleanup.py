"""Checkpoint clean-up of a project's runs: preview (viewer) and apply (operator)."""
from flask_login import current_user
from pydantic import BaseModel, Field

from portal.api import bp
from portal.api.spec import operation
from portal.projects import services as projects
from portal.runs import cleanup


class CheckpointPlan(BaseModel):
    path: str
    step: int
    size: int = Field(description="bytes of the whole checkpoint folder")
    metric_value: float | None = Field(description="the policy's metric at this step")
    tags: list[str]
    keep: list[str] = Field(description="why it stays: best, latest, tagged, running (the newest checkpoint of a run that goes on)")
    remove: list[str] = Field(description="paths under the output dir that go")
    frees: int


class RunPlanOut(BaseModel):
    run_id: int
    number: int
    status: str
    checkpoints: list[CheckpointPlan]
    frees: int


class CleanupOut(BaseModel):
    project: str
    policy: dict
    applied: bool
    runs: list[RunPlanOut]
    frees: int = Field(description="bytes the clean-up frees (preview) or freed (apply)")

    @classmethod
    def of(cls, name: str, plans: list, applied: bool) -> "CleanupOut":
        runs = [RunPlanOut(run_id=p.run.id, number=p.run.number, status=p.run.status, frees=p.frees,
                           checkpoints=[CheckpointPlan(path=c.path, step=c.step, size=c.size, metric_value=c.metric,
                                                       tags=c.tags, keep=c.keep, remove=c.remove, frees=c.frees)
                                        for c in p.checkpoints]) for p in plans]
        return cls(project=name, policy=projects.get_project(name).cleanup or {}, applied=applied, runs=runs, frees=sum(r.frees for r in runs))


ERRORS = {400: "The project has no clean-up policy", 404: "No such project",
          409: "A run's files cannot be read or deleted"}


@operation(bp, "GET", "/v1/projects/<name>/cleanup", summary="Preview a checkpoint clean-up", tag="projects",
           response=CleanupOut, errors=ERRORS)
def preview_cleanup(name: str):
    """What the project's policy would delete in each run's output dir, and how many bytes that frees."""
    return CleanupOut.of(name, cleanup.plan_project(name), applied=False)


@operation(bp, "POST", "/v1/projects/<name>/cleanup", summary="Apply a checkpoint clean-up", tag="projects",
           response=CleanupOut, errors=ERRORS)
def apply_cleanup(name: str):
    """Deletes what the preview shows (each run gets an event); never a running run's newest checkpoint."""
    return CleanupOut.of(name, cleanup.apply_project(name, by=current_user.id), applied=True)
