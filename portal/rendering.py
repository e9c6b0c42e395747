"""One helper decides between a whole page and an htmx fragment; one answers a form post."""
from flask import current_app, make_response, redirect, render_template
from jinja2_fragments.flask import render_block

from portal.extensions import htmx


def render(template: str, block: str | None = None, http_status: int = 200, **context):
    """Render `template`, or only its `block` for an htmx request.

    History-restore requests want the whole page even though htmx sends them, and the
    response varies on HX-Request so a cache never serves a fragment as a page.
    """
    if block and htmx and not htmx.history_restore_request:
        body = render_block(template, block, **context)
    else:
        body = render_template(template, **context)
    response = make_response(body, http_status)
    response.vary.add("HX-Request")
    return response


def go(url: str):
    """Redirect after a form post; an htmx request is told with HX-Redirect (a full page load)."""
    if htmx:
        response = current_app.response_class(status=204)
        response.headers["HX-Redirect"] = url
        return response
    return redirect(url)
