"""Queries of payment_svc, kept out of the entrypoints and the saga steps.

Round trips are what an order costs (issue 14), so each saga step is as few statements
as its guarantees allow: the inbox claim rides in the step's first statement (a CTE,
`common.inbox.claim_statement`), and a settled outcome is one statement that updates
the payment and writes its events to the outbox (the outbox INSERT on top, so the
relay is woken). Statements of a fixed shape are built once (`functools.cache`) with
named parameters.
"""

from __future__ import annotations

from datetime import datetime
from functools import cache

from sqlalchemy import bindparam, exists, insert, literal, select, tuple_, update
from sqlalchemy.engine import Row
from sqlalchemy.orm import Session

from common import events
from common.db import insert as pg_insert
from common.db import new_id
from common.inbox import InboxClaim, claim_statement
from common.outbox import ARRAY_COLUMNS, arrays_of, rows_of_arrays
from payment_svc.domain import PENDING
from payment_svc.models import CancelledOrder, ChargeIntent, Outbox, Payment

PAYMENTS, INTENTS, TOMBSTONES = Payment.__table__, ChargeIntent.__table__, CancelledOrder.__table__
OUTBOX = Outbox.__table__
INTENT_COLUMNS = ("order_id", "user_id", "amount_cents", "currency", "payment_token",
                  "created_at")
# What a locked payment row gives the settle and the cancel.
LOCKED_COLUMNS = (PAYMENTS.c.id, PAYMENTS.c.order_id, PAYMENTS.c.status,
                  PAYMENTS.c.amount_cents, PAYMENTS.c.currency, PAYMENTS.c.provider_ref)


def payment_dict(payment: Payment) -> dict:
    """A payment as the admin API shows it."""
    return {"id": payment.id, "order_id": payment.order_id, "status": payment.status,
            "amount_cents": payment.amount_cents, "refunded_cents": payment.refunded_cents,
            "attempts": payment.attempts}


def payment_of_order(session: Session, order_id: str) -> Payment | None:
    return session.scalars(select(Payment).where(Payment.order_id == order_id)
                           .execution_options(populate_existing=True)).first()


def page_of_payments(session: Session, limit: int, order_id: str | None,
                     before: tuple[datetime, str] | None) -> list[Payment]:
    """`limit + 1` payments, newest first, after the cursor position `before`.

    The extra one tells whether another page follows.
    """
    query = (select(Payment).order_by(Payment.created_at.desc(), Payment.id.desc())
             .limit(limit + 1).execution_options(populate_existing=True))
    if order_id is not None:
        query = query.where(Payment.order_id == order_id)
    if before is not None:
        query = query.where(tuple_(Payment.created_at, Payment.id) < before)
    return list(session.scalars(query))


# ---- the saga's statements -------------------------------------------------------------

@cache
def _record_intent_statement(inbox_model):
    """`WITH claim AS (INSERT INTO inbox ...) INSERT INTO charge_intents (...) SELECT
    <parameters> WHERE EXISTS (claim) ON CONFLICT (order_id) DO NOTHING`."""
    claim = claim_statement(inbox_model).cte("claim")
    row = select(*[bindparam(name, type_=INTENTS.c[name].type) for name in INTENT_COLUMNS]
                 ).where(exists(select(claim.c.event_id)))
    return (pg_insert(INTENTS).from_select(INTENT_COLUMNS, row)
            .on_conflict_do_nothing(index_elements=[INTENTS.c.order_id]))


def record_intent(session: Session, inbox: InboxClaim, event: events.OrderCreated,
                  now: datetime) -> None:
    """Claim the event and keep its intent, in one statement (the first intent wins)."""
    session.execute(_record_intent_statement(inbox.model), {
        **inbox.params(event, now), "order_id": event.order_id,
        "user_id": event.user_id, "amount_cents": event.total_cents,
        "currency": event.currency, "payment_token": event.payment_token, "created_at": now})


@cache
def _charge_state_statement():
    """One row: the order's payment status (or NULL), whether it has a tombstone, and
    the intent's token (or NULL)."""
    order_id = bindparam("order_id", type_=PAYMENTS.c.order_id.type)
    return select(
        select(PAYMENTS.c.status).where(PAYMENTS.c.order_id == order_id)
        .scalar_subquery().label("status"),
        exists().where(TOMBSTONES.c.order_id == order_id).label("cancelled"),
        select(INTENTS.c.payment_token).where(INTENTS.c.order_id == order_id)
        .scalar_subquery().label("token"))


def charge_state(session: Session, order_id: str) -> Row:
    """(status, cancelled, token) of the order, read in one statement."""
    return session.execute(_charge_state_statement(), {"order_id": order_id}).one()


@cache
def _open_pending_statement():
    """INSERT the PENDING payment from the intent, its first attempt counted."""
    now = bindparam("now", type_=PAYMENTS.c.created_at.type)
    row = select(bindparam("id", type_=PAYMENTS.c.id.type), INTENTS.c.order_id,
                 INTENTS.c.user_id, INTENTS.c.amount_cents, INTENTS.c.currency,
                 literal(PENDING), literal(1), literal(0), now, now,
                 ).where(INTENTS.c.order_id == bindparam("order_id"))
    columns = ("id", "order_id", "user_id", "amount_cents", "currency", "status", "attempts",
               "refunded_cents", "created_at", "updated_at")
    return (pg_insert(PAYMENTS).from_select(columns, row)
            .on_conflict_do_nothing(index_elements=[PAYMENTS.c.order_id])
            .returning(PAYMENTS.c.id, PAYMENTS.c.amount_cents, PAYMENTS.c.currency))


