"""Dataset pages: the list, create, a dataset with its files and the upload, a file's report and preview."""
from flask import Blueprint, flash, redirect, request, url_for
from flask_login import current_user

from portal.datasets import llamafactory, paths, preview, services, transfers
from portal.datasets.forms import DatasetEditForm, DatasetForm
from portal.errors import PortalError
from portal.i18n import gettext as _
from portal.extensions import htmx
from portal.rendering import go, render

bp = Blueprint("datasets", __name__, url_prefix="/ui/datasets")
PREVIEW_ROWS = 20


def _config_choices() -> list[tuple[str, str]]:
    try:
        from portal.configs.services import list_configs
    except ImportError:
        return [("", _("none"))]
    return [("", _("none"))] + [(c.name, c.name) for c in list_configs(limit=500)]


@bp.get("/")
def index():
    q = request.args.get("q", "")
    datasets = services.list_datasets(q, request.args.get("task_type", ""), request.args.get("after", ""), 50)
    return render("datasets/index.html", block="rows" if htmx.target == "dataset-rows" else None,
                  datasets=datasets, q=q, status=services.status, section="datasets")


@bp.route("/new", methods=["GET", "POST"])
def create():
    form = DatasetForm()
    form.train_config.choices = _config_choices()
    if form.validate_on_submit():
        try:
            dataset = services.create_dataset(form.name.data, created_by=current_user.id, **form.fields_for_service())
        except PortalError as error:
            form.form_errors.append(error.message)
        else:
            flash(_("Dataset %(name)s created: drop its files below.", name=dataset.name), "success")
            return go(url_for("datasets.show", dataset_id=dataset.id))
    return render("datasets/form.html", block="form", form=form, section="datasets",
                  http_status=400 if form.errors or form.form_errors else 200)


@bp.get("/<dataset_id>")
def show(dataset_id: str):
    dataset = services.get_dataset(dataset_id)
    files = [f for f in dataset.files if f.complete]
    flying = [f for f in dataset.files if f.in_flight]
    live = bool(flying) or any(f.status == "validating" for f in files)
    form = DatasetEditForm()
    form.train_config.choices = _config_choices()
    form.fill_from(dataset)
    fragment = htmx.target == "dataset-files"  # polled or refreshed after an upload: the header badge too
    return render("datasets/show.html", block="files" if fragment else None, fragment=fragment,
                  dataset=dataset, files=files, flying=flying, live=live, form=form,
                  status=services.status(dataset), train_config=services.train_config(dataset),
                  used_by=None if fragment else services.used_by(dataset),
                  relative=paths.relative, section="datasets")


@bp.post("/<dataset_id>/edit")
def edit(dataset_id: str):
    form = DatasetEditForm()
    form.train_config.choices = _config_choices()
    if not form.validate():
        flash("; ".join(f"{form[k].label.text}: {m}" for k, msgs in form.errors.items() for m in msgs), "error")
    else:
        services.update_dataset(dataset_id, **form.fields_for_service())
        flash(_("Dataset saved."), "success")
    return redirect(url_for("datasets.show", dataset_id=dataset_id))


@bp.post("/<dataset_id>/delete")
def delete(dataset_id: str):
    dataset = services.get_dataset(dataset_id)
    name, users = dataset.name, services.used_by(dataset)
    services.delete_dataset(dataset_id)
    flash(_("Dataset %(name)s and its files deleted.", name=name), "info")
    if users["projects"] or users["configs"]:
        flash(_("These still name it and need another dataset: projects %(projects)s; configs %(configs)s.",
                projects=", ".join(users["projects"]) or "—", configs=", ".join(users["configs"]) or "—"), "warning")
    return redirect(url_for("datasets.index"))


@bp.get("/<dataset_id>/files/<upload_id>")
def file(dataset_id: str, upload_id: str):
    item = services.get_file(dataset_id, upload_id)
    page = preview.page(services.file_path(item), request.args.get("cursor"), PREVIEW_ROWS)
    entry = llamafactory.entries(paths.datasets_root()).get(item.registered_as or "")
    return render("datasets/file.html", block="preview" if htmx.target == "preview-more" else None,
                  dataset=item.dataset, item=item, page=page, entry=entry,
                  path=paths.relative(item.dataset.name, item.stored_name), section="datasets")


@bp.post("/<dataset_id>/files/<upload_id>/register")
def register(dataset_id: str, upload_id: str):
    name, _entry = services.register_file(dataset_id, upload_id, request.form.get("name") or None)
    flash(_("Registered as %(name)s in datasets/dataset_info.json.", name=repr(name)), "success")
    return redirect(request.referrer or url_for("datasets.file", dataset_id=dataset_id, upload_id=upload_id))


@bp.post("/<dataset_id>/files/<upload_id>/delete")
def delete_file(dataset_id: str, upload_id: str):
    item = services.get_file(dataset_id, upload_id)
    transfers.cancel(item.id)
    flash(_("File %(name)s removed.", name=item.name), "info")
    return redirect(url_for("datasets.show", dataset_id=dataset_id))
