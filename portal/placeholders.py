"""Pages of domains whose issues have not landed yet: each says what will come.

Each is its own blueprint with the endpoint name the real page will keep (`projects.index`,
…), so navigation links stay the same when a domain package replaces its entry here.
"""
from flask import Blueprint

from portal.i18n import _l
from portal.rendering import render

COMING = {
    "deployments": (_l("Deployments"), _l("Serve trained models with vLLM on free GPUs, with health checks, "
                                          "restarts and logs.")),
}


def _blueprint(name: str, title: str, blurb: str) -> Blueprint:
    bp = Blueprint(name, __name__, url_prefix=f"/ui/{name}")

    @bp.get("/")
    def index():
        return render("placeholder.html", title=title, blurb=blurb, section=name)

    return bp


blueprints = [_blueprint(name, title, blurb) for name, (title, blurb) in COMING.items()]
