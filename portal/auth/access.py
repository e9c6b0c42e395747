"""Who may call what: one gate in front of every route.

Every endpoint needs a signed-in user or an API token unless it is marked `@public`.
Reading needs `viewer`; any other method needs `operator` unless the view says otherwise
with `@requires(role)`. Because the gate runs for every request, a new route is protected
without anyone remembering to decorate it.
"""
import re
from datetime import timedelta
from urllib.parse import urlsplit

from flask import Flask, current_app, g, redirect, request, url_for
from flask_login import current_user

from portal.auth import services
from portal.auth.models import User
from portal.errors import Forbidden, json_error, wants_json
from portal.extensions import db, login_manager
from portal.i18n import ROLE_LABELS, _l

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
REMEMBER_FOR = timedelta(days=30)
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def public(view):
    """Mark a view as reachable without signing in."""
    view._portal_public = True
    return view


def requires(role: str):
    """Set the least role a view needs, for every method it answers."""
    def mark(view):
        view._portal_role = role
        return view
    return mark


def bearer_token() -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


@login_manager.user_loader
def _load_session_user(session_id: str) -> User | None:
    """The user of a session or remember-me cookie, while its generation is the user's current one."""
    user_id, _, generation = session_id.partition(":")
    if not (user_id.isascii() and user_id.isdigit() and generation.isascii() and generation.isdigit()):
        return None  # also a cookie from before generations existed: sign in again
    user = db.session.get(User, int(user_id))
    return user if user is not None and user.session_generation == int(generation) else None


def _load_token_user(_request) -> User | None:
    token = bearer_token()
    if token is None:
        return None
    user = services.user_for_token(token)
    g.token_auth = user is not None  # a forged cross-site request cannot carry it: no CSRF check needed
    return user


def safe_next(target: str | None) -> str | None:
    """Only same-site paths are followed after sign-in (no open redirects)."""
    # Browsers drop tabs and newlines inside a URL (`/\t/evil.com` is `//evil.com` to them), and a
    # newline in a Location header is a 500: judge the target as the browser will read it.
    target = _CONTROL.sub("", target or "")
    if not target.startswith("/") or "\\" in target:
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or parts.path.startswith("//"):
        return None
    return target


def signed_in() -> bool:
    """Whether the caller is a signed-in user or presents a valid token (public views ask too)."""
    if bearer_token() and "_login_user" not in g:
        # A presented token decides who calls, even beside a browser's session cookie (Flask-Login
        # would try the session first). `g._login_user` is where Flask-Login keeps the user.
        g._login_user = _load_token_user(request) or login_manager.anonymous_user()
    return current_user.is_authenticated


def _gate():
    view = current_app.view_functions.get(request.endpoint or "")
    if view is None or request.endpoint == "static" or getattr(view, "_portal_public", False):
        return None
    if not signed_in():
        if wants_json():
            detail = "Invalid or revoked API token" if bearer_token() else "Not authenticated"
            return json_error(401, detail, {"WWW-Authenticate": "Bearer"})
        if not services.has_users():
            return redirect(url_for("auth.setup"))
        target = request.full_path.rstrip("?") if request.method == "GET" else None
        return redirect(url_for("auth.login", next=safe_next(target)))
    needed = getattr(view, "_portal_role", None) or ("viewer" if request.method in SAFE_METHODS else "operator")
    if not current_user.can(needed):
        raise Forbidden(_l("This needs the %(needed)s role; you are %(role)s", needed=ROLE_LABELS[needed],
                            role=ROLE_LABELS.get(current_user.role, current_user.role)))
    return None


def init_app(app: Flask) -> None:
    """Install the gate; call before CSRFProtect so unauthenticated calls get 401, not 400."""
    login_manager.init_app(app)
    login_manager.login_view = "auth.login"
    login_manager.session_protection = "basic"
    # Flask-Login's default is a year; a stolen remember cookie should not outlive a month
    app.config.setdefault("REMEMBER_COOKIE_DURATION", REMEMBER_FOR)
    app.before_request(_gate)
