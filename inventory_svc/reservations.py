"""How order events move stock, in the caller's transaction.

Each function returns the event to publish (or None) and leaves the commit, with the
inbox row and the outbox row, to the handler: effects, dedupe and event are one
transaction. Stock rows are locked with SELECT ... FOR UPDATE in sku order, so two
reservations never deadlock, and the CHECK constraint on `stock` is the last word
on overselling.
"""

from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from common import events
from common.db import insert, new_id
from common.messaging import NonRetryable
from inventory_svc import domain
from inventory_svc.domain import Action, Level
from inventory_svc.models import Reservation, ReservationLine, Stock

log = logging.getLogger(__name__)


class ReservationNotYetKnown(Exception):
    """order.confirmed before its order.created was handled: retried later."""


class CannotCommit(NonRetryable):
    """A confirmed order whose expired hold can no longer be met: needs an operator."""


def _locked_stock(session: Session, skus: list[str]) -> dict[str, Stock]:
    rows = session.scalars(select(Stock).where(Stock.sku.in_(skus))
                           .order_by(Stock.sku).with_for_update())
    return {row.sku: row for row in rows}


def _claim_order(session: Session, order_id: str, status: str, reason: str | None = None):
    """Insert the order's reservation row; None if the order already has one."""
    return session.scalars(
        insert(Reservation).values(id=new_id(), order_id=order_id,
                                   status=status, reason=reason)
        .on_conflict_do_nothing(index_elements=["order_id"]).returning(Reservation)
    ).first()


def _locked_reservation(session: Session, order_id: str) -> Reservation | None:
    return session.scalars(select(Reservation).where(Reservation.order_id == order_id)
                           .with_for_update()).first()


def reserve(session: Session, event: events.OrderCreated, ttl_s: float,
            now: datetime) -> events.Event | None:
    """Hold every line of the order, or none: inventory.reserved or inventory.failed."""
    wanted = domain.merge_lines(event.items)
    reservation = _claim_order(session, event.order_id, domain.FAILED)
    if reservation is None:  # cancelled first (a tombstone), or already handled
        log.info("order %s already has a reservation: nothing to reserve", event.order_id)
        return None
    stock = _locked_stock(session, list(wanted))
    short = domain.shortages(wanted, {sku: Level(s.on_hand, s.reserved)
                                      for sku, s in stock.items()})
    if short:
        log.info("order %s not reserved, short of %s", event.order_id, short)
        reservation.reason = domain.OUT_OF_STOCK
        return events.InventoryFailed(order_id=event.order_id, reason=domain.OUT_OF_STOCK,
                                      shortages=short, correlation_id=event.correlation_id)
    for sku, quantity in wanted.items():
        stock[sku].reserved += quantity
        reservation.lines.append(ReservationLine(sku=sku, quantity=quantity))
    reservation.status, reservation.expires_at = domain.HELD, domain.hold_expiry(now, ttl_s)
    log.info("order %s reserved: %s", event.order_id, wanted)
    return events.InventoryReserved(
        order_id=event.order_id, reservation_id=reservation.id,
        items=[{"sku": sku, "quantity": q} for sku, q in wanted.items()],
        expires_at=reservation.expires_at.isoformat(), correlation_id=event.correlation_id)


def commit(session: Session, event: events.OrderConfirmed) -> None:
    """The order is paid: its held units leave the shelf."""
    reservation = _locked_reservation(session, event.order_id)
    action = domain.on_confirmed(reservation.status if reservation else None)
    if action is Action.RETRY:
        raise ReservationNotYetKnown(f"no reservation yet for order {event.order_id}")
    if action is Action.NOTHING:
        return
    stock = _locked_stock(session, [line.sku for line in reservation.lines])
    if action is Action.COMMIT_DIRECT:
        short = domain.shortages({line.sku: line.quantity for line in reservation.lines},
                                 {sku: Level(s.on_hand, s.reserved) for sku, s in stock.items()})
        if short:
            raise CannotCommit(f"order {event.order_id} was paid after its hold expired "
                               f"and stock is short: {short}")
    for line in reservation.lines:
        stock[line.sku].on_hand -= line.quantity
        if action is Action.COMMIT:
            stock[line.sku].reserved -= line.quantity
    reservation.status, reservation.expires_at = domain.COMMITTED, None
    log.info("order %s: reservation committed (%s)", event.order_id, action.value)


def cancel(session: Session, event: events.OrderCancelled) -> events.Event | None:
    """The order is off: release its hold, or put committed units back on the shelf."""
    if _claim_order(session, event.order_id, domain.RELEASED, domain.TOMBSTONE_REASON):
        return None  # cancelled before it was created: the tombstone is enough
    reservation = _locked_reservation(session, event.order_id)
    action = domain.on_cancelled(reservation.status)
    if action is Action.NOTHING:
        return None
    stock = _locked_stock(session, [line.sku for line in reservation.lines])
    for line in reservation.lines:
        if action is Action.RELEASE:
            stock[line.sku].reserved -= line.quantity
        else:  # RESTOCK
            stock[line.sku].on_hand += line.quantity
    reservation.status, reservation.reason = domain.RELEASED, event.reason
    reservation.expires_at = None
    log.info("order %s cancelled (%s): %s", event.order_id, event.reason,
             "hold released" if action is Action.RELEASE else "units back on the shelf")
    return events.InventoryReleased(order_id=event.order_id, reason=event.reason,
                                    correlation_id=event.correlation_id)


def expire_due(session: Session, now: datetime, limit: int,
               correlation_id: str | None = None) -> list[events.Event]:
    """Release holds past their expiry (never paid); inventory.released per order."""
    due = session.scalars(
        select(Reservation).where(Reservation.status == domain.HELD,
                                  Reservation.expires_at <= now)
        .order_by(Reservation.expires_at).limit(limit).with_for_update(skip_locked=True)
    ).all()
    # Every sku of the batch locked at once, in sku order, like every other path.
    stock = _locked_stock(session, sorted({line.sku for r in due for line in r.lines}))
    released = []
    for reservation in due:
        for line in reservation.lines:
            stock[line.sku].reserved -= line.quantity
        reservation.status, reservation.reason = domain.EXPIRED, "expired"
        released.append(events.InventoryReleased(order_id=reservation.order_id,
                                                 reason="expired",
                                                 correlation_id=correlation_id))
    return released


def describe(reservation: Reservation) -> dict:
    """A reservation as plain data (RPC, the invariant checker)."""
    return {"order_id": reservation.order_id, "status": reservation.status,
            "reason": reservation.reason,
            "expires_at": reservation.expires_at.isoformat() if reservation.expires_at else None,
            "lines": [{"sku": line.sku, "quantity": line.quantity}
                      for line in reservation.lines]}
