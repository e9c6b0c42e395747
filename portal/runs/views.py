"""Run pages: all runs with status filters, and the live run page."""
from datetime import date

from flask import Blueprint, flash, redirect, request, url_for
from flask_login import current_user

from portal.errors import Invalid
from portal.extensions import htmx
from portal.i18n import _l
from portal.projects import services as projects
from portal.i18n import gettext as _
from portal.i18n import run_name
from portal.rendering import render
from portal.runs import cleanup
from portal.runs import compare as compare_runs
from portal.runs import metrics, outputs, search, services, snapshot
from portal.runs.models import ACTIVE, ENDED

bp = Blueprint("runs", __name__, url_prefix="/ui/runs")
# the charts' line colours (templates/runs/_chart_controls.html hands them to static/js/charts.js)
COLORS = ("#3853d8", "#e8590c", "#2f9e44", "#c2255c", "#7048e8", "#0c8599", "#f08c00", "#5c940d",
          "#862e9c", "#1971c2", "#d6336c", "#495057")
FILTERS = {"": None, "active": ",".join(ACTIVE), "ended": ",".join(ENDED), "failed": "failed,lost"}


def _day(text: str):
    try:
        return date.fromisoformat(text) if text else None
    except ValueError:
        raise Invalid(_l("dates are written YYYY-MM-DD, got %(value)s", value=repr(text[:20]))) from None


@bp.get("/")
def index():
    """Every run, filtered, searched and sorted by what the URL says (so a view can be shared)."""
    args = request.args
    chosen = args.get("status", "")
    wanted = search.RunFilter(
        project=args.get("project", ""), status=FILTERS.get(chosen, chosen) or "", user=args.get("user", ""),
        tag=args.get("tag", ""), since=_day(args.get("since", "")), until=_day(args.get("until", "")),
        q=args.get("q", ""), sort=args.get("sort", "created"), key=args.get("key") or search.BEST_KEY,
        order=args.get("order", "desc"), before=args.get("before", type=int), page=args.get("page", 0, type=int))
    found = search.find(wanted)
    shown = {k: v for k, v in args.items() if k not in ("before", "page") and v}
    return render("runs/index.html", block="rows" if htmx.target == "run-rows" else None, runs=found,
                  chosen=chosen, filters=FILTERS, wanted=wanted, shown=shown, live=any(r.active for r in found),
                  best=search.best_values([r.id for r in found]), projects=projects.list_projects(limit=200),
                  users=search.users_who_queued(), tags=search.run_tags(), section="runs")


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


@bp.post("/<int:run_id>/notes")
def annotate(run_id: int):
    run = services.annotate(run_id, tags=request.form.get("tags", "").split(","), note=request.form.get("note", ""))
    if htmx:
        return render("runs/_notes.html", run=run, saved=True)
    return redirect(url_for("runs.show", run_id=run_id))


@bp.post("/artifacts/<int:artifact_id>/tags")
def tag_artifact(artifact_id: int):
    artifact = services.set_artifact_tags(artifact_id, request.form.get("tags", "").split(","))
    return render("runs/show.html", block="artifacts", run=services.get_run(artifact.run_id),
                  artifacts=services.list_artifacts(artifact.run_id), saved=artifact)


bp.add_app_template_global(services.duration, "elapsed")
bp.add_app_template_global(cleanup.facts, "checkpoint_facts")
bp.add_app_template_global(metrics.grouped, "metric_groups")
bp.add_app_template_global(COLORS, "chart_colors")
bp.add_app_template_global(services.command_text, "command_text")
bp.add_app_template_global(outputs.SOURCES, "output_sources")
