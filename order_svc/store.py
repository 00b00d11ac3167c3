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
from functools import cache

from sqlalchemy import and_, bindparam, exists, inspect, or_, select, update
from sqlalchemy.orm import Session, joinedload, selectinload

from common import events
from common.db import insert, utc_now
from common.inbox import InboxClaim, claim_statement
from common.outbox import ARRAY_COLUMNS, arrays_of, rows_of_arrays
from order_svc import domain
from order_svc.models import Order, OrderItem, Outbox, TimelineEntry

OUTBOX = Outbox.__table__


@dataclass
class Writes:
    """What a step adds beside the order's own changes: timeline rows (column values)
    and the events to publish (outbox rows)."""

    timeline: list[dict] = field(default_factory=list)
    outbox: list[events.Event] = field(default_factory=list)


@cache
def _claim_and_lock_statement(inbox_model):
    claim = claim_statement(inbox_model).cte("claim")
    return (select(Order, exists(select(claim.c.event_id)).label("claimed")).add_cte(claim)
            .options(joinedload(Order.items)).where(Order.id == bindparam("order_id"))
            .with_for_update(of=Order))


def claimed_and_locked(session: Session, inbox: InboxClaim, event, order_id: str
                       ) -> tuple[bool, Order | None]:
    """Claim `event` for this handler and lock its order with its lines, in one
    statement: (claimed, order). claimed is False for an event the handler had already;
    order is None for an unknown order (the caller raises: the claim rolls back)."""
    if not looks_like_id(order_id):
        return True, None
    found = session.execute(_claim_and_lock_statement(inbox.model),
                            {**inbox.params(event), "order_id": order_id}).unique().first()
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


# ---- the saga's writes: one statement each, built once per shape ---------------------
# A shape: (table, the columns written, how many rows). Parameters are named
# "<prefix><row>_<column>", so no name can join an UPDATE's SET clause by accident.
# Python-side column defaults are not applied inside a CTE: every value is given.

def _rows(table, prefix: str, columns: tuple[str, ...], count: int) -> list[dict]:
    return [{name: bindparam(f"{prefix}{n}_{name}", type_=table.c[name].type)
             for name in columns} for n in range(count)]


def _params(prefix: str, rows: list[dict]) -> dict:
    return {f"{prefix}{n}_{name}": value for n, row in enumerate(rows)
            for name, value in row.items()}


def _shape(rows: list[dict]) -> tuple[tuple[str, ...], int]:
    return (tuple(rows[0]) if rows else (), len(rows))


@cache
def _write_statement(order: tuple[tuple[str, ...], int], lines: tuple[tuple[str, ...], int],
                     timeline: tuple[tuple[str, ...], int], outbox: bool, update_order: bool):
    """The DML statements of one write, each but the last a CTE of the last (PostgreSQL
    wants data-modifying CTEs at the top level), the outbox INSERT last (the relay wakes
    after a worker whose statement inserted into the outbox)."""
    orders, items = Order.__table__, OrderItem.__table__
    parts = []
    if update_order and order[1]:
        parts.append(update(orders).where(orders.c.id == bindparam("key_id"))
                     .values(_rows(orders, "o", *order)[0]).returning(orders.c.id))
    elif order[1]:
        parts.append(insert(orders).values(_rows(orders, "o", *order)[0])
                     .returning(orders.c.id))
    # A row per INSERT: SQLAlchemy gives a multi-row VALUES no cache key (it would be
    # compiled on every call), a CTE per row is cached like the rest.
    for table, prefix, shape in ((items, "i", lines), (TimelineEntry.__table__, "t", timeline)):
        parts.extend(insert(table).values(row).returning(*table.primary_key.columns)
                     for row in _rows(table, prefix, *shape))
    if outbox:  # any number of events: one shape (common.outbox.rows_of_arrays)
        parts.append(insert(OUTBOX).from_select(ARRAY_COLUMNS, rows_of_arrays(OUTBOX)))
    *ctes, last = parts
    for n, cte in enumerate(ctes):
        last = last.add_cte(cte.cte(f"w{n}"))
    return last


def _write(session: Session, order: list[dict], writes: Writes, lines: list[dict] = (),
           key_id: str | None = None) -> None:
    statement = _write_statement(_shape(order), _shape(list(lines)), _shape(writes.timeline),
                                 bool(writes.outbox), key_id is not None)
    session.execute(statement, {"key_id": key_id, **_params("o", order),
                                **_params("i", list(lines)), **_params("t", writes.timeline),
                                **arrays_of(writes.outbox), "now": utc_now()})


def insert_order(session: Session, order: Order, writes: Writes) -> None:
    """A new order with its lines, timeline entry and outbox row: one statement (raises
    IntegrityError for an idempotency key used already)."""
    lines = [_new_columns(item) | {"order_id": order.id} for item in order.items]
    _write(session, [_new_columns(order)], writes, lines)


def save(session: Session, order: Order, writes: Writes) -> None:
    """What a step changed of a locked order, and the rows it adds: one statement."""
    changes = _changed_columns(order)
    session.expunge(order)
    if changes or writes.timeline or writes.outbox:
        _write(session, [changes] if changes else [], writes, key_id=order.id)


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
                   after: tuple[datetime, str] | None,
                   status: str | None = None) -> list[Order]:
    """`limit + 1` orders, newest first, after the cursor position (of one user and
    one status when given)."""
    query = (select(Order).options(selectinload(Order.items))  # one query for every page
             .order_by(Order.created_at.desc(), Order.id.desc()).limit(limit + 1))
    if user_id is not None:
        query = query.where(Order.user_id == user_id)
    if status is not None:
        query = query.where(Order.status == status)
    if after is not None:
        created_at, order_id = after
        query = query.where(or_(Order.created_at < created_at,
                                and_(Order.created_at == created_at, Order.id < order_id)))
    return list(session.scalars(query))


def timeline(session: Session, order_id: str) -> list[TimelineEntry]:
    """The order's entries in the order they happened: by time (a step's entries are
    written by one statement whose parts PostgreSQL may run in any order, so ids need
    not follow), then id."""
    return list(session.scalars(select(TimelineEntry).where(TimelineEntry.order_id == order_id)
                                .order_by(TimelineEntry.at, TimelineEntry.id)))


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
