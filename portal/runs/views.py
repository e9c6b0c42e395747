"""Run pages: all runs with status filters, and the live run page."""
from flask import Blueprint, flash, redirect, request, url_for
from flask_login import current_user

from portal.extensions import htmx
from portal.i18n import gettext as _
from portal.i18n import run_name
from portal.rendering import render
from portal.runs import compare as compare_runs
from portal.runs import metrics, services, snapshot
from portal.runs.models import ACTIVE, ENDED

bp = Blueprint("runs", __name__, url_prefix="/ui/runs")
# the charts' line colours (templates/runs/_chart_controls.html hands them to static/js/charts.js)
COLORS = ("#3853d8", "#e8590c", "#2f9e44", "#c2255c", "#7048e8", "#0c8599", "#f08c00", "#5c940d",
          "#862e9c", "#1971c2", "#d6336c", "#495057")
FILTERS = {"": None, "active": ",".join(ACTIVE), "ended": ",".join(ENDED), "failed": "failed,lost"}


@bp.get("/")
def index():
    chosen = request.args.get("status", "")
    found = services.list_runs(status=FILTERS.get(chosen, chosen) or None, before=request.args.get("before", type=int))
    return render("runs/index.html", block="rows" if htmx.target == "run-rows" else None, runs=found,
                  chosen=chosen, filters=FILTERS, live=any(r.active for r in found), section="runs")


@bp.get("/compare")
def compare():
    """Runs side by side; the choice is in the URL (ids=1,2,3, or a project's latest runs) to share it."""
    if request.args.get("project"):
        ids = compare_runs.latest_of(request.args["project"])
    else:
        raw = ",".join(request.args.getlist("ids"))
        ids = compare_runs.parse_ids(raw) if raw else []
        if len(request.args.getlist("ids")) > 1:  # a form without JavaScript sends ids=1&ids=2
            return redirect(url_for("runs.compare", ids=",".join(map(str, ids))))
    runs = compare_runs.load(ids) if ids else []
    overview = compare_runs.overview(runs, []) if runs else {"runs": [], "keys": [], "groups": {}, "config_diff": []}
    return render("runs/compare.html", ids=ids, overview=overview, project=request.args.get("project"),
                  section="runs")


@bp.get("/<int:run_id>")
def show(run_id: int):
    run = services.get_run(run_id)
    return render("runs/show.html", run=run, logs=services.list_logs(run_id, limit=500),
                  artifacts=services.list_artifacts(run_id), snap=run.snapshot or None,
                  config_link=snapshot.linked_version(run.snapshot), section="runs")


@bp.get("/<int:run_id>/status")
def status(run_id: int):
    """The status block alone: htmx polls it while the run is active."""
    return render("runs/show.html", block="status", run=services.get_run(run_id))


@bp.get("/<int:run_id>/events")
def events(run_id: int):
    return render("runs/show.html", block="events", run=services.get_run(run_id),
                  logs=services.list_logs(run_id, limit=500))


@bp.get("/<int:run_id>/artifacts")
def artifacts(run_id: int):
    return render("runs/show.html", block="artifacts", run=services.get_run(run_id),
                  artifacts=services.list_artifacts(run_id))


@bp.post("/<int:run_id>/stop")
def stop(run_id: int):
    run = services.request_stop(run_id, by=current_user.id)
    if htmx:
        return render("runs/show.html", block="status", run=run)
    flash(_("Stopping %(run)s.", run=run_name(run)), "info")
    return redirect(url_for("runs.show", run_id=run_id))


@bp.post("/<int:run_id>/rerun")
def rerun(run_id: int):
    run = services.rerun(run_id, created_by=current_user.id, mode=request.form.get("mode", "current"))
    flash(_("%(run)s queued.", run=run_name(run)), "success")
    return redirect(url_for("runs.show", run_id=run.id))


@bp.post("/artifacts/<int:artifact_id>/tags")
def tag_artifact(artifact_id: int):
    artifact = services.set_artifact_tags(artifact_id, request.form.get("tags", "").split(","))
    return render("runs/show.html", block="artifacts", run=services.get_run(artifact.run_id),
                  artifacts=services.list_artifacts(artifact.run_id), saved=artifact)


bp.add_app_template_global(services.duration, "elapsed")
bp.add_app_template_global(metrics.grouped, "metric_groups")
bp.add_app_template_global(COLORS, "chart_colors")
bp.add_app_template_global(services.command_text, "command_text")
