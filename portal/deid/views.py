"""De-identification pages: a live playground, and policies to list, view, write and try."""
from flask import Blueprint, flash, redirect, request, url_for
from flask_login import current_user

from portal.auth.access import requires
from portal.deid import services
from portal.deid.forms import STARTER, PlaygroundForm, PolicyForm
from portal.deid.highlight import highlight
from portal.errors import Conflict, PortalError
from portal.i18n import _l, gettext as _
from portal.rendering import render

bp = Blueprint("deid", __name__, url_prefix="/ui/deid")


def _playground(form: PlaygroundForm):
    form.policy.choices = [(pid, pid) for pid in services.policy_ids()]
    return form


def _output(text: str, run) -> tuple[dict | None, str | None]:
    """(highlighted output, error message) of `run()`, a service call returning a DeidResult for [text]."""
    try:
        result = run()
    except PortalError as error:
        return None, error.message
    entities = result.results[0]["entities"]
    types = {e["replacement"]: e["type"] for e in entities}
    mapping = [(tag, original, types.get(tag)) for tag, original in (result.mapping or {}).items()]
    return {"pieces": highlight(text, entities), "mapping": mapping}, None


@bp.get("/")
def index():
    form = _playground(PlaygroundForm(policy=request.args.get("policy", "default")))
    text = form.text.data or ""
    output, error = _output(text, lambda: services.deidentify(form.policy.data, [text], None, True))
    return render("deid/index.html", form=form, output=output, error=error, section="deid")


@bp.post("/preview")
@requires("viewer")  # running the engine changes nothing; viewers may use the playground
def preview():
    """The playground's result: the fragment for htmx (live as one types), else the page."""
    form = _playground(PlaygroundForm())
    if not form.validate():
        output, error = None, "; ".join(m for f, ms in form.errors.items() if f != "csrf_token" for m in ms)
    else:
        text = form.text.data or ""
        output, error = _output(text, lambda: services.deidentify(form.policy.data, [text], form.seed.data, True))
    return render("deid/index.html", block="output", form=form, output=output, error=error, section="deid")


@bp.get("/policies")
def policies():
    return render("deid/policies.html", policies=services.list_policies(), section="deid")


@bp.get("/policies/<policy_id>")
def policy(policy_id: str):
    return render("deid/policy.html", policy=services.get_policy(policy_id), section="deid")


def _editor(form: PolicyForm, policy=None, problems=(), form_errors=(), status: int = 200):
    """The editor page; `problems` (the YAML's) fill its check panel, `form_errors` sit above the form."""
    return render("deid/edit.html", form=form, policy=policy, problems=list(problems),
                  form_errors=list(form_errors), output=None, error=None, section="deid", http_status=status)


def _save(form: PolicyForm, save, policy=None):
    """Run `save()`; on success go to the policy, else the editor again with every problem in place."""
    try:
        saved = save()
    except services.PolicyInvalid as error:
        return _editor(form, policy, problems=error.errors, status=422)
    except PortalError as error:
        return _editor(form, policy, form_errors=[error.message], status=error.status)
    flash(_("Policy %(name)s saved.", name=saved.id), "success")
    return redirect(url_for("deid.policy", policy_id=saved.id))


@bp.route("/new", methods=["GET", "POST"])
def create():
    form = PolicyForm()
    if request.method == "GET":
        base = request.args.get("base")
        form.yaml.data = services.get_policy(base).yaml if base else STARTER
        return _editor(form)
    return _save(form, lambda: services.create_policy((form.policy_id.data or "").strip(), form.yaml.data or "",
                                                      by=current_user.id))


@bp.route("/policies/<policy_id>/edit", methods=["GET", "POST"])
def edit(policy_id: str):
    policy = services.get_policy(policy_id)
    if policy.builtin:
        raise Conflict(_l("policy %(name)s is built in and read-only; copy it to a new policy", name=repr(policy_id)))
    form = PolicyForm()
    if request.method == "GET":
        form.yaml.data = policy.yaml
        return _editor(form, policy)
    return _save(form, lambda: services.save_policy(policy_id, form.yaml.data or "", by=current_user.id)[0],
                 policy)


@bp.post("/policies/<policy_id>/delete")
def delete(policy_id: str):
    services.delete_policy(policy_id)
    flash(_("Policy %(name)s deleted.", name=policy_id), "info")
    return redirect(url_for("deid.policies"))


@bp.post("/check")
def check():
    """The editor's live check: every problem of the YAML, or the policy run on the sample."""
    form = PolicyForm()
    problems, output, error = [], None, None
    try:
        services.check_yaml(form.yaml.data or "")
    except services.PolicyInvalid as invalid:
        problems = invalid.errors
    else:
        sample = form.sample.data or ""
        output, error = _output(sample, lambda: services.try_policy(form.yaml.data or "", [sample]))
    return render("deid/_check.html", problems=problems, output=output, error=error)

from portal.deid import job_views  # noqa: E402,F401 - its routes join this blueprint
