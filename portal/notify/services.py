"""Notification channels (admins manage them) and what the supervisor does with the outbox.

Channels: create, change, delete, test. Secrets are write-only: stored, used to sign, never
returned. The outbox side: fan an event out into one delivery per channel that wants it, hand
out the deliveries that are due, and record each attempt with its retry time (back-off
`min(base·2^n, 3600)` s, given up 24 h after the event).
"""
import re
from datetime import timedelta
from urllib.parse import parse_qsl, urlsplit, urlunsplit

from flask import current_app
from sqlalchemy import func, insert, select, update
from sqlalchemy.exc import IntegrityError

from portal.errors import Conflict, Invalid, found
from portal.extensions import db
from portal.i18n import _l
from portal.notify import rules as rulebook
from portal.notify import transport
from portal.notify.models import (
    EVENTS,
    KINDS,
    LANGUAGES,
    Attempt,
    Channel,
    Delivery,
    Event,
)
from portal.projects.models import Project
from portal.timeutil import as_utc, utcnow

NAME_BYTES = 100
URL_LENGTH = 2000
SECRET_LENGTH = 500
MAX_RECIPIENTS = 20
MAX_PROJECTS = 100
EMAIL = re.compile(r"^[^@\s,;<>]+@[^@\s,;<>]+\.[^@\s,;<>]+$")
GIVE_UP_AFTER = timedelta(hours=24)
MAX_BACKOFF = 3600.0
MASK = "******"


def _settings():
    return current_app.config["PORTAL"]


def backoff(failures: int) -> float:
    """Seconds before the next try after `failures` failed ones: 30, 60, 120, … at most an hour."""
    return min(_settings().notify_retry_seconds * 2 ** (failures - 1), MAX_BACKOFF)


def list_channels() -> list[Channel]:
    return db.session.scalars(select(Channel).order_by(Channel.name)).all()


def get_channel(channel_id: int) -> Channel:
    return found(db.session.get(Channel, channel_id), _l("Channel %(id)s not found.", id=channel_id))


def masked_url(url: str) -> str:
    """The URL as shown: query values (the robots' access tokens and keys) cut to their first 4 characters."""
    parts = urlsplit(url)
    query = "&".join(f"{name}={value[:4]}…" if len(value) > 4 else f"{name}={value}"
                     for name, value in parse_qsl(parts.query))
    return urlunsplit(parts._replace(query=query))


def _check(kind: str, url: str, recipients: list[str], events: list[str], projects: list[str], language: str) -> None:
    if kind not in KINDS:
        raise Invalid(_l("kind must be one of: %(kinds)s", kinds=", ".join(KINDS)))
    if kind == "email":
        if not recipients or len(recipients) > MAX_RECIPIENTS or not all(EMAIL.match(r) for r in recipients):
            raise Invalid(_l("an e-mail channel needs 1-%(count)s addresses in \"to\"", count=MAX_RECIPIENTS))
    else:
        if len(url) > URL_LENGTH:
            raise Invalid(_l("the URL is at most %(length)s characters", length=URL_LENGTH))
        try:
            transport.check_url(url, _settings().notify_allow_private)
        except transport.Refused as error:
            raise Invalid(error.args[0]) from None
    unknown = [e for e in events if e not in EVENTS]
    if unknown:
        raise Invalid(_l("unknown events: %(events)s (known: %(known)s)", events=", ".join(unknown),
                         known=", ".join(EVENTS)))
    if len(projects) > MAX_PROJECTS:
        raise Invalid(_l("at most %(count)s projects per channel", count=MAX_PROJECTS))
    missing = sorted(set(projects) - set(db.session.scalars(select(Project.name).where(Project.name.in_(projects)))))
    if missing:
        raise Invalid(_l("no such projects: %(names)s", names=", ".join(missing)))
    if language not in LANGUAGES:
        raise Invalid(_l("language must be zh or en"))


def _name(name: str) -> str:
    name = (name or "").strip()
    if not name or len(name.encode()) > NAME_BYTES or "\x00" in name:
        raise Invalid(_l("name: 1-%(limit)s bytes of UTF-8", limit=NAME_BYTES))
    return name


def create_channel(name: str, kind: str, url: str = "", to: list[str] | None = None, secret: str = "",
                   events: list[str] | None = None, projects: list[str] | None = None, rules: list | None = None,
                   language: str = "en", enabled: bool = True, created_by: int | None = None) -> Channel:
    channel = Channel(name=_name(name), created_by=created_by)
    _assign(channel, kind=kind, url=url, to=to or [], secret=secret, events=events or [], projects=projects or [],
            rules=rules or [], language=language, enabled=enabled)
    db.session.add(channel)
    _commit(channel.name)
    return channel


def update_channel(channel_id: int, **changes) -> Channel:
    """Change the fields given; `secret=""` removes the secret, a secret left out keeps it."""
    channel = get_channel(channel_id)
    current = {"kind": channel.kind, "url": channel.url, "to": list(channel.recipients), "secret": channel.secret,
               "events": list(channel.events), "projects": list(channel.projects), "rules": list(channel.rules),
               "language": channel.language, "enabled": channel.enabled}
    try:
        if "name" in changes:
            channel.name = _name(changes.pop("name"))
        _assign(channel, **{**current, **changes})
    except Invalid:
        db.session.rollback()  # nothing half-changed stays in the session (a page shows the row as stored)
        raise
    _commit(channel.name)
    return channel


