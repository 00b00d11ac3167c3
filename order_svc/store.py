"""Queries of order_svc, kept out of the entrypoints."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session, joinedload, selectinload

from order_svc import domain
from order_svc.models import Order, TimelineEntry


def locked_order(session: Session, order_id: str) -> Order | None:
    """The order with its lines, locked: events of one order are applied one at a time.
    One round trip: the lines come joined (every transition's event carries them)."""
    if not looks_like_id(order_id):
        return None
    return session.scalars(select(Order).options(joinedload(Order.items))
                           .where(Order.id == order_id).with_for_update(of=Order)
                           ).unique().first()


def visible_order(session: Session, order_id, user_id: str | None) -> Order | None:
    """The order if `user_id` may see it (None: an admin, who sees every order)."""
    if not looks_like_id(order_id):
        return None
    order = session.get(Order, order_id)
    if order is None or (user_id is not None and order.user_id != user_id):
        return None
    return order


def by_idempotency_key(session: Session, user_id: str, key: str) -> Order | None:
    return session.scalars(select(Order).where(Order.user_id == user_id,
                                               Order.idempotency_key == key)).first()


def page_of_orders(session: Session, user_id: str | None, limit: int,
                   after: tuple[datetime, str] | None) -> list[Order]:
    """`limit + 1` orders, newest first, after the cursor position."""
    query = (select(Order).options(selectinload(Order.items))  # one query for every page
             .order_by(Order.created_at.desc(), Order.id.desc()).limit(limit + 1))
    if user_id is not None:
        query = query.where(Order.user_id == user_id)
    if after is not None:
        created_at, order_id = after
        query = query.where(or_(Order.created_at < created_at,
                                and_(Order.created_at == created_at, Order.id < order_id)))
    return list(session.scalars(query))


def timeline(session: Session, order_id: str) -> list[TimelineEntry]:
    return list(session.scalars(select(TimelineEntry).where(TimelineEntry.order_id == order_id)
                                .order_by(TimelineEntry.id)))


def waiting_past_deadline(session: Session, now: datetime, limit: int) -> list[Order]:
    return list(session.scalars(
        select(Order).where(Order.status.in_((domain.PENDING, domain.RESERVED)),
                            Order.deadline_at <= now)
        .order_by(Order.deadline_at).limit(limit).with_for_update(skip_locked=True)))


def looks_like_id(value) -> bool:
    try:
        return isinstance(value, str) and bool(uuid.UUID(value))
    except ValueError:
        return False
