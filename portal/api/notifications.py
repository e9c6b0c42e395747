"""Notification channels (admins only): create, list, change, delete, test, and their deliveries.

Secrets are write-only: a channel says whether it has one (`secret: "******"`), never what it is;
URLs are shown with their query values cut, as the chat robots keep their tokens there.
"""
from typing import Literal

from flask_login import current_user
from pydantic import BaseModel, Field

from portal.api import bp
from portal.api.schemas import Id, Timestamp
from portal.api.spec import operation
from portal.notify import rules, services
from portal.notify.models import EVENTS, KINDS

TAG = "notifications"
NOT_FOUND = {404: "No such channel"}
Kind = Literal[KINDS]  # type: ignore[valid-type]
Event = Literal[EVENTS]  # type: ignore[valid-type]


class NonFiniteRule(BaseModel):
    kind: Literal["nonfinite"]
    metric: str = Field("", max_length=rules.METRIC_LENGTH, description="a metric key; empty: any metric")


class ThresholdRule(BaseModel):
    kind: Literal["threshold"]
    metric: str = Field(min_length=1, max_length=rules.METRIC_LENGTH, examples=["loss"])
    op: Literal[tuple(rules.OPERATORS)]  # type: ignore[valid-type]
    value: float = Field(allow_inf_nan=False, examples=[10])
    after_step: int = Field(0, ge=0, le=2**31 - 1, description="only points at a later step count")


class StalledRule(BaseModel):
    kind: Literal["stalled"]
    minutes: int = Field(ge=1, le=rules.MAX_STALL_MINUTES, description="no new output for this long while running")


class IdleGpusRule(BaseModel):
    kind: Literal["idle_gpus"]
    percent: int = Field(ge=1, le=100, description="every GPU of the run below this utilisation…")
    minutes: int = Field(ge=1, le=rules.MAX_STALL_MINUTES, description="…for this long (the run goes on)")


Rule = NonFiniteRule | ThresholdRule | StalledRule | IdleGpusRule


class ChannelCreate(BaseModel):
    name: str = Field(min_length=1, max_length=services.NAME_BYTES, examples=["team-dingtalk"])
    kind: Kind
    url: str = Field("", max_length=services.URL_LENGTH, description="http(s); not for e-mail")
    to: list[str] = Field(default_factory=list, max_length=services.MAX_RECIPIENTS, description="e-mail addresses")
    secret: str = Field("", max_length=services.SECRET_LENGTH, description="signs webhooks, DingTalk and Feishu "
                        "messages; write-only")
    events: list[Event] = Field(default_factory=list, examples=[["run.failed", "run.lost"]])
    projects: list[str] = Field(default_factory=list, max_length=services.MAX_PROJECTS,
                                description="project names; empty: every project (and deployments)")
    rules: list[Rule] = Field(default_factory=list, max_length=rules.MAX_RULES)
    language: Literal["zh", "en"] = "en"
    enabled: bool = True


class ChannelUpdate(BaseModel):
    """Only the fields sent change; `secret: ""` removes the secret. The `None` defaults only mark
    a field as not sent."""
    name: str = Field(None, min_length=1, max_length=services.NAME_BYTES)
    kind: Kind = None
    url: str = Field(None, max_length=services.URL_LENGTH)
    to: list[str] = Field(None, max_length=services.MAX_RECIPIENTS)
    secret: str = Field(None, max_length=services.SECRET_LENGTH)
    events: list[Event] = None
    projects: list[str] = Field(None, max_length=services.MAX_PROJECTS)
    rules: list[Rule] = Field(None, max_length=rules.MAX_RULES)
    language: Literal["zh", "en"] = None
    enabled: bool = None


class ChannelInfo(BaseModel):
    id: int
    name: str
    kind: str
    url: str = Field(description="query values cut to 4 characters")
    to: list[str]
    secret: str | None = Field(description='"******" when the channel has one, else null')
    events: list[str]
    projects: list[str]
    rules: list[dict]
    language: str
    enabled: bool
    pending: int = Field(description="deliveries waiting for their next attempt")
    created_at: Timestamp
    updated_at: Timestamp

    @classmethod
    def of(cls, c) -> "ChannelInfo":
        return cls(id=c.id, name=c.name, kind=c.kind, url=services.masked_url(c.url), to=c.recipients or [],
                   secret=services.MASK if c.secret else None, events=c.events or [], projects=c.projects or [],
                   rules=c.rules or [], language=c.language, enabled=c.enabled,
                   pending=services.pending_count(c.id), created_at=c.created_at, updated_at=c.updated_at)


