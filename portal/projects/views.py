"""Project pages: list with live search, create/edit with inline validation, project page."""
from flask import Blueprint, current_app, flash, redirect, request, url_for
from flask_login import current_user

from portal.errors import PortalError
from portal.extensions import htmx
from portal.i18n import gettext as _
from portal.i18n import run_name
from portal.projects import services
from portal.projects.forms import COMMAND_PRESETS, ProjectForm
from portal.rendering import go, render
from portal.runs import cleanup, search
from portal.runs import services as runs

bp = Blueprint("projects", __name__, url_prefix="/ui/projects")


def _training_files(folder: str, suffixes: tuple[str, ...]) -> list[str]:
    root = current_app.config["PORTAL"].training_dir
    base = root / folder
    if not base.is_dir():
        return []
    return sorted(str(p.relative_to(root)) for p in base.rglob("*")
                  if p.suffix in suffixes and p.name != "dataset_info.json")[:500]


def _form_page(form, project=None, status=200):
    return render("projects/form.html", block="form", form=form, project=project, section="projects",
                  dataset_files=_training_files("datasets", (".jsonl", ".json", ".csv", ".parquet")),
                  config_files=_training_files("configs", (".yaml", ".yml")), command_presets=COMMAND_PRESETS,
                  http_status=status)


@bp.get("/")
def index():
    q, tag, status = request.args.get("q", ""), request.args.get("tag", ""), request.args.get("status", "")
    projects = services.list_projects(q, tag, status, request.args.get("after", ""), 50)
    return render("projects/index.html", block="rows" if htmx.target == "project-rows" else None,
                  projects=projects, q=q, tag=tag, status=status, tags=services.all_tags(), section="projects")


@bp.route("/new", methods=["GET", "POST"])
def create():
    form = ProjectForm()
    if form.validate_on_submit():
        try:
            project = services.create_project(form.name.data, created_by=current_user.id,
                                              **form.fields_for_service())
        except (PortalError, ValueError) as error:
            form.form_errors.append(getattr(error, "message", str(error)))
        else:
            flash(_("Project %(name)s created.", name=project.name), "success")
            return go(url_for("projects.show", name=project.name))
    return _form_page(form, status=400 if form.errors or form.form_errors else 200)


@bp.post("/validate")
def validate():
    """Inline validation while typing: the form's problems and whether its files exist."""
    form = ProjectForm()
    editing = request.args.get("editing")
    problems, resources = [], []
    form.validate()
    problems += [f"{form[name].label.text}: {msg}" for name, msgs in form.errors.items()
                 if name != "csrf_token" for msg in msgs]
    try:
        fields = form.fields_for_service()
        if editing or "name" in form.errors:  # the form said what is wrong with the name: once is enough
            services.check_fields(fields)
        else:
            services.check_new(form.name.data or "", **fields)
        resources = services.resources(services.preview(fields))
    except (PortalError, ValueError) as error:
        problems.append(getattr(error, "message", str(error)))
    return render("projects/_feedback.html", problems=problems, resources=resources)


@bp.get("/<name>")
def show(name: str):
    project = services.get_project(name)
    project_runs = runs.list_runs(name, limit=50)
    if htmx.target == "project-runs" and not htmx.history_restore_request:  # the runs table polling itself
        return render("projects/show.html", block="runs", project=project, runs=project_runs,
                      live=any(r.active for r in project_runs), **_figures(project_runs))
    try:  # what a start would refuse, said before anyone clicks Run
        missing = runs.missing_to_start(project)
    except PortalError as error:
        missing = [error.message]
    return render("projects/show.html", missing=missing,
                  project=project, runs=project_runs, effective=services.effective(project),
                  resources=services.resources(project), live=any(r.active for r in project_runs),
                  section="projects", **_figures(project_runs))


def _figures(project_runs) -> dict:
    """What the project's runs table shows beside each run: its best eval loss and its disk use."""
    ids = [r.id for r in project_runs]
    return {"best": search.best_values(ids), "disk": cleanup.disk_use(ids)}


@bp.get("/<name>/cleanup")
def cleanup_preview(name: str):
    """What the project's clean-up policy would delete, run by run, and what that frees."""
    return render("projects/_cleanup.html", project=services.get_project(name), plans=cleanup.plan_project(name),
                  applied=False)


@bp.post("/<name>/cleanup")
def cleanup_apply(name: str):
    plans = cleanup.apply_project(name, by=current_user.id)
    if htmx:
        return render("projects/_cleanup.html", project=services.get_project(name), plans=plans, applied=True)
    flash(_("Clean-up done in %(count)s runs.", count=len(plans)), "success")
    return redirect(url_for("projects.show", name=name))


@bp.route("/<name>/edit", methods=["GET", "POST"])
def edit(name: str):
    project = services.get_project(name)
    form = ProjectForm()
    if request.method == "GET":
        form.fill_from(project)
    elif form.validate_on_submit():
        try:
            services.update_project(name, **form.fields_for_service())
        except (PortalError, ValueError) as error:
            form.form_errors.append(getattr(error, "message", str(error)))
        else:
            flash(_("Project saved."), "success")
            return go(url_for("projects.show", name=name))
    return _form_page(form, project=project, status=400 if form.errors or form.form_errors else 200)


@bp.post("/<name>/runs")
def start_run(name: str):
    run = runs.create_run(name, created_by=current_user.id)
    flash(_("%(run)s queued.", run=run_name(run)), "success")
    return go(url_for("runs.show", run_id=run.id))


@bp.post("/<name>/archive")
def archive(name: str):
    project = services.set_archived(name, request.form.get("archived", "1") == "1")
    flash(_("Project %(name)s archived.", name=project.name) if project.status == "archived"
          else _("Project %(name)s restored.", name=project.name), "info")
    return redirect(url_for("projects.show", name=name))
