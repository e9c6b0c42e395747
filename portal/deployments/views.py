"""Deployment pages: the list, the form with a GPU picker, the live page with its log and playground."""
from flask import Blueprint, current_app, flash, request, url_for
from flask_login import current_user

from portal.deployments import command, services
from portal.deployments.forms import DeploymentForm
from portal.deployments.models import ENDED, LIVE
from portal.errors import PortalError
from portal.extensions import htmx
from portal.i18n import gettext as _
from portal.rendering import go, render

bp = Blueprint("deployments", __name__, url_prefix="/ui/deployments")
FILTERS = {"": None, "live": ",".join(LIVE), "ended": ",".join(ENDED)}


@bp.get("/")
def index():
    chosen = request.args.get("status", "")
    model, tag = request.args.get("model", ""), request.args.get("tag", "")
    found = services.list_deployments(model, tag, FILTERS.get(chosen, chosen) or "")
    return render("deployments/index.html", block="rows" if htmx.target == "deployment-rows" else None,
                  deployments=found, chosen=chosen, model=model, tag=tag, live=any(d.live for d in found),
                  section="deployments")


def _form_page(form: DeploymentForm, http_status: int = 200):
    return render("deployments/new.html", block="form" if htmx else None, http_status=http_status, form=form,
                  gpus=services.gpu_choices(), models=services.model_folders(),
                  adapters=services.adapter_folders(), section="deployments")


@bp.route("/new", methods=["GET", "POST"])
def new():
    form = DeploymentForm()
    form.preferred_gpu.choices = [("", _("any free GPU"))] + [(str(g["index"]), g["label"])
                                                              for g in services.gpu_choices()]
    if request.method == "GET":
        form.model_path.data = request.args.get("model", "")
        form.adapter_path.data = request.args.get("adapter", "")
        form.adapter_name.data = request.args.get("adapter_name", "")
        return _form_page(form)
    if not form.validate_on_submit():
        return _form_page(form, 400)
    try:
        item = services.create(form.fields_for_service(), created_by=current_user.id)
    except PortalError as error:
        form.form_errors.append(error.message)
        return _form_page(form, error.status)
    flash(_("Deployment of %(model)s created; it starts in a moment.", model=item.served_model_name), "success")
    return go(url_for("deployments.show", deployment_id=item.id))


@bp.get("/<deployment_id>")
def show(deployment_id: str):
    item = services.get(deployment_id)
    return render("deployments/show.html", item=item, events=services.events(deployment_id),
                  base_url=_base_url(item), adapters=services.adapter_folders(), section="deployments")


@bp.get("/<deployment_id>/status")
def status(deployment_id: str):
    """The status block alone: htmx polls it while the deployment is live."""
    item = services.get(deployment_id)
    return render("deployments/show.html", block="status", item=item, events=services.events(deployment_id),
                  base_url=_base_url(item))


@bp.get("/<deployment_id>/events")
def events(deployment_id: str):
    return render("deployments/show.html", block="events", item=services.get(deployment_id),
                  events=services.events(deployment_id))


@bp.post("/<deployment_id>/stop")
def stop(deployment_id: str):
    item = services.request_stop(deployment_id, force=request.form.get("force") == "1")
    flash(_("Stopping %(model)s.", model=item.served_model_name), "info")
    return go(url_for("deployments.show", deployment_id=item.id))


@bp.post("/<deployment_id>/restart")
def restart(deployment_id: str):
    item = services.restart(deployment_id)
    flash(_("Restarting %(model)s.", model=item.served_model_name), "info")
    return go(url_for("deployments.show", deployment_id=item.id))


@bp.post("/<deployment_id>/adapters")
def add_adapter(deployment_id: str):
    item = services.add_adapter(deployment_id, {"name": request.form.get("name", ""),
                                                "path": request.form.get("path", "")})
    flash(_("Adapter added; %(model)s restarts with it.", model=item.served_model_name), "info")
    return go(url_for("deployments.show", deployment_id=item.id))


def _base_url(item) -> str | None:
    return f"http://{current_app.config['PORTAL'].deploy_host}:{item.port}/v1" if item.port else None


bp.add_app_template_global(command.display, "shell_line")
bp.add_app_template_global(services.deploy_link, "deploy_link")
