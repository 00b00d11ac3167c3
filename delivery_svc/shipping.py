"""How order events and the clock move shipments.

Each event is claimed in the inbox by its first statement (common.inbox), in the same
transaction as its effects; `open_shipment` is that one statement alone, so the caller
runs it without a transaction (common.db.one_statement), and so is the sweep's move.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from sqlalchemy.engine import Row
from sqlalchemy.orm import Session

from common import events
from common.inbox import InboxClaim
from common.logging import correlated
from delivery_svc import domain, store
from delivery_svc.domain import Action
from delivery_svc.models import Outbox
from delivery_svc.store import Move

log = logging.getLogger(__name__)


def open_shipment(session: Session, inbox: InboxClaim, event: events.OrderConfirmed,
                  now: datetime, ship_after_s: float) -> None:
    """One shipment per confirmed order, PROCESSING until its ship time: one statement."""
    if store.open_once(session, inbox, event, domain.PROCESSING,
                       domain.ship_at(now, ship_after_s), now).opened:
        log.info("order %s: shipment opened", event.order_id)


def cancel(session: Session, inbox: InboxClaim, event: events.OrderCancelled,
           now: datetime) -> None:
    """Stop the parcel: cancel it, recall it, or leave a tombstone for a late confirm."""
    found = store.open_once(session, inbox, event, domain.CANCELLED, None, now)
    if not found.claimed or found.opened:  # handled before, or the tombstone is enough
        return
    # A statement of its own: a shipment committed while the tombstone waited on its
    # order id is seen here, and locked.
    shipment = store.locked_shipment(session, event.order_id)
    action = domain.on_cancelled(shipment.status)
    if action in (Action.CANCEL, Action.RECALL):
        shipment.status = domain.CANCELLED if action is Action.CANCEL else domain.RECALLED
        shipment.due_at = None
        log.info("order %s: shipment %s", event.order_id, shipment.status.lower())


def cancel_before_leaving(session: Session, order_id: str, reason: str, now: datetime,
                          correlation_id: str | None) -> dict:
    """Stop the order's parcel unless it left: {"cancelled": True} (delivery.cancelled
    written to the outbox when this call stopped it), or {"cancelled": False,
    "status": <where it is>}. The caller commits."""
    shipment_id = store.tombstone(session, order_id, now)
    if shipment_id is None:  # it has a shipment: decide under its row lock
        shipment = store.locked_shipment(session, order_id)
        if not domain.can_stop(shipment.status):
            return {"cancelled": False, "status": shipment.status}
        if shipment.status == domain.CANCELLED:
            return {"cancelled": True}
        shipment.status, shipment.due_at, shipment_id = domain.CANCELLED, None, shipment.id
    session.add(Outbox.of(events.DeliveryCancelled(
        order_id=order_id, shipment_id=shipment_id, reason=reason,
        correlation_id=correlation_id)))
    log.info("order %s: shipment stopped before it left (%s)", order_id, reason)
    return {"cancelled": True}


def _step(shipment: Row, move: Move, event_type) -> events.Event:
    return event_type(order_id=shipment.order_id, shipment_id=shipment.id,
                      carrier=move.carrier, tracking_number=move.tracking_number,
                      correlation_id=shipment.correlation_id)


def _next(shipment: Row, now: datetime, deliver_after_s: float) -> tuple[Move, events.Event]:
    """The step a due shipment takes now, and its event."""
    if shipment.status == domain.PROCESSING:
        carrier = domain.carrier_for(shipment.order_id)
        move = Move(shipment.id, shipment.status, domain.SHIPPED, carrier,
                    domain.tracking_number(carrier), now, None,
                    now + timedelta(seconds=deliver_after_s))
        return move, _step(shipment, move, events.DeliveryShipped)
    move = Move(shipment.id, shipment.status, domain.DELIVERED, shipment.carrier,
                shipment.tracking_number, None, now, None)
    return move, _step(shipment, move, events.DeliveryDelivered)


def advance_due(session: Session, now: datetime, deliver_after_s: float,
                limit: int) -> list[events.Event]:
    """Ship what is due to ship and deliver what is due to arrive: one read, then (if
    anything is due) one statement that moves them and writes their events. Each is
    atomic on its own: a shipment that was cancelled, or moved by another sweeper,
    since the read is left alone (the move checks its status). Returns the events
    written."""
    due = store.due(session, now, limit)
    if not due:
        return []
    steps = [_next(shipment, now, deliver_after_s) for shipment in due]
    written = store.move(session, [m for m, _ in steps], [e for _, e in steps], now)
    emitted = [event for _, event in steps if event.event_id in written]
    for shipment, (move, event) in zip(due, steps, strict=True):
        if event.event_id in written:
            with correlated(shipment.correlation_id):
                log.info("order %s: %s by %s (%s)", shipment.order_id, move.status.lower(),
                         move.carrier, move.tracking_number)
    return emitted
