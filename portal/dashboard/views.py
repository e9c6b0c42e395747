"""The dashboard, a home: what runs and waits, what serves, recent events, health, disk, GPUs and the
Slurm cluster, refreshed live; on a new install a getting-started list that ticks itself."""
from flask import Blueprint, current_app

from portal.dashboard import services as home
from portal.deployments import services as deployments
from portal.health import services as health
from portal.projects import demo
from portal.rendering import render
from portal.runs import services as runs
from portal.supervisor import executors, gpus

bp = Blueprint("dashboard", __name__)


@bp.get("/")
def index():
    settings = current_app.config["PORTAL"]
    steps = home.getting_started()
    return render("dashboard/index.html", block="live", health=health.report(),
                  gpus=gpus.probe(settings.fake_gpus), holders=runs.gpu_holders(), settings=settings,
                  serving=deployments.gpu_holders(), cluster=executors.cluster(),
                  active_runs=home.active_runs(), deployments=home.serving(), events=home.recent_events(),
                  steps=steps if not all(s.done for s in steps) else [], demo_installed=demo.exists())
