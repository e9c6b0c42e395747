"""Config pages: the library, upload, a view with line numbers, a checked editor, versions."""
from flask import Blueprint, current_app, flash, redirect, request, url_for
from flask_login import current_user

from portal.configs import services
from portal.configs.diff import side_by_side
from portal.configs.forms import ConfigForm, NewConfigForm, UploadForm, starter
from portal.configs.limits import limit_request
from portal.configs.validate import ConfigInvalid, Problem
from portal.errors import PortalError
from portal.i18n import gettext as _
from portal.rendering import render

bp = Blueprint("configs", __name__, url_prefix="/ui/configs")


@bp.url_value_preprocessor
def _limit_bodies(_endpoint, _values):
    if request.method == "POST":
        limit_request(encoded=True)


@bp.get("/")
def index():
    current = services.current()
    return render("configs/index.html", configs=services.list_configs(limit=500), current=current,
                  section="configs")


def _editor(form, config=None, problems=(), form_errors=(), status: int = 200):
    """The editor; a failed save shows its `problems` in the check panel at once."""
    return render("configs/edit.html", form=form, config=config, problems=list(problems),
                  form_errors=list(form_errors), checked=None, section="configs", http_status=status)


def _save(form, save, config=None):
    """Run `save()`; on success go to the config, else the editor again with every problem."""
    try:
        row, _checked = save()
    except ConfigInvalid as error:
        return _editor(form, config, problems=error.problems, status=422)
    except PortalError as error:
        return _editor(form, config, form_errors=[error.message], status=error.status)
    flash(_("Config %(name)s saved (version %(version)s).", name=row.name, version=row.version), "success")
    return redirect(url_for("configs.show", name=row.name))


@bp.route("/new", methods=["GET", "POST"])
def create():
    form = NewConfigForm()
    if request.method == "GET":
        form.content.data = starter(services.datasets_dir())
        return _editor(form)
    if not form.validate():  # the name's own errors show under it: the rest (content, CSRF) above the form
        errors = [f"{form[name].label.text}: {msg}" for name, msgs in form.errors.items() if name != "name"
                  for msg in msgs]
        return _editor(form, form_errors=errors, status=400)
    return _save(form, lambda: services.save_config(form.name.data, form.text(), by=current_user.id,
                                                    create_only=True))


@bp.route("/<name>/edit", methods=["GET", "POST"])
def edit(name: str):
    config = services.get_config(name)
    form = ConfigForm()
    if request.method == "GET":
        form.content.data = services.get_version(config.name, config.version).content
        return _editor(form, config)
    if not form.validate():
        return _editor(form, config, form_errors=["The form expired; reload the page"], status=400)
    return _save(form, lambda: services.save_config(config.name, form.text(), by=current_user.id), config)


@bp.post("/check")
def check():
    """The editor's live check: every problem with its line and column, else summary and warnings."""
    form = ConfigForm()
    problems, checked = [], None
    if request.form.get("name"):  # only the new-config page sends one; an empty one is said on saving
        try:
            services.check_new_name(request.form["name"])
        except PortalError as error:
            problems.append(Problem(error.message, kind="name"))
    try:
        checked = services.check_content(form.text())
    except ConfigInvalid as error:
        problems += error.problems
    except PortalError as error:
        problems.append(Problem(error.message, kind="size"))
    return render("configs/_check.html", problems=problems, checked=checked)


@bp.route("/upload", methods=["GET", "POST"])
def upload():
    form = UploadForm()
    problems, errors = [], []
    if form.validate_on_submit():
        try:
            row, _checked = services.upload(form.file.data.filename or "", form.file.data.read(),
                                            name=(form.name.data or "").strip(), by=current_user.id,
                                            make_current=form.make_current.data)
        except ConfigInvalid as error:
            problems = error.problems
        except PortalError as error:
            errors.append(error.message)
        else:
            flash(_("Uploaded %(filename)s as %(name)s (version %(version)s).", filename=row.filename, name=row.name,
                    version=row.version), "success")
            return redirect(url_for("configs.show", name=row.name))
    errors += [msg for name, msgs in form.errors.items() for msg in msgs]
    status = 422 if problems else 400 if errors else 200
    return render("configs/upload.html", form=form, problems=problems, form_errors=errors,
                  limit=current_app.config["PORTAL"].max_config_bytes, section="configs", http_status=status)


@bp.get("/<name>")
def show(name: str):
    return render("configs/show.html", detail=services.detail(name), section="configs")


@bp.get("/<name>/raw")
def raw(name: str):
    """The YAML as a file, e.g. to open it in an editor or `curl` it."""
    detail = services.detail(name)
    response = current_app.response_class(detail.content, mimetype="text/plain")
    response.headers["Content-Disposition"] = f'inline; filename="{detail.config.name}.yaml"'
    return response


@bp.get("/<name>/versions/<int:number>")
def version(name: str, number: int):
    config = services.get_config(name)
    return render("configs/version.html", config=config, version=services.get_version(config.name, number),
                  section="configs")


@bp.get("/<name>/diff")
def diff(name: str):
    """Two versions side by side (`a` and `b`; by default the one before the latest, and the latest)."""
    config = services.get_config(name)
    b = request.args.get("b", config.version, type=int)
    a = request.args.get("a", max(1, b - 1), type=int)
    old, new = services.get_version(config.name, a), services.get_version(config.name, b)
    return render("configs/diff.html", config=config, old=old, new=new, rows=side_by_side(old.content, new.content),
                  versions=services.versions(config.name), section="configs")


@bp.post("/<name>/versions/<int:number>/restore")
def restore(name: str, number: int):
    row = services.restore_version(name, number, by=current_user.id)
    flash(_("Version %(number)s restored; %(name)s is at version %(version)s.", number=number, name=row.name,
            version=row.version), "success")
    return redirect(url_for("configs.show", name=row.name))


@bp.post("/<name>/current")
def make_current(name: str):
    row = services.set_current(name)
    flash(_("%(name)s is now the current config.", name=row.name), "success")
    return redirect(url_for("configs.show", name=row.name))


@bp.post("/<name>/delete")
def delete(name: str):
    row = services.get_config(name)
    services.delete_config(row.name)
    flash(_("Config %(name)s deleted.", name=row.name), "info")
    return redirect(url_for("configs.index"))
