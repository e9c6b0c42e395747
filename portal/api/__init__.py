"""The JSON API blueprint: seed-api.md paths, FastAPI-shaped errors, OpenAPI and Swagger UI.

Cookie-authenticated calls (the browser's own fetches) must send the CSRF token in an
`X-CSRFToken` header; token-authenticated calls carry no cookie and need none.
"""
from flask import Blueprint, current_app, g, jsonify, render_template, request

from portal.api.spec import RequestInvalid
from portal.auth.access import SAFE_METHODS
from portal.errors import json_error
from portal.extensions import csrf

bp = Blueprint("api", __name__)
csrf.exempt(bp)


@bp.before_request
def _csrf_for_cookie_sessions():
    if request.method not in SAFE_METHODS and not g.get("token_auth"):
        if getattr(current_app.view_functions.get(request.endpoint or ""), "_portal_streaming", False):
            _csrf_header_only()
        else:
            csrf.protect()


def _csrf_header_only():
    """For streamed uploads: Flask-WTF would parse the whole body as a form looking for a token."""
    from flask_wtf.csrf import CSRFError, validate_csrf
    from wtforms import ValidationError

    try:
        validate_csrf(request.headers.get("X-CSRFToken"))
    except ValidationError as error:
        raise CSRFError(error.args[0]) from None


@bp.errorhandler(RequestInvalid)
def _invalid(error: RequestInvalid):
    return json_error(422, error.errors)


@bp.get("/openapi.json")
def openapi_document():
    from portal.api import openapi
    return jsonify(openapi.build("LLM Training Portal", current_app.config.get("PORTAL_VERSION", "0.1.0")))


@bp.get("/docs")
def docs():
    return render_template("api/docs.html")


# the domain modules register their routes on `bp` when imported
from portal.api import (  # noqa: E402,F401
    cluster, configs, datasets, deid, deid_jobs, deployments, gpus, health, me, notifications, projects, run_cleanup,
    run_compare, runs, tokens, uploads)
