"""Domain errors, and their translation to HTTP in one place.

Services raise these; JSON requests get FastAPI's shape (`{"detail": ...}`), htmx requests the
message as an out-of-band flash (`htmx_error`), pages a flash message and a redirect back (or an
error page when there is nowhere to go back to).

Messages are translatable: a service passes a lazy string, `_l("Project %(name)s not found.",
name=name)` (`portal.i18n._l`), which becomes text only here, in the language of the one who
reads it: the page's, or for the API `Accept-Language` with English by default. A plain `str`
still works and is shown as it is (logs, the CLI and the supervisor never need a language).
"""
from flask import Flask, flash, jsonify, make_response, redirect, render_template, request
from flask_babel import LazyString, lazy_gettext
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException

from portal.extensions import htmx


class PortalError(Exception):
    """Base of the domain errors; `status` is the HTTP status it becomes."""

    status = 400

    def __init__(self, message: "str | LazyString", field: str | None = None):
        super().__init__(message)
        self._message = message
        self.field = field  # the form field it is about, so a page shows it there

    @property
    def message(self) -> str:
        """The text in the language of the request reading it (English outside requests)."""
        return str(self._message)


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


class TooMany(PortalError):
    status = 429


class InsufficientStorage(PortalError):
    status = 507


def found(value, message: "str | LazyString"):
    """`value`, or NotFound(message) when the lookup that produced it found nothing."""
    if value is None:
        raise NotFound(message)
    return value


HTML_PREFIXES = ("/ui/", "/login", "/logout", "/setup")
HTML_PATHS = ("/", "/docs")  # /docs is served by the API blueprint but is a page: sign in first


def wants_json() -> bool:
    """True when the request is for the JSON API rather than a page."""
    if request.path in HTML_PATHS or request.path.startswith(HTML_PREFIXES):
        return False
    if request.blueprint == "api" or request.path.startswith("/v1/"):
        return True
    best = request.accept_mimetypes.best_match(["application/json", "text/html"])
    return best != "text/html"


def json_error(status: int, detail, headers=None):
    response = jsonify(detail=detail)
    response.status_code = status
    for key, value in (headers or {}).items():
        response.headers[key] = value
    return response


# Pages say these instead of Werkzeug's English descriptions; the API keeps Werkzeug's.
HTTP_MESSAGES = {
    400: lazy_gettext("The request could not be understood."),
    403: lazy_gettext("You are not allowed to do this."),
    404: lazy_gettext("There is nothing at this address."),
    405: lazy_gettext("This address does not answer that method."),
    413: lazy_gettext("What was sent is too large."),
    500: lazy_gettext("Something went wrong on the server; the log has the details."),
}
CSRF_MESSAGE = lazy_gettext("This form has expired or came from another page: reload the page and send it again.")


def htmx_error(status: int, message: str):
    """The answer to an htmx request that failed: its status, no swap, the message as a flash.

    A redirect would be followed by the browser and a whole page swapped into the target; an
    error page would be swapped the same way (400/422 swap, see base.html). `HX-Reswap: none`
    keeps the target, app.js lets the out-of-band flash in whatever the status.
    """
    response = make_response(render_template("_flash_oob.html", message=message), status)
    response.headers["HX-Reswap"] = "none"
    response.vary.add("HX-Request")
    return response


def init_app(app: Flask) -> None:
    @app.errorhandler(PortalError)
    def _domain_error(error: PortalError):
        message = error.message
        if wants_json():
            return json_error(error.status, message)
        if htmx:
            return htmx_error(error.status, message)
        if request.method in ("POST", "PUT", "PATCH", "DELETE") and request.referrer:
            flash(message, "error")
            return redirect(request.referrer)
        return render_template("error.html", status=error.status, message=message), error.status

    @app.errorhandler(HTTPException)
    def _http_error(error: HTTPException):
        if wants_json():
            headers = {k: v for k, v in error.get_headers() if k.lower() != "content-type"}
            return json_error(error.code or 500, error.description, headers)
        message = error.description
        if isinstance(error, CSRFError):
            message = CSRF_MESSAGE
        elif message == type(error).description and error.code in HTTP_MESSAGES:
            message = HTTP_MESSAGES[error.code]
        if htmx:
            return htmx_error(error.code or 500, message)
        return render_template("error.html", status=error.code, message=message), error.code