def _assign(channel: Channel, kind, url, to, secret, events, projects, rules, language, enabled) -> None:
    if any("\x00" in text for text in [url or "", secret or "", *to, *projects]):
        raise Invalid(_l("texts must not contain a NUL character"))
    url, to = (url or "").strip(), [address.strip() for address in to if address.strip()]
    events, projects = list(dict.fromkeys(events)), list(dict.fromkeys(p.strip() for p in projects if p.strip()))
    _check(kind, url, to, events, projects, language)
    if len(secret or "") > SECRET_LENGTH:
        raise Invalid(_l("the secret is at most %(length)s characters", length=SECRET_LENGTH))
    channel.kind, channel.url, channel.recipients = kind, "" if kind == "email" else url, to if kind == "email" else []
    channel.secret, channel.events, channel.projects = secret or "", events, projects
    channel.rules, channel.language, channel.enabled = rulebook.clean(rules), language, bool(enabled)


def _commit(name: str) -> None:
    try:
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        raise Conflict(_l("A channel named %(name)s exists already.", name=name)) from None


def delete_channel(channel_id: int) -> None:
    db.session.delete(get_channel(channel_id))
    db.session.commit()


def test_channel(channel_id: int):
    """Send a test message now (in the request: one call, TIMEOUT seconds at most) and say what came back."""
    from portal.notify import formats

    channel = get_channel(channel_id)
    return formats.send(formats.build(channel, None), _settings())


def list_attempts(channel_id: int, before: int | None = None, limit: int = 50) -> list[Attempt]:
    get_channel(channel_id)
    query = select(Attempt).where(Attempt.channel_id == channel_id)
    if before is not None:
        query = query.where(Attempt.id < before)
    return db.session.scalars(query.order_by(Attempt.id.desc()).limit(limit)).all()


def pending_count(channel_id: int) -> int:
    return db.session.scalar(select(func.count()).select_from(Delivery)
                             .where(Delivery.channel_id == channel_id, Delivery.status == "pending"))


# --- the supervisor's side (fenced commits, in the tick) ---

def _wants(channel: Channel, event) -> bool:
    if not channel.enabled:
        return False
    if event.channel_id is not None:
        return event.channel_id == channel.id
    if event.kind not in channel.events:
        return False
    return not channel.projects or event.project in channel.projects


def fan_out(limit: int = 500) -> int:
    """One delivery per channel that wants each new event; the events are then marked fanned out.

    Two statements for a whole batch (one INSERT, one UPDATE), so a burst of events costs a tick little.
    """
    events = db.session.execute(select(Event.id, Event.kind, Event.project, Event.channel_id, Event.occurred_at)
                                .where(Event.fanned_out.is_(False)).order_by(Event.occurred_at).limit(limit)).all()
    if not events:
        return 0
    channels = db.session.scalars(select(Channel).where(Channel.enabled)).all()
    rows = [{"event_id": event.id, "channel_id": channel.id, "next_attempt_at": event.occurred_at, "status": "pending",
             "attempts": 0, "created_at": utcnow()} for event in events for channel in channels if _wants(channel, event)]
    if rows:
        db.session.execute(insert(Delivery), rows)
    db.session.execute(update(Event).where(Event.id.in_([event.id for event in events])).values(fanned_out=True))
    db.session.commit()
    return len(events)


def due(busy_channels: set[int], limit: int) -> list[Delivery]:
    """Each channel's next due delivery (earliest retry time first), for channels with none in flight.

    Per channel, so a channel with a thousand waiting never hides another channel's one; by retry
    time, so a delivery that keeps failing waits its back-off without holding up the others. One
    index seek per channel (channel, status, retry time): a backlog costs the tick nothing.
    """
    now, found = utcnow(), []
    for channel_id in db.session.scalars(select(Channel.id).where(Channel.enabled).order_by(Channel.id)):
        if channel_id in busy_channels:
            continue
        delivery = db.session.scalar(select(Delivery).where(
            Delivery.channel_id == channel_id, Delivery.status == "pending", Delivery.next_attempt_at <= now)
            .order_by(Delivery.next_attempt_at, Delivery.id).limit(1))
        if delivery is not None:
            found.append(delivery)
            if len(found) >= limit:
                break
    return found


def record(delivery_id: int, ok: bool, status: int | None, reply: str) -> None:
    """Record one attempt; on failure schedule the next, or give up 24 h after the event (committed by the caller)."""
    delivery = db.session.get(Delivery, delivery_id)
    if delivery is None or delivery.status != "pending":
        return
    now = utcnow()
    delivery.attempts += 1
    retry_at = None
    if ok:
        delivery.status, delivery.delivered_at = "delivered", now
    elif now - as_utc(delivery.event.occurred_at) >= GIVE_UP_AFTER:
        delivery.status = "failed"
    else:
        retry_at = delivery.next_attempt_at = now + timedelta(seconds=backoff(delivery.attempts))
    db.session.add(Attempt(delivery_id=delivery.id, channel_id=delivery.channel_id, ok=ok, status_code=status,
                           reply=reply[:500], next_attempt_at=retry_at, attempted_at=now))

