"""Sign-in, first-start setup, API tokens and the users admin page."""
from flask import Blueprint, flash, redirect, request, url_for
from flask_login import current_user, login_user, logout_user

from portal.auth import services
from portal.auth.access import public, requires, safe_next
from portal.auth.forms import LoginForm, SetupForm, TokenForm, UserCreateForm, UserUpdateForm
from portal.errors import PortalError
from portal.i18n import gettext as _
from portal.rendering import render

bp = Blueprint("auth", __name__)


@bp.route("/login", methods=["GET", "POST"])
@public
def login():
    if not services.has_users():
        return redirect(url_for("auth.setup"))
    if current_user.is_authenticated:
        return redirect(url_for("dashboard.index"))
    form = LoginForm()
    if form.validate_on_submit():
        try:
            user = services.authenticate(form.username.data, form.password.data, request.remote_addr or "")
        except PortalError as error:
            form.password.errors.append(error.message)
            return render("auth/login.html", form=form, http_status=401)
        login_user(user, remember=form.remember.data)
        return redirect(safe_next(request.args.get("next")) or url_for("dashboard.index"))
    return render("auth/login.html", form=form)


@bp.post("/logout")
@requires("viewer")
def logout():
    services.end_sessions(current_user)  # a copy of this session's cookie must not stay signed in
    logout_user()
    flash(_("You are signed out."), "info")
    return redirect(url_for("auth.login"))


@bp.route("/setup", methods=["GET", "POST"])
@public
def setup():
    """Creates the first administrator; gone once any user exists."""
    if services.has_users():
        return redirect(url_for("auth.login"))
    form = SetupForm()
    if form.validate_on_submit():
        try:
            user = services.create_first_admin(form.username.data, form.password.data)
        except PortalError as error:
            form[error.field or "username"].errors.append(error.message)
            return render("auth/setup.html", form=form, http_status=400)
        login_user(user)
        flash(_("Welcome, %(name)s. You are the administrator.", name=user.username), "success")
        return redirect(url_for("dashboard.index"))
    return render("auth/setup.html", form=form)


@bp.route("/ui/tokens", methods=["GET", "POST"])
@requires("viewer")
def tokens():
    """Every role manages its own tokens; a new token is shown in this response only."""
    form = TokenForm()
    new_token = None
    if form.validate_on_submit():
        token, new_token = services.create_token(current_user, form.label.data)
        form = TokenForm(formdata=None)
    return render("auth/tokens.html", block="token_list", form=form, new_token=new_token,
                  tokens=services.list_tokens(current_user))


@bp.post("/ui/tokens/<int:token_id>/revoke")
@requires("viewer")
def revoke_token(token_id: int):
    token = services.revoke_token(current_user, token_id)
    flash(_("Token %(prefix)s… revoked.", prefix=token.prefix), "info")
    return render("auth/tokens.html", block="token_list", form=TokenForm(), new_token=None,
                  tokens=services.list_tokens(current_user))


@bp.route("/ui/admin/users", methods=["GET", "POST"])
@requires("admin")
def users():
    form = UserCreateForm()
    if form.validate_on_submit():
        try:
            user = services.create_user(form.username.data, form.password.data, form.role.data)
            flash(_("User %(name)s created.", name=user.username), "success")
            return redirect(url_for("auth.users"))
        except PortalError as error:
            form[error.field or "username"].errors.append(error.message)
    return render("auth/users.html", form=form, users=services.list_users(),
                  http_status=400 if form.errors else 200)


@bp.post("/ui/admin/users/<int:user_id>")
@requires("admin")
def update_user(user_id: int):
    form = UserUpdateForm()
    if not form.validate():
        flash("; ".join(str(e) for errors in form.errors.values() for e in errors), "error")
        return redirect(url_for("auth.users"))
    user = services.update_user(user_id, role=form.role.data, active=form.active.data,
                                password=form.password.data or None, unlock=form.unlock.data)
    if user.id == current_user.id and user.active:
        login_user(user)  # an admin who set their own password stays signed in here
    flash(_("User %(name)s updated.", name=user.username), "success")
    return redirect(url_for("auth.users"))
