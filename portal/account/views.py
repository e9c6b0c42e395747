"""The preferences page, and the one-click language switch of the user menu."""
from flask import Blueprint, current_app, flash, redirect, request, session, url_for
from flask_login import current_user, user_logged_in

from portal.account import services
from portal.account.forms import PreferencesForm
from portal.auth.access import public, requires, safe_next
from portal.config import LOCALES
from portal.errors import Invalid
from portal.i18n import SESSION_KEY, _l, gettext as _
from portal.rendering import render
from portal.timeutil import utcnow

bp = Blueprint("account", __name__, url_prefix="/ui/account")
CHOSEN_SIGNED_OUT = "locale_chosen_signed_out"  # switched on the sign-in page: adopt it at sign-in


@bp.route("/", methods=["GET", "POST"])
@requires("viewer")
def preferences():
    form = PreferencesForm(server_zone=current_app.config["PORTAL"].timezone)
    if form.validate_on_submit():
        services.update(current_user.id, locale=form.locale.data, timezone=form.timezone.data)
        session.pop(SESSION_KEY, None)
        flash(_("Preferences saved."), "success")
        return redirect(url_for("account.preferences"))
    if request.method == "GET":
        saved = services.preference_for(current_user.id)
        form.locale.data = saved.locale if saved else ""
        form.timezone.data = saved.timezone if saved else ""
    return render("account/preferences.html", form=form, now=utcnow(), http_status=400 if form.errors else 200)


@bp.post("/language")
@public
def language():
    """Switch the page language and stay on the page: saved for a user, kept in the session otherwise."""
    locale = request.form.get("locale", "")
    if locale not in LOCALES:
        raise Invalid(_l("Unknown language %(locale)s.", locale=locale))
    if current_user.is_authenticated:
        services.update(current_user.id, locale=locale)
    else:
        session[CHOSEN_SIGNED_OUT] = True
    session[SESSION_KEY] = locale
    back = safe_next(request.form.get("next")) or url_for("dashboard.index")
    return redirect(back)


@user_logged_in.connect
def _adopt_language(_app, user, **_extra):
    """The language someone switched to on the sign-in page becomes theirs when they sign in."""
    if session.pop(CHOSEN_SIGNED_OUT, False) and session.get(SESSION_KEY) in LOCALES:
        services.update(user.id, locale=session[SESSION_KEY])
