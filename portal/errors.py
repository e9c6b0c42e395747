"""Domain errors, and their translation to HTTP in one place.

Services raise these; JSON requests get FastAPI's shape (`{"detail": ...}`), pages get a
flash message and a redirect back (or an error page when there is nowhere to go back to).
"""
from flask import Flask, flash, jsonify, redirect, render_template, request
from werkzeug.exceptions import HTTPException


class PortalError(Exception):
    """Base of the domain errors; `status` is the HTTP status it becomes."""

    status = 400

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


class Invalid(PortalError):
    status = 400


class Unauthorized(PortalError):
    status = 401


class Forbidden(PortalError):
    status = 403


class NotFound(PortalError):
    status = 404


class Conflict(PortalError):
    status = 409


class TooLarge(PortalError):
    status = 413


def found(value, message: str):
    """`value`, or NotFound(message) when the lookup that produced it found nothing."""
    if value is None:
        raise NotFound(message)
    return value


HTML_PREFIXES = ("/ui/", "/login", "/logout", "/setup")


def wants_json() -> bool:
    """True when the request is for the JSON API rather than a page."""
    if request.blueprint == "api" or request.path.startswith("/v1/"):
        return True
    if request.path == "/" or request.path.startswith(HTML_PREFIXES):
        return False
    best = request.accept_mimetypes.best_match(["application/json", "text/html"])
    return best != "text/html"


def json_error(status: int, detail, headers=None):
    response = jsonify(detail=detail)
    response.status_code = status
    for key, value in (headers or {}).items():
        response.headers[key] = value
    return response


def init_app(app: Flask) -> None:
    @app.errorhandler(PortalError)
    def _domain_error(error: PortalError):
        if wants_json():
            return json_error(error.status, error.message)
        if request.method in ("POST", "PUT", "PATCH", "DELETE") and request.referrer:
            flash(error.message, "error")
            return redirect(request.referrer)
        return render_template("error.html", status=error.status, message=error.message), error.status

    @app.errorhandler(HTTPException)
    def _http_error(error: HTTPException):
        if wants_json():
            headers = {k: v for k, v in error.get_headers() if k.lower() != "content-type"}
            return json_error(error.code or 500, error.description, headers)
        return render_template("error.html", status=error.code, message=error.description), error.code
