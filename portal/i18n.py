"""Languages and time zones: which ones a request gets, and the formatting helpers pages use.

The page language is the user's choice (the account preferences), else the browser's
`Accept-Language`, else PORTAL_DEFAULT_LOCALE. The JSON API follows `Accept-Language` and falls
back to English, so API clients that ask for nothing always read the same text; only the portal's
own pages, calling it with their session, get the user's choice.
Strings are marked with `_`/`gettext` in pages and with `_l` (lazy) where they are defined
before a request exists: form labels, domain errors, label tables.
"""
from __future__ import annotations

import json
from datetime import datetime

from babel import Locale
from babel.dates import format_skeleton
from flask import Flask, current_app, g, has_request_context, request, session
from flask_babel import force_locale, format_decimal, format_percent, get_locale, gettext, to_user_timezone
from flask_babel import lazy_gettext as _l
from flask_babel import lazy_pgettext
from flask_login import current_user
from markupsafe import Markup

# the module, not its names: config.py imports the executors, which may import this module
import portal.config as config
from portal.extensions import babel
from portal.timeutil import as_utc

# Each language named in itself: the switch must be readable by someone who cannot read the other.
LANGUAGE_NAMES = {"en": "English", "zh_CN": "中文"}
HTML_LANG = {"en": "en", "zh_CN": "zh-CN"}
SESSION_KEY = "locale"  # the choice of a visitor who is not signed in (the sign-in page)

# Machine values (run, dataset, job, deployment states; roles) stay English in the database and
# the API; these are their words on pages. A value missing here is shown as it is.
STATUS_LABELS = {
    "queued": lazy_pgettext("status", "queued"),
    "pending": lazy_pgettext("status", "pending"),
    "starting": lazy_pgettext("status", "starting"),
    "running": lazy_pgettext("status", "running"),
    "stopping": lazy_pgettext("status", "stopping"),
    "succeeded": lazy_pgettext("status", "succeeded"),
    "failed": lazy_pgettext("status", "failed"),
    # a run's stop ends in `cancelled` (the API's word); the page says what the user did: Stop
    "cancelled": lazy_pgettext("status", "stopped"),
    "stopped": lazy_pgettext("status", "stopped"),
    "lost": lazy_pgettext("status", "lost"),
    "unhealthy": lazy_pgettext("status", "unhealthy"),
    "empty": lazy_pgettext("status", "empty"),
    "receiving": lazy_pgettext("status", "receiving"),
    "uploading": lazy_pgettext("status", "uploading"),
    "validating": lazy_pgettext("status", "validating"),
    "ready": lazy_pgettext("status", "ready"),
    "invalid": lazy_pgettext("status", "invalid"),
    "active": lazy_pgettext("status", "active"),
    "archived": lazy_pgettext("status", "archived"),
    "ok": lazy_pgettext("status", "ok"),
    "degraded": lazy_pgettext("status", "degraded"),
}
ARTIFACT_LABELS = {
    "checkpoint": lazy_pgettext("artifact", "checkpoint"),
    "weights": lazy_pgettext("artifact", "weights"),
    "trainer_state": lazy_pgettext("artifact", "trainer state"),
}
ROLE_LABELS = {
    "viewer": lazy_pgettext("role", "viewer"),
    "operator": lazy_pgettext("role", "operator"),
    "admin": lazy_pgettext("role", "admin"),
}


def negotiate(header_languages) -> str | None:
    """The first catalog the browser accepts, by quality: any `zh-*` reads zh_CN, any `en-*` en."""
    for tag, _quality in header_languages:
        primary = tag.replace("_", "-").split("-")[0].lower()
        if primary == "zh":
            return "zh_CN"
        if primary == "en":
            return "en"
    return None


def user_preference():
    """The signed-in user's saved preferences row, or None (looked up once per request)."""
    if "portal_preference" not in g:
        from portal.account import services

        user = current_user if has_request_context() else None
        g.portal_preference = services.preference_for(user.id) if user and user.is_authenticated else None
    return g.portal_preference


def select_locale() -> str:
    settings = current_app.config["PORTAL"]
    if not has_request_context():
        return settings.default_locale
    from portal.errors import wants_json

    preference = user_preference()
    if wants_json():
        # the portal's own pages call the API with their session: answer in the page's language;
        # a client with a token gets what it asks for, else English
        if preference is not None and preference.locale in config.LOCALES and not g.get("token_auth"):
            return preference.locale
        return negotiate(request.accept_languages) or "en"
    if preference is not None and preference.locale in config.LOCALES:
        return preference.locale
    if session.get(SESSION_KEY) in config.LOCALES:
        return session[SESSION_KEY]
    return negotiate(request.accept_languages) or settings.default_locale


def select_timezone() -> str:
    preference = user_preference() if has_request_context() else None
    if preference is not None and preference.timezone:
        return preference.timezone
    return current_app.config["PORTAL"].timezone


def current_locale() -> str:
    """This request's language as one of LOCALES (Babel itself says zh_Hans_CN for zh_CN)."""
    locale = get_locale()
    if locale is None:
        return "en"
    for code in config.LOCALES:
        if Locale.parse(code) == locale:
            return code
    return str(locale)


def when(value: datetime | None) -> Markup:
    """A `<time>` in the reader's zone and words: "Dec 1, 2026 22:05" / "2026年12月1日 22:05",
    with the UTC time as its tooltip (the zone is the user's preference, else PORTAL_TIMEZONE)."""
    if value is None:
        return Markup("{}").format(gettext("never"))
    utc = as_utc(value)
    local = to_user_timezone(utc)
    locale = get_locale()
    text = f"{format_skeleton('yMMMd', local, locale=locale)} {format_skeleton('Hm', local, locale=locale)}"
    return Markup('<time datetime="{}" title="{}">{}</time>').format(
        utc.isoformat(), gettext("%(time)s UTC", time=utc.strftime("%Y-%m-%d %H:%M:%S")), text)


