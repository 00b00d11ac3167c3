"""Queries of notify_svc, kept out of the entrypoints and the sending steps."""

from __future__ import annotations

import uuid
from datetime import datetime
from functools import cache

from sqlalchemy import bindparam, cast, exists, or_, select, tuple_, union_all, update
from sqlalchemy.orm import Session

from common import events
from common.db import insert
from common.inbox import claim_statement
from common.outbox import ARRAY_COLUMNS, arrays_of, rows_of_arrays
from notify_svc.domain import EMAIL, SENT
from notify_svc.models import Notification, Outbox

# What `record` writes of a notification row (the rest keeps its column default).
RECORDED = ("id", "event_id", "correlation_id", "kind", "channel", "user_id", "order_id",
            "recipient", "subject", "body_text", "body_html", "status", "attempts",
            "next_attempt_at", "lease_until", "created_at", "sent_at")


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


@cache
def _record_statement(inbox_model, rows: int):
    """`WITH claim AS (INSERT INTO inbox ... ON CONFLICT DO NOTHING RETURNING ...),
    n0 AS (INSERT INTO notifications (...) SELECT :id_0, ... WHERE EXISTS (claim)
    ON CONFLICT (event_id, channel) DO NOTHING RETURNING id), n1 AS (...)
    SELECT id FROM n0 UNION ALL SELECT id FROM n1`, for `rows` rows; built once per
    shape, parameters `<column>_<n>` beside the claim's own. A CTE per row: SQLAlchemy
    gives a multi-row VALUES no cache key (it would be compiled on every call)."""
    claim = claim_statement(inbox_model).cte("claim")
    table = Notification.__table__
    inserted = [
        insert(table).from_select(RECORDED, select(*[
            # CAST: a NULL parameter would otherwise be text.
            cast(bindparam(f"{name}_{n}", type_=table.c[name].type), table.c[name].type)
            for name in RECORDED]).where(exists(select(claim.c.event_id))))
        .on_conflict_do_nothing(index_elements=["event_id", "channel"])
        .returning(table.c.id).cte(f"n{n}")
        for n in range(rows)]
    return union_all(*[select(row.c.id) for row in inserted]).add_cte(claim, *inserted)


def record_once(session: Session, inbox_model, claim: dict, rows: list[dict]) -> set[str]:
    """Claim the inbox (`claim`: event_id, handler, event_type, processed_at) and insert
    `rows` (dicts of RECORDED) in one statement: the ids inserted, none when the handler
    had this event already."""
    params = dict(claim)
    for n, row in enumerate(rows):
        params.update({f"{name}_{n}": row[name] for name in RECORDED})
    return set(session.scalars(_record_statement(inbox_model, len(rows)), params))


@cache
def _mark_sent_statement():
    """`WITH sent AS (UPDATE notifications SET status = 'sent' ... WHERE id = :id AND
    attempts = :attempt AND status != 'sent' RETURNING id) INSERT INTO outbox (...)
    SELECT ... FROM unnest(<the event>) WHERE EXISTS (sent)`."""
    sent = (update(Notification)
            .where(Notification.id == bindparam("notification_id"),
                   Notification.attempts == bindparam("attempt"), Notification.status != SENT)
            .values(status=SENT, sent_at=bindparam("now"), next_attempt_at=None,
                    lease_until=None)
            .returning(Notification.id).cte("sent"))
    outbox = Outbox.__table__
    return (insert(outbox).from_select(
        ARRAY_COLUMNS, rows_of_arrays(outbox).where(exists(select(sent.c.id))))
        .add_cte(sent).returning(outbox.c.id))


def mark_sent(session: Session, notification_id: str, attempt: int, now: datetime,
              announce: events.Event) -> bool:
    """Mark the email sent and put `announce` (its notification.sent) in the outbox, in
    one statement, if attempt `attempt` still holds it; False when the row moved on
    (another sender took over, or it is sent already)."""
    return session.execute(_mark_sent_statement(), {
        "notification_id": notification_id, "attempt": attempt, "now": now,
        **arrays_of([announce])}).first() is not None


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
