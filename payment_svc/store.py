"""Queries behind payment_svc's RPC reads, kept out of the entrypoints."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select, tuple_
from sqlalchemy.orm import Session

from payment_svc.models import Payment


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
