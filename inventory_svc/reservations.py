"""How order events move stock, in the caller's transaction.

Each step writes its inbox row, its effects and its event (the outbox row) in one
transaction, with as few statements as its guarantees allow (saga_store.py builds
them):

* reserve: the order's stock rows locked in sku order (SELECT ... FOR UPDATE), then
  one statement that claims the event, inserts the reservation (or finds the order
  has one, or a tombstone), holds the units, writes the lines and the event;
* commit: the claim and the reservation locked with its lines (one statement), then
  one statement that locks the stock rows in sku order, moves the units and marks
  the reservation;
* cancel: the claim and the tombstone (one statement), the reservation locked with its
  lines, then one statement for stock, reservation and event.

Two reservations never deadlock (every path locks stock rows in sku order) and the
CHECK constraint on `stock` is the last word on overselling.
"""

from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy.orm import Session

from common import events
from common.db import new_id
from common.inbox import InboxClaim
from common.messaging import NonRetryable
from inventory_svc import domain
from inventory_svc import saga_store as store
from inventory_svc.domain import Action
from inventory_svc.models import Reservation

log = logging.getLogger(__name__)


class ReservationNotYetKnown(Exception):
    """order.confirmed before its order.created was handled: retried later."""


class CannotCommit(NonRetryable):
    """A confirmed order whose expired hold can no longer be met: needs an operator."""


def reserve(session: Session, inbox: InboxClaim, event: events.OrderCreated, ttl_s: float,
            now: datetime) -> events.Event | None:
    """Hold every line of the order, or none: the inventory.reserved or
    inventory.failed written, or None when the event was handled before or the order
    has a reservation (a tombstone: cancelled first)."""
    wanted = domain.merge_lines(event.items)
    short = domain.shortages(wanted, store.lock_stock(session, list(wanted)))
    reservation_id = new_id()
    if short:
        reservation = {"id": reservation_id, "status": domain.FAILED,
                       "reason": domain.OUT_OF_STOCK, "expires_at": None}
        emitted = events.InventoryFailed(
            order_id=event.order_id, reason=domain.OUT_OF_STOCK, shortages=short,
            correlation_id=event.correlation_id)
    else:
        expires_at = domain.hold_expiry(now, ttl_s)
        reservation = {"id": reservation_id, "status": domain.HELD, "reason": None,
                       "expires_at": expires_at}
        emitted = events.InventoryReserved(
            order_id=event.order_id, reservation_id=reservation_id,
            items=[{"sku": sku, "quantity": q} for sku, q in wanted.items()],
            expires_at=expires_at.isoformat(), correlation_id=event.correlation_id)
    if not store.reserve_once(session, inbox, event, reservation, {} if short else wanted,
                              emitted, now):
        log.info("order %s already has a reservation: nothing to reserve", event.order_id)
        return None
    if short:
        log.info("order %s not reserved, short of %s", event.order_id, short)
    else:
        log.info("order %s reserved: %s", event.order_id, wanted)
    return emitted


def commit(session: Session, inbox: InboxClaim, event: events.OrderConfirmed,
           now: datetime) -> None:
    """The order is paid: its held units leave the shelf."""
    claimed, reservation = store.claim_and_lock(session, inbox, event, now)
    action = domain.on_confirmed(reservation.status if reservation else None)
    if action is Action.RETRY:
        raise ReservationNotYetKnown(f"no reservation yet for order {event.order_id}")
    if not claimed or action is Action.NOTHING:
        return
    lines = reservation.lines
    if action is Action.COMMIT_DIRECT:
        short = domain.shortages(lines, store.lock_stock(session, list(lines)))
        if short:
            raise CannotCommit(f"order {event.order_id} was paid after its hold expired "
                               f"and stock is short: {short}")
    held = 1 if action is Action.COMMIT else 0
    store.move_stock(session, {sku: (-q, -q * held) for sku, q in lines.items()},
                     [reservation.id], {"status": domain.COMMITTED, "expires_at": None},
                     [], now)
    log.info("order %s: reservation committed (%s)", event.order_id, action.value)


def cancel(session: Session, inbox: InboxClaim, event: events.OrderCancelled,
           now: datetime) -> events.Event | None:
    """The order is off: release its hold, or put committed units back on the shelf.
    The inventory.released written, or None."""
    found = store.claim_or_tombstone(session, inbox, event, domain.RELEASED,
                                     domain.TOMBSTONE_REASON, now)
    if not found.claimed or found.tombstoned:
        return None  # handled before, or cancelled before created: the tombstone is enough
    # A statement of its own: a reservation committed while the tombstone waited on
    # its order id is seen here, and locked.
    reservation = store.lock_reservation(session, event.order_id)
    action = domain.on_cancelled(reservation.status)
    if action is Action.NOTHING:
        return None
    release = action is Action.RELEASE
    emitted = events.InventoryReleased(order_id=event.order_id, reason=event.reason,
                                       correlation_id=event.correlation_id)
    store.move_stock(session, {sku: (0, -q) if release else (q, 0)
                               for sku, q in reservation.lines.items()},
                     [reservation.id], {"status": domain.RELEASED, "reason": event.reason,
                                        "expires_at": None}, [emitted], now)
    log.info("order %s cancelled (%s): %s", event.order_id, event.reason,
             "hold released" if release else "units back on the shelf")
    return emitted


def expire_due(session: Session, now: datetime, limit: int,
               correlation_id: str | None = None) -> list[events.Event]:
    """Release holds past their expiry (never paid): inventory.released per order,
    written and returned."""
    due = store.lock_due(session, now, limit)
    if not due:
        return []
    deltas: dict[str, tuple[int, int]] = {}
    for _, lines in due.values():
        for sku, quantity in lines.items():
            deltas[sku] = (0, deltas.get(sku, (0, 0))[1] - quantity)
    released = [events.InventoryReleased(order_id=order_id, reason="expired",
                                         correlation_id=correlation_id)
                for order_id, _ in due.values()]
    store.move_stock(session, deltas, list(due), {"status": domain.EXPIRED,
                                                  "reason": "expired"}, released, now)
    return released


def describe(reservation: Reservation) -> dict:
    """A reservation as plain data (RPC, the invariant checker)."""
    return {"order_id": reservation.order_id, "status": reservation.status,
            "reason": reservation.reason,
            "expires_at": reservation.expires_at.isoformat() if reservation.expires_at else None,
            "lines": [{"sku": line.sku, "quantity": line.quantity}
                      for line in reservation.lines]}
