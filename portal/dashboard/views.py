"""The dashboard: portal health and the GPU panel, refreshed live."""
from flask import Blueprint, current_app

from portal.health import services as health
from portal.rendering import render
from portal.runs import services as runs
from portal.supervisor import gpus

bp = Blueprint("dashboard", __name__)


@bp.get("/")
def index():
    settings = current_app.config["PORTAL"]
    return render("dashboard/index.html", block="live", health=health.report(),
                  gpus=gpus.probe(settings.fake_gpus), holders=runs.gpu_holders(), settings=settings)
