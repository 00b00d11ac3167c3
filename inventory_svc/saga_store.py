"""Statements of inventory_svc's saga steps (reservations.py), built once each.

Round trips are what an order costs (issue 14): the inbox claim rides in each event's
first statement that writes (a CTE on `common.inbox.claim_statement`), every stock
change of a step is one UPDATE over all its skus, and the reservation, its lines and
the outgoing event go with it in the same statement (the outbox INSERT on top, so the
relay is woken). Rows come in as arrays (`unnest`), so a statement has one shape, and
one compiled form, for any number of skus or reservations.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from functools import cache

from sqlalchemy import any_, bindparam, exists, func, select, true, update
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Session

from common import events
from common.db import insert, new_id
from common.inbox import InboxClaim, claim_statement
from common.outbox import ARRAY_COLUMNS, arrays_of, rows_of_arrays
from inventory_svc.domain import HELD, Level
from inventory_svc.models import Outbox, Reservation, ReservationLine, Stock

STOCK, RESERVATIONS, LINES = Stock.__table__, Reservation.__table__, ReservationLine.__table__
OUTBOX = Outbox.__table__


@dataclass
class Held:
    """A reservation read under its row lock, with its lines in sku order."""

    id: str
    status: str
    lines: dict[str, int] = field(default_factory=dict)


def _array(name: str, type_):
    return bindparam(name, type_=ARRAY(type_))


@cache
def _lock_stock_statement():
    return (select(STOCK.c.sku, STOCK.c.on_hand, STOCK.c.reserved)
            .where(STOCK.c.sku == any_(_array("skus", STOCK.c.sku.type)))
            .order_by(STOCK.c.sku).with_for_update())


def lock_stock(session: Session, skus: list[str]) -> dict[str, Level]:
    """Lock the stock rows of `skus` in sku order: their levels (unknown skus left out)."""
    return {row.sku: Level(row.on_hand, row.reserved)
            for row in session.execute(_lock_stock_statement(), {"skus": skus})}


@cache
def _reserve_statement(inbox_model):
    """`WITH claim AS (INSERT INTO inbox ...), reservation AS (INSERT INTO reservations
    ... WHERE EXISTS (claim) ON CONFLICT (order_id) DO NOTHING RETURNING id), held AS
    (UPDATE stock ... FROM unnest(lines) WHERE EXISTS (reservation)), lines AS (INSERT
    INTO reservation_lines SELECT ... FROM reservation, unnest(lines)) INSERT INTO
    outbox SELECT ... WHERE EXISTS (reservation) RETURNING id`."""
    claim = claim_statement(inbox_model).cte("claim")
    now = bindparam("now", type_=RESERVATIONS.c.created_at.type)
    reservation = (insert(RESERVATIONS).from_select(
        ("id", "order_id", "status", "reason", "expires_at", "created_at", "updated_at"),
        select(*[bindparam(name, type_=RESERVATIONS.c[name].type)
                 for name in ("id", "order_id", "status", "reason", "expires_at")], now, now)
        .where(exists(select(claim.c.event_id))))
        .on_conflict_do_nothing(index_elements=[RESERVATIONS.c.order_id])
        .returning(RESERVATIONS.c.id).cte("reservation"))
    wanted = func.unnest(_array("skus", STOCK.c.sku.type),
                         _array("quantities", STOCK.c.reserved.type)
                         ).table_valued("sku", "quantity").render_derived(name="wanted")
    held = (update(STOCK).where(STOCK.c.sku == wanted.c.sku,
                                exists(select(reservation.c.id)))
            .values(reserved=STOCK.c.reserved + wanted.c.quantity)
            .returning(STOCK.c.sku).cte("held"))
    lines = (insert(LINES).from_select(("reservation_id", "sku", "quantity"),
                                       select(reservation.c.id, wanted.c.sku,
                                              wanted.c.quantity)
                                       .join_from(reservation, wanted, true()))
             .returning(LINES.c.sku).cte("lines"))
    return (insert(OUTBOX).from_select(ARRAY_COLUMNS,
                                       rows_of_arrays(OUTBOX).where(exists(select(reservation.c.id))))
            .add_cte(held).add_cte(lines).returning(OUTBOX.c.id))


def reserve_once(session: Session, inbox: InboxClaim, event: events.OrderCreated,
                 reservation: dict, held: dict[str, int], emitted: events.Event,
                 now: datetime) -> bool:
    """Claim the event, insert the order's `reservation` (id, status, reason,
    expires_at), add `held` (sku -> units) to the reserved stock with a line each, and
    write `emitted`: one statement. False (and nothing but the claim written) when
    the event was handled before or the order has a reservation (or a tombstone).
    The stock rows must be locked already (`lock_stock`)."""
    return session.execute(_reserve_statement(inbox.model), {
        **inbox.params(event, now), **reservation, "order_id": event.order_id,
        "skus": list(held), "quantities": list(held.values()),
        **arrays_of([emitted]), "now": now}).first() is not None


def _held_select(*columns):
    """The order's reservation joined with its lines (sku order), locked."""
    return (select(RESERVATIONS.c.id, RESERVATIONS.c.status, LINES.c.sku, LINES.c.quantity,
                   *columns)
            .select_from(RESERVATIONS.outerjoin(
                LINES, LINES.c.reservation_id == RESERVATIONS.c.id))
            .where(RESERVATIONS.c.order_id == bindparam("order_id"))
            .order_by(LINES.c.sku).with_for_update(of=RESERVATIONS))


