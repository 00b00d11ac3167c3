"""notify_svc's tables: the notification log, outbox and inbox.

One row per (event, channel), enforced by the database (UNIQUE(event_id, channel)):
however often an event arrives, it makes one notification per channel. An email row
carries what its sender needs (recipient, subject, both bodies) so a retry renders
nothing again, and the state of its sending: `status` (pending, sent, failed, what a
user sees), `attempts` (sends started), `last_error`, `next_attempt_at` (when the next
automatic try is due; NULL: none), `lease_until` (a sender holds the row until then).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    CheckConstraint,
    DateTime,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    Uuid,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from common.db import new_id, utc_now
from common.deadletters import DeadLetterMixin
from common.inbox import InboxMixin
from common.outbox import OutboxMixin


class Base(DeclarativeBase):
    pass


class Notification(Base):
    __tablename__ = "notifications"

    id: Mapped[str] = mapped_column(Uuid(as_uuid=False), primary_key=True, default=new_id)
    event_id: Mapped[str] = mapped_column(String(36))
    correlation_id: Mapped[str | None] = mapped_column(String(255))
    kind: Mapped[str] = mapped_column(String(32))
    channel: Mapped[str] = mapped_column(String(16))
    user_id: Mapped[str] = mapped_column(String(64))
    order_id: Mapped[str | None] = mapped_column(String(64))
    recipient: Mapped[str] = mapped_column(String(320))
    subject: Mapped[str] = mapped_column(Text)
    body_text: Mapped[str] = mapped_column(Text)
    body_html: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    next_attempt_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    lease_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utc_now)
    sent_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    __table_args__ = (
        UniqueConstraint("event_id", "channel", name="one_notification_per_event_channel"),
        CheckConstraint("status IN ('pending', 'sent', 'failed')", name="known_status"),
        CheckConstraint("channel IN ('email', 'sms')", name="known_channel"),
        CheckConstraint("attempts >= 0", name="attempts_not_negative"),
        # Lists: a user's newest first, and everyone's (admin), keyset-paged.
        Index("ix_notifications_user_newest", "user_id", "created_at", "id"),
        Index("ix_notifications_newest", "created_at", "id"),
        # The sweep: unsent rows by due time.
        Index("ix_notifications_due", "next_attempt_at",
              postgresql_where=text("status <> 'sent'")),
    )


class DeadLetter(DeadLetterMixin, Base):
    """Messages that failed for good, kept out of the broker (common.deadletters)."""


class Outbox(OutboxMixin, Base):
    pass


class Inbox(InboxMixin, Base):
    pass
