"""Notification channels, the outbox of events, deliveries with their attempts, and rule states."""
import uuid
from datetime import datetime

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    ForeignKey,
    Index,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.extensions import db
from portal.timeutil import utcnow

KINDS = ("webhook", "dingtalk", "feishu", "wecom", "email")
RUN_EVENTS = ("run.started", "run.succeeded", "run.failed", "run.lost", "run.stopped")
DEPLOYMENT_EVENTS = ("deployment.running", "deployment.unhealthy", "deployment.restarted", "deployment.failed")
EVENTS = RUN_EVENTS + DEPLOYMENT_EVENTS
RULE_EVENT = "run.rule"  # a channel's own rule fired; only that channel gets it
LANGUAGES = {"zh": "zh_CN", "en": "en"}  # the API's word -> our catalog
DELIVERY_STATES = ("pending", "delivered", "failed")


class Channel(db.Model):
    __tablename__ = "notification_channels"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    kind: Mapped[str] = mapped_column(String(16))
    url: Mapped[str] = mapped_column(String(2000), default="")
    recipients: Mapped[list] = mapped_column(JSON, default=list, server_default="[]")  # e-mail addresses
    secret: Mapped[str] = mapped_column(String(500), default="")  # write-only: never returned
    events: Mapped[list] = mapped_column(JSON, default=list, server_default="[]")
    projects: Mapped[list] = mapped_column(JSON, default=list, server_default="[]")  # names; empty = all
    rules: Mapped[list] = mapped_column(JSON, default=list, server_default="[]")
    language: Mapped[str] = mapped_column(String(8), default="en")
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, onupdate=utcnow)


class Event(db.Model):
    """The outbox: written in the transaction of the state change it reports, delivered later.

    `payload` is a snapshot of the run or deployment as the change left it, so a message says
    what happened then, whatever the row says when it is sent. No foreign keys: the record of
    what was reported outlives a deleted run.
    """
    __tablename__ = "notification_events"
    __table_args__ = (Index("ix_notification_events_fanned_out", "fanned_out", "occurred_at"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=lambda: str(uuid.uuid4()))
    kind: Mapped[str] = mapped_column(String(40))
    run_id: Mapped[int | None] = mapped_column(index=True)
    deployment_id: Mapped[str | None] = mapped_column(String(36))
    project: Mapped[str] = mapped_column(String(64), default="")
    channel_id: Mapped[int | None]  # a rule's event goes to its channel only
    payload: Mapped[dict] = mapped_column(JSON, default=dict, server_default="{}")
    occurred_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    fanned_out: Mapped[bool] = mapped_column(Boolean, default=False)  # its deliveries exist


class Delivery(db.Model):
    """One event to one channel: pending until a receiver accepted it, or failed after 24 h."""
    __tablename__ = "notification_deliveries"
    __table_args__ = (UniqueConstraint("event_id", "channel_id"),
                      Index("ix_notification_deliveries_due", "channel_id", "status", "next_attempt_at"))

    id: Mapped[int] = mapped_column(primary_key=True)
    event_id: Mapped[str] = mapped_column(ForeignKey("notification_events.id", ondelete="CASCADE"))
    channel_id: Mapped[int] = mapped_column(ForeignKey("notification_channels.id", ondelete="CASCADE"))
    status: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    delivered_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    event: Mapped[Event] = relationship(lazy="joined")


class Attempt(db.Model):
    """One try to deliver: the receiver's HTTP status or SMTP code and the start of its reply."""
    __tablename__ = "notification_attempts"

    id: Mapped[int] = mapped_column(primary_key=True)
    delivery_id: Mapped[int] = mapped_column(ForeignKey("notification_deliveries.id", ondelete="CASCADE"),
                                             index=True)
    channel_id: Mapped[int] = mapped_column(ForeignKey("notification_channels.id", ondelete="CASCADE"),
                                            index=True)
    ok: Mapped[bool] = mapped_column(Boolean, default=False)
    status_code: Mapped[int | None]
    reply: Mapped[str] = mapped_column(String(500), default="")
    next_attempt_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    attempted_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    delivery: Mapped[Delivery] = relationship(lazy="joined")


class RuleState(db.Model):
    """A channel's rule that fired for a run; it fires again only after this row is cleared."""
    __tablename__ = "notification_rule_states"
    __table_args__ = (UniqueConstraint("channel_id", "run_id", "rule"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    channel_id: Mapped[int] = mapped_column(ForeignKey("notification_channels.id", ondelete="CASCADE"))
    run_id: Mapped[int] = mapped_column(index=True)
    rule: Mapped[str] = mapped_column(String(64))  # the rule's key (`rules.key`)
    fired_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
