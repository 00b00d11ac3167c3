"""Queries of order_svc, kept out of the entrypoints.

The saga's writes are one statement each (round trips are the cost, issue 14):
`insert_order` puts a new order, its lines, its timeline entry and its outbox row in
with one INSERT and CTEs; `save` writes what a step changed (the order's columns, new
timeline entries, the outbox rows of its event) the same way. The ORM objects are still
what the rules read and change; these functions take their changes and detach them
(`expunge`) so the ORM never flushes them a second time; a new order is never added to
the session at all.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import and_, exists, inspect, or_, select, update
from sqlalchemy.orm import Session, joinedload, selectinload

from common.db import insert
from common.inbox import InboxClaim, claim_statement
from order_svc import domain
from order_svc.models import Order, OrderItem, Outbox, TimelineEntry


@dataclass
class Writes:
    """The rows a step adds beside the order's own changes (column values)."""

    timeline: list[dict] = field(default_factory=list)
    outbox: list[dict] = field(default_factory=list)


def claimed_and_locked(session: Session, inbox: InboxClaim, event, order_id: str
                       ) -> tuple[bool, Order | None]:
    """Claim `event` for this handler and lock its order with its lines, in one
    statement: (claimed, order). claimed is False for an event the handler had already;
    order is None for an unknown order (the caller raises: the claim rolls back)."""
    if not looks_like_id(order_id):
        return True, None
    claim = claim_statement(inbox.model).cte("claim")
    found = session.execute(
        select(Order, exists(select(claim.c.event_id)).label("claimed")).add_cte(claim)
        .options(joinedload(Order.items)).where(Order.id == order_id)
        .with_for_update(of=Order), inbox.params(event)).unique().first()
    return (True, None) if found is None else (found.claimed, found.Order)


def locked_order(session: Session, order_id: str) -> Order | None:
    """The order with its lines, locked: events of one order are applied one at a time.
    One round trip: the lines come joined (every transition's event carries them)."""
    if not looks_like_id(order_id):
        return None
    return session.scalars(select(Order).options(joinedload(Order.items))
                           .where(Order.id == order_id).with_for_update(of=Order)
                           ).unique().first()


def _changed_columns(obj) -> dict:
    """The column attributes changed on `obj` since it was loaded."""
    state = inspect(obj)
    return {attr.key: attr.value for attr in state.attrs
            if attr.key in state.mapper.columns and attr.history.has_changes()}


def _new_columns(obj) -> dict:
    """The column attributes of a new `obj` that have a value (reading an unset attribute
    of a new object gives it None; NULL is what the database gives an absent column)."""
    return {key: value for key, value in _changed_columns(obj).items() if value is not None}


def _write(session: Session, *statements) -> None:
    """Run DML statements as one: each but the last a CTE of the last (PostgreSQL wants
    data-modifying CTEs at the top level). Put the outbox INSERT last: the relay wakes
    after a worker whose statement inserted into the outbox. Python-side column defaults
    are not applied inside a CTE: every value must be given."""
    *ctes, last = [statement for statement in statements if statement is not None]
    for n, cte in enumerate(ctes):
        last = last.add_cte(cte.returning(*cte.table.primary_key.columns).cte(f"w{n}"))
    session.execute(last)


def _inserts(writes: Writes) -> tuple:
    return (insert(TimelineEntry).values(writes.timeline) if writes.timeline else None,
            insert(Outbox).values(writes.outbox) if writes.outbox else None)


def insert_order(session: Session, order: Order, writes: Writes) -> None:
    """A new order with its lines, timeline entry and outbox row: one statement (raises
    IntegrityError for an idempotency key used already)."""
    lines = [_new_columns(item) | {"order_id": order.id} for item in order.items]
    _write(session, insert(Order).values(_new_columns(order)),
           insert(OrderItem).values(lines), *_inserts(writes))


def save(session: Session, order: Order, writes: Writes) -> None:
    """What a step changed of a locked order, and the rows it adds: one statement."""
    changes = _changed_columns(order)
    session.expunge(order)
    _write(session, update(Order).where(Order.id == order.id).values(changes)
           if changes else None, *_inserts(writes))


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