class TestResult(BaseModel):
    ok: bool = Field(description="whether the receiver accepted it by its platform's rule")
    status: int | None = Field(description="HTTP status or SMTP reply code; null when nothing answered")
    reply: str = Field(description="the start of the receiver's answer, or what went wrong")


class AttemptInfo(BaseModel):
    id: int
    attempted_at: Timestamp
    event_id: str
    event: str
    ok: bool
    status: int | None = Field(description="HTTP status or SMTP reply code")
    reply: str
    next_attempt_at: Timestamp | None = Field(description="when it is tried again; null once delivered or given up")
    delivery_status: str = Field(description="pending | delivered | failed (given up after 24 h)")
    attempts: int = Field(description="attempts of this delivery so far")

    @classmethod
    def of(cls, a) -> "AttemptInfo":
        d = a.delivery
        return cls(id=a.id, attempted_at=a.attempted_at, event_id=d.event_id, event=d.event.kind, ok=a.ok,
                   status=a.status_code, reply=a.reply, next_attempt_at=a.next_attempt_at, delivery_status=d.status,
                   attempts=d.attempts)


class AttemptQuery(BaseModel):
    before: Id | None = Field(None, description="keyset cursor: the last id of the previous page")
    limit: int = Field(50, ge=1, le=200)


@operation(bp, "POST", "/v1/notification-channels", summary="Create a notification channel", tag=TAG,
           body=ChannelCreate, response=ChannelInfo, status=201, role="admin",
           errors={400: "A field breaks a rule (a private URL, an unknown project)", 409: "The name is taken"})
def create_notification_channel(body: ChannelCreate):
    fields = body.model_dump()
    return ChannelInfo.of(services.create_channel(created_by=current_user.id, **fields))


@operation(bp, "GET", "/v1/notification-channels", summary="List notification channels", tag=TAG,
           response=list[ChannelInfo], role="admin")
def list_notification_channels():
    return [ChannelInfo.of(c) for c in services.list_channels()]


@operation(bp, "GET", "/v1/notification-channels/<int:channel_id>", summary="A notification channel", tag=TAG,
           response=ChannelInfo, role="admin", errors=NOT_FOUND)
def get_notification_channel(channel_id: int):
    return ChannelInfo.of(services.get_channel(channel_id))


@operation(bp, "PATCH", "/v1/notification-channels/<int:channel_id>", summary="Change a notification channel",
           tag=TAG, body=ChannelUpdate, response=ChannelInfo, role="admin", errors={**NOT_FOUND, 400: "A field "
                                                                                  "breaks a rule", 409: "The name is taken"})
def update_notification_channel(channel_id: int, body: ChannelUpdate):
    return ChannelInfo.of(services.update_channel(channel_id, **body.model_dump(exclude_unset=True)))


@operation(bp, "DELETE", "/v1/notification-channels/<int:channel_id>", summary="Delete a notification channel",
           tag=TAG, response=dict[str, str], role="admin", errors=NOT_FOUND)
def delete_notification_channel(channel_id: int):
    services.delete_channel(channel_id)
    return {"detail": "channel deleted"}


@operation(bp, "POST", "/v1/notification-channels/<int:channel_id>/test", summary="Send a test message",
           tag=TAG, response=TestResult, role="admin", errors=NOT_FOUND)
def test_notification_channel(channel_id: int):
    """Sends now (at most 5 s) and answers with what the receiver replied."""
    result = services.test_channel(channel_id)
    return TestResult(ok=result.ok, status=result.status, reply=result.reply)


@operation(bp, "GET", "/v1/notification-channels/<int:channel_id>/deliveries", summary="Delivery attempts",
           tag=TAG, query=AttemptQuery, response=list[AttemptInfo], role="admin", errors=NOT_FOUND)
def notification_deliveries(channel_id: int, query: AttemptQuery):
    """Newest first: time, event, HTTP status or SMTP reply, and the next retry."""
    return [AttemptInfo.of(a) for a in services.list_attempts(channel_id, query.before, query.limit)]
