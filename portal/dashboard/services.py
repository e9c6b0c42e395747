"""What the dashboard shows besides health and GPUs: runs going and waiting, deployments serving,
recent events across the portal, and a getting-started list that ticks itself."""
from dataclasses import dataclass

from sqlalchemy import select

from portal.configs.models import TrainConfig
from portal.datasets.models import Dataset
from portal.deployments.models import Deployment, DeploymentEvent
from portal.extensions import db
from portal.projects import demo
from portal.projects.models import Project
from portal.runs.models import ACTIVE, Run, RunLog

EVENTS = 15
ACTIVE_SHOWN = 20
SERVING = ("starting", "running", "unhealthy")


@dataclass(frozen=True)
class Event:
    at: object
    level: str
    text: str
    run: Run | None = None
    deployment: Deployment | None = None


@dataclass(frozen=True)
class Step:
    key: str  # dataset, config, project, demo
    done: bool


def active_runs() -> list[Run]:
    """Running first, then the queue in the order it is served."""
    runs = db.session.scalars(select(Run).where(Run.status.in_(ACTIVE)).order_by(Run.id).limit(ACTIVE_SHOWN * 2)).all()
    return sorted(runs, key=lambda r: (r.status == "queued", r.id))[:ACTIVE_SHOWN]


def serving() -> list[Deployment]:
    return list(db.session.scalars(select(Deployment).where(Deployment.status.in_(SERVING))
                                   .order_by(Deployment.created_at.desc()).limit(ACTIVE_SHOWN)))


def recent_events() -> list[Event]:
    """The newest run and deployment events, merged by time."""
    run_events = db.session.scalars(select(RunLog).order_by(RunLog.id.desc()).limit(EVENTS)).all()
    runs = {r.id: r for r in db.session.scalars(select(Run).where(Run.id.in_({e.run_id for e in run_events})))}
    deploy_events = db.session.scalars(select(DeploymentEvent).order_by(DeploymentEvent.id.desc()).limit(EVENTS)).all()
    deployments = {d.id: d for d in db.session.scalars(
        select(Deployment).where(Deployment.id.in_({e.deployment_id for e in deploy_events})))}
    merged = [Event(e.created_at, e.level, e.text, run=runs.get(e.run_id)) for e in run_events]
    merged += [Event(e.created_at, e.level, e.text, deployment=deployments.get(e.deployment_id)) for e in deploy_events]
    return sorted(merged, key=lambda e: e.at, reverse=True)[:EVENTS]


def getting_started() -> list[Step]:
    """A new install's first steps; each ticks once it is done (the demo's own files do not count)."""
    def other(model, name_column) -> bool:
        return db.session.scalar(select(model).where(name_column != demo.DEMO).limit(1)) is not None

    demo_ran = db.session.scalar(select(Run.id).join(Project, Project.id == Run.project_id)
                                 .where(Project.name == demo.DEMO, Run.status == "succeeded").limit(1))
    return [Step("dataset", other(Dataset, Dataset.name)), Step("config", other(TrainConfig, TrainConfig.name)),
            Step("project", other(Project, Project.name)), Step("demo", demo_ran is not None)]