def open_pending(session: Session, order_id: str, now: datetime) -> Row | None:
    """Insert the order's PENDING payment with attempts = 1: (id, amount_cents,
    currency), or None if the order has a payment already."""
    return session.execute(_open_pending_statement(), {
        "id": new_id(), "order_id": order_id, "now": now}).first()


@cache
def _count_pending_attempt_statement():
    return (update(PAYMENTS)
            .where(PAYMENTS.c.order_id == bindparam("order"), PAYMENTS.c.status == PENDING)
            .values(attempts=PAYMENTS.c.attempts + 1, updated_at=bindparam("now"))
            .returning(PAYMENTS.c.id, PAYMENTS.c.amount_cents, PAYMENTS.c.currency))


def count_pending_attempt(session: Session, order_id: str, now: datetime) -> Row | None:
    """Count one more attempt on the order's payment if it is still PENDING: (id,
    amount_cents, currency), or None if it is settled (or missing)."""
    return session.execute(_count_pending_attempt_statement(),
                           {"order": order_id, "now": now}).first()


@cache
def _count_attempt_statement():
    return (update(PAYMENTS).where(PAYMENTS.c.id == bindparam("payment_id"))
            .values(attempts=PAYMENTS.c.attempts + 1, updated_at=bindparam("now")))


def count_attempt(session: Session, payment_id: str, now: datetime) -> None:
    """Count one more provider call on the payment, whatever its status."""
    session.execute(_count_attempt_statement(), {"payment_id": payment_id, "now": now})


@cache
def _claim_and_lock_statement(inbox_model):
    """`WITH claim AS (INSERT INTO inbox ...) SELECT <payment> FROM payments WHERE
    order_id = :order_id AND EXISTS (claim) FOR UPDATE`."""
    claim = claim_statement(inbox_model).cte("claim")
    return (select(*LOCKED_COLUMNS)
            .where(PAYMENTS.c.order_id == bindparam("order_id"),
                   exists(select(claim.c.event_id)))
            .with_for_update())


def claim_and_lock(session: Session, inbox: InboxClaim, event: events.Event,
                   now: datetime) -> Row | None:
    """Claim the event and lock the order's payment row, in one statement: the row, or
    None when the event was handled before (or the order has no payment)."""
    return session.execute(_claim_and_lock_statement(inbox.model), {
        **inbox.params(event, now), "order_id": event.order_id}).first()


@cache
def _leave_tombstone_statement():
    """`INSERT INTO cancelled_orders ... ON CONFLICT (order_id) DO NOTHING`."""
    return (pg_insert(TOMBSTONES).values(
        order_id=bindparam("order_id", type_=TOMBSTONES.c.order_id.type),
        reason=bindparam("reason", type_=TOMBSTONES.c.reason.type),
        cancelled_at=bindparam("now", type_=TOMBSTONES.c.cancelled_at.type))
        .on_conflict_do_nothing(index_elements=[TOMBSTONES.c.order_id]))


def leave_tombstone(session: Session, event: events.OrderCancelled, now: datetime) -> None:
    """Mark the order cancelled (the first cancel's reason stays); a repeat does nothing."""
    session.execute(_leave_tombstone_statement(), {
        "order_id": event.order_id, "reason": event.reason, "now": now})


@cache
def _tombstone_reason_statement():
    return select(TOMBSTONES.c.reason).where(TOMBSTONES.c.order_id == bindparam("order_id"))


def tombstone_reason(session: Session, order_id: str) -> str | None:
    """Why the order was cancelled, or None if it was not (a statement of its own: it
    sees every cancel committed before it started)."""
    return session.scalar(_tombstone_reason_statement(), {"order_id": order_id})


@cache
def _record_statement(changes: tuple[str, ...], emits: bool):
    """`WITH settled AS (UPDATE payments SET <changes> WHERE id = :payment_id) INSERT
    INTO outbox SELECT ... FROM unnest(<events>)`, or the UPDATE alone; the events come
    as arrays, so any number of them is one shape."""
    change = (update(PAYMENTS).where(PAYMENTS.c.id == bindparam("payment_id"))
              .values(**{name: bindparam(f"new_{name}", type_=PAYMENTS.c[name].type)
                         for name in changes},
                      updated_at=bindparam("now", type_=PAYMENTS.c.updated_at.type)))
    if not emits:
        return change
    return (insert(OUTBOX).from_select(ARRAY_COLUMNS, rows_of_arrays(OUTBOX))
            .add_cte(change.returning(PAYMENTS.c.id).cte("settled")))


def record(session: Session, payment_id: str, changes: dict, emitted: list[events.Event],
           now: datetime) -> None:
    """Write `changes` to the payment and `emitted` to the outbox, in one statement."""
    session.execute(_record_statement(tuple(sorted(changes)), bool(emitted)), {
        "payment_id": payment_id, **{f"new_{name}": v for name, v in changes.items()},
        **(arrays_of(emitted) if emitted else {}), "now": now})
