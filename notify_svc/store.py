"""Queries of notify_svc, kept out of the entrypoints and the sending steps."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import or_, select, tuple_, update
from sqlalchemy.orm import Session

from notify_svc.domain import EMAIL, SENT
from notify_svc.models import Notification


def notification_dict(row: Notification, detailed: bool = False) -> dict:
    """The contract's notification; `detailed` adds what an admin needs to act on it."""
    found = {"id": row.id, "kind": row.kind, "channel": row.channel, "subject": row.subject,
             "status": row.status, "created_at": row.created_at.isoformat(),
             "sent_at": row.sent_at.isoformat() if row.sent_at else None}
    if detailed:
        found |= {"user_id": row.user_id, "order_id": row.order_id,
                  "recipient": row.recipient, "attempts": row.attempts,
                  "last_error": row.last_error,
                  "next_attempt_at": row.next_attempt_at.isoformat()
                  if row.next_attempt_at else None}
    return found


def looks_like_id(value) -> bool:
    try:
        return isinstance(value, str) and bool(uuid.UUID(value))
    except ValueError:
        return False


def get(session: Session, notification_id, lock: bool = False) -> Notification | None:
    """The notification (re-read from the database), locked if asked; None if unknown."""
    if not looks_like_id(notification_id):
        return None
    query = select(Notification).where(Notification.id == notification_id).execution_options(
        populate_existing=True)
    return session.scalars(query.with_for_update() if lock else query).first()


def mark_sent(session: Session, notification_id: str, attempt: int, now: datetime):
    """Mark the email sent if attempt `attempt` still holds it: (user_id, correlation_id),
    or None when the row moved on (another sender took over, or it is sent already)."""
    return session.execute(
        update(Notification)
        .where(Notification.id == notification_id, Notification.attempts == attempt,
               Notification.status != SENT)
        .values(status=SENT, sent_at=now, next_attempt_at=None, lease_until=None)
        .returning(Notification.user_id, Notification.correlation_id)).first()


def next_due(session: Session, now: datetime) -> Notification | None:
    """The unsent email due longest ago and held by no sender, locked (SKIP LOCKED).

    Due: its retry time has come, or the sender that held it stopped mid-send (the
    lease ran out). Rows another transaction is claiming right now are skipped.
    """
    return session.scalars(
        select(Notification)
        .where(Notification.status != SENT, Notification.channel == EMAIL,
               Notification.next_attempt_at <= now,
               or_(Notification.lease_until.is_(None), Notification.lease_until <= now))
        .order_by(Notification.next_attempt_at).limit(1)
        .with_for_update(skip_locked=True).execution_options(populate_existing=True)
    ).first()


def page(session: Session, limit: int, user_id: str | None, status: str | None,
         before: tuple[datetime, str] | None) -> list[Notification]:
    """`limit + 1` notifications, newest first, after the cursor position `before`.

    The extra one tells whether another page follows.
    """
    query = (select(Notification)
             .order_by(Notification.created_at.desc(), Notification.id.desc())
             .limit(limit + 1).execution_options(populate_existing=True))
    if user_id is not None:
        query = query.where(Notification.user_id == user_id)
    if status is not None:
        query = query.where(Notification.status == status)
    if before is not None:
        query = query.where(tuple_(Notification.created_at, Notification.id) < before)
    return list(session.scalars(query))