def run_name(run) -> str:
    """What a run is called on every page and message: `<project> #<number>` (its id is for URLs only)."""
    return f"{run.project.name} #{run.number}"


def duration(seconds) -> str:
    """`1d 2h 3m 4s` in the reader's words; — when unknown."""
    if seconds is None:
        return "—"
    s = int(seconds)
    parts = []
    if s >= 86400:
        parts.append(gettext("%(n)sd", n=s // 86400))
    if s >= 3600:
        parts.append(gettext("%(n)sh", n=(s % 86400) // 3600))
    parts.append(gettext("%(n)sm", n=(s % 3600) // 60))
    parts.append(gettext("%(n)ss", n=s % 60))
    return " ".join(parts)


def status_label(value) -> str:
    return str(STATUS_LABELS.get(value, value))


def role_label(value) -> str:
    return str(ROLE_LABELS.get(value, value))


def artifact_label(value) -> str:
    return str(ARTIFACT_LABELS.get(value, value))


def marked(text: str) -> str:
    """Marks product text kept as data (built-in policy descriptions) for extraction; pages show
    it with `_(text)`, the API as it is."""
    return text


def N_(msgid: str, **params) -> dict:
    """A message kept in a row (a run event, a notification) and translated when it is read.

    `N_` is a Babel keyword, so `scripts/i18n update` extracts `msgid`; store the dict (JSON)
    and show it with the `translated` filter or `translated()`.
    """
    return {"msgid": msgid, "params": params}


def translated(value) -> str:
    """A stored message in the reader's language; a plain string (an older row) as it is.

    A parameter may itself be a stored message (e.g. why a run was lost, inside "lost: …").
    """
    if isinstance(value, dict) and "msgid" in value:
        return gettext(value["msgid"], **{k: translated(v) for k, v in (value.get("params") or {}).items()})
    return "" if value is None else str(value)


def english(value) -> str:
    """A stored message as the API and the logs read it: its English text with its parameters."""
    if isinstance(value, dict) and "msgid" in value:
        params = {k: english(v) for k, v in (value.get("params") or {}).items()}
        return value["msgid"] % params if params else value["msgid"]  # as gettext formats it
    return "" if value is None else str(value)


def said(message, limit: int | None = None) -> dict:
    """The fields that keep a message in a row: `message` in English (the API, logs), `i18n` the
    `N_()` message itself, to show in the reader's language (None for plain text)."""
    text = english(message)
    return {"message": text[:limit] if limit else text, "i18n": message if isinstance(message, dict) else None}


def locale_of(user_id: int | None) -> str:
    """The language to write to a user in when no request is theirs (e-mails, webhooks)."""
    from portal.account import services

    preference = services.preference_for(user_id) if user_id is not None else None
    if preference is not None and preference.locale in config.LOCALES:
        return preference.locale
    return current_app.config["PORTAL"].default_locale


def speaking_to(user_id: int | None):
    """`with speaking_to(user.id): gettext(...)` renders in that user's language (a notification)."""
    return force_locale(locale_of(user_id))


def upload_messages() -> dict[str, str]:
    """What static/js/upload.js says, in the page's language (it reads them from data-messages)."""
    return {
        "cancel": gettext("Cancel"),
        "cancelled": gettext("Cancelled; nothing was kept."),
        "resuming": gettext("Connection lost; resuming (%(attempt)s/%(retries)s)…", attempt="{attempt}",
                            retries="{retries}"),
        "progress": gettext("%(sent)s of %(total)s · %(speed)s/s", sent="{sent}", total="{total}", speed="{speed}"),
        "uploaded": gettext("%(size)s uploaded · %(status)s", size="{size}", status="{status}"),
        "failed": gettext("Failed: %(reason)s", reason="{reason}"),
        "network": gettext("network error"),
        "statuses": {status: status_label(status) for status in ("validating", "ready", "invalid")},
    }


def json_text(value, indent: int | None = None) -> str:
    """JSON to read on a page: Chinese stays Chinese (`tojson` writes \\u4f60 for 你, safe only in scripts)."""
    return json.dumps(value, ensure_ascii=False, indent=indent)


def init_app(app: Flask) -> None:
    settings = app.config["PORTAL"]
    app.config.setdefault("BABEL_DEFAULT_LOCALE", settings.default_locale)
    app.config.setdefault("BABEL_DEFAULT_TIMEZONE", settings.timezone)
    babel.init_app(app, locale_selector=select_locale, timezone_selector=select_timezone)
    # {% trans %} blocks collapse their whitespace, as babel.cfg's extraction does: the ids must match
    app.jinja_env.policies["ext.i18n.trimmed"] = True
    app.jinja_env.filters.update(status_label=status_label, role_label=role_label, artifact_label=artifact_label,
                                 run_name=run_name,
                                 number=format_decimal, percent=format_percent, duration=duration,
                                 translated=translated, json_text=json_text)
    app.jinja_env.globals.update(format_when=when, languages=LANGUAGE_NAMES, upload_messages=upload_messages)

    @app.after_request
    def _vary(response):
        # the language may come from Accept-Language: a shared cache must not hand a page to the other one
        if request.endpoint != "static":
            response.vary.add("Accept-Language")
        return response

    @app.context_processor
    def _language():
        locale = current_locale()
        return {"locale": locale, "html_lang": HTML_LANG.get(locale, locale.replace("_", "-"))}


__all__ = ["_l", "N_", "gettext", "init_app", "when", "duration", "status_label", "role_label", "negotiate",
           "translated", "english", "said", "speaking_to", "run_name"]
