"""The dashboard: portal health, the GPU panel and the Slurm cluster panel, refreshed live."""
from flask import Blueprint, current_app

from portal.deployments import services as deployments
from portal.health import services as health
from portal.rendering import render
from portal.runs import services as runs
from portal.supervisor import executors, gpus

bp = Blueprint("dashboard", __name__)


@bp.get("/")
def index():
    settings = current_app.config["PORTAL"]
    return render("dashboard/index.html", block="live", health=health.report(),
                  gpus=gpus.probe(settings.fake_gpus), holders=runs.gpu_holders(), settings=settings,
                  serving=deployments.gpu_holders(),
                  cluster=executors.cluster())