def _held(rows) -> Held | None:
    if not rows:
        return None
    held = Held(rows[0].id, rows[0].status)
    held.lines.update((row.sku, row.quantity) for row in rows if row.sku is not None)
    return held


@cache
def _claim_and_lock_statement(inbox_model):
    """`WITH claim AS (INSERT INTO inbox ...) SELECT r.id, r.status, l.sku, l.quantity,
    <claimed> FROM reservations r LEFT JOIN reservation_lines l ... FOR UPDATE OF r`."""
    claim = claim_statement(inbox_model).cte("claim")
    return _held_select(select(func.count()).select_from(claim).scalar_subquery()
                        .label("claimed"))


def claim_and_lock(session: Session, inbox: InboxClaim, event: events.Event,
                   now: datetime) -> tuple[bool, Held | None]:
    """Claim the event and lock the order's reservation, with its lines, in one
    statement: (claimed, the reservation or None). With no reservation, `claimed` is
    not known (False): the caller retries or gives up, and rolls back either way."""
    rows = session.execute(_claim_and_lock_statement(inbox.model), {
        **inbox.params(event, now), "order_id": event.order_id}).all()
    return bool(rows and rows[0].claimed), _held(rows)


@cache
def _tombstone_statement(inbox_model):
    """`WITH claim AS (INSERT INTO inbox ...), tombstone AS (INSERT INTO reservations
    ... WHERE EXISTS (claim) ON CONFLICT DO NOTHING RETURNING id) SELECT <claimed>,
    <tombstoned>`."""
    claim = claim_statement(inbox_model).cte("claim")
    now = bindparam("now", type_=RESERVATIONS.c.created_at.type)
    tombstone = (insert(RESERVATIONS).from_select(
        ("id", "order_id", "status", "reason", "created_at", "updated_at"),
        select(*[bindparam(name, type_=RESERVATIONS.c[name].type)
                 for name in ("id", "order_id", "status", "reason")], now, now)
        .where(exists(select(claim.c.event_id))))
        .on_conflict_do_nothing(index_elements=[RESERVATIONS.c.order_id])
        .returning(RESERVATIONS.c.id).cte("tombstone"))
    return select(exists(select(claim.c.event_id)).label("claimed"),
                  exists(select(tombstone.c.id)).label("tombstoned"))


def claim_or_tombstone(session: Session, inbox: InboxClaim, event: events.Event,
                       status: str, reason: str, now: datetime):
    """Claim the event and insert a reservation row in `status` for the order unless
    it has one, in one statement: (claimed, tombstoned)."""
    return session.execute(_tombstone_statement(inbox.model), {
        **inbox.params(event, now), "id": new_id(), "order_id": event.order_id,
        "status": status, "reason": reason, "now": now}).one()


@cache
def _lock_held_statement():
    return _held_select()


def lock_reservation(session: Session, order_id: str) -> Held | None:
    """The order's reservation with its lines, locked; None if it has none."""
    return _held(session.execute(_lock_held_statement(), {"order_id": order_id}).all())


