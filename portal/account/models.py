"""Per-user preferences, kept beside `users` so the auth tables stay about identity."""
from datetime import datetime

from sqlalchemy import DateTime, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from portal.extensions import db
from portal.timeutil import utcnow


class UserPreference(db.Model):
    __tablename__ = "user_preferences"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    locale: Mapped[str | None] = mapped_column(String(16))  # None: the browser's, else the server's default
    timezone: Mapped[str | None] = mapped_column(String(64))  # None: PORTAL_TIMEZONE
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, onupdate=utcnow)