@cache
def _due_statement():
    """The lines of up to :limit held reservations past their expiry, oldest first;
    the reservations locked, those another sweep holds skipped."""
    due = (select(RESERVATIONS.c.id, RESERVATIONS.c.order_id, RESERVATIONS.c.expires_at)
           .where(RESERVATIONS.c.status == HELD, RESERVATIONS.c.expires_at <= bindparam("now"))
           .order_by(RESERVATIONS.c.expires_at).limit(bindparam("limit"))
           .with_for_update(skip_locked=True).subquery("due"))
    return (select(due.c.id, due.c.order_id, LINES.c.sku, LINES.c.quantity)
            .join_from(due, LINES, LINES.c.reservation_id == due.c.id)
            .order_by(due.c.expires_at, LINES.c.sku))


def lock_due(session: Session, now: datetime, limit: int) -> dict[str, tuple[str, dict]]:
    """Held reservations past their expiry, locked: {id: (order_id, {sku: units})}."""
    due: dict[str, tuple[str, dict]] = {}
    for row in session.execute(_due_statement(), {"now": now, "limit": limit}):
        due.setdefault(row.id, (row.order_id, {}))[1][row.sku] = row.quantity
    return due


@cache
def _any_due_statement():
    return select(exists().where(RESERVATIONS.c.status == HELD,
                                 RESERVATIONS.c.expires_at <= bindparam("now")))


def any_due(session: Session, now: datetime) -> bool:
    """Whether a hold is past its expiry (no lock: the sweep's cheap first look)."""
    return bool(session.scalar(_any_due_statement(), {"now": now}))


@cache
def _move_statement(changes: tuple[str, ...], emits: bool):
    """`WITH locked AS (SELECT sku FROM stock ... ORDER BY sku FOR UPDATE), moved AS
    (UPDATE stock ... FROM unnest(deltas), locked), settled AS (UPDATE reservations SET
    <changes> WHERE id = ANY(ids)) INSERT INTO outbox SELECT ... FROM unnest(emitted)`
    (the reservations' UPDATE on top when nothing is emitted).

    The stock rows are locked in sku order by `locked` before `moved` changes any:
    `moved` changes only rows `locked` has returned, hence locked.
    """
    skus = _array("skus", STOCK.c.sku.type)
    locked = (select(STOCK.c.sku).where(STOCK.c.sku == any_(skus))
              .order_by(STOCK.c.sku).with_for_update().cte("locked"))
    deltas = func.unnest(skus, _array("on_hand", STOCK.c.on_hand.type),
                         _array("reserved", STOCK.c.reserved.type)
                         ).table_valued("sku", "on_hand", "reserved"
                                        ).render_derived(name="delta")
    moved = (update(STOCK).where(STOCK.c.sku == deltas.c.sku, STOCK.c.sku == locked.c.sku)
             .values(on_hand=STOCK.c.on_hand + deltas.c.on_hand,
                     reserved=STOCK.c.reserved + deltas.c.reserved)
             .returning(STOCK.c.sku).cte("moved"))
    settled = (update(RESERVATIONS)
               .where(RESERVATIONS.c.id == any_(_array("ids", RESERVATIONS.c.id.type)))
               .values(**{name: bindparam(f"new_{name}", type_=RESERVATIONS.c[name].type)
                          for name in changes},
                       updated_at=bindparam("now", type_=RESERVATIONS.c.updated_at.type)))
    if not emits:
        return settled.add_cte(moved)
    return (insert(OUTBOX).from_select(ARRAY_COLUMNS, rows_of_arrays(OUTBOX))
            .add_cte(moved).add_cte(settled.returning(RESERVATIONS.c.id).cte("settled")))


def move_stock(session: Session, deltas: dict[str, tuple[int, int]], reservation_ids: list[str],
               changes: dict, emitted: list[events.Event], now: datetime) -> None:
    """Add `deltas` (sku -> (on_hand, reserved) change) to the stock, write `changes` to
    the reservations `reservation_ids`, and `emitted` to the outbox: one statement."""
    skus = sorted(deltas)
    session.execute(_move_statement(tuple(sorted(changes)), bool(emitted)), {
        "skus": skus, "on_hand": [deltas[s][0] for s in skus],
        "reserved": [deltas[s][1] for s in skus], "ids": reservation_ids,
        **{f"new_{name}": value for name, value in changes.items()},
        **(arrays_of(emitted) if emitted else {}), "now": now})
