"""How order events and the clock move shipments, in the caller's transaction."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from common import events
from common.db import insert, new_id
from common.logging import correlated
from delivery_svc import domain
from delivery_svc.domain import Action
from delivery_svc.models import Shipment

log = logging.getLogger(__name__)


def _claim(session: Session, event: events.Event, status: str,
           due_at: datetime | None) -> Shipment | None:
    """Insert the order's shipment; None if the order already has one (or a tombstone)."""
    return session.scalars(
        insert(Shipment).values(id=new_id(), order_id=event.order_id, user_id=event.user_id,
                                status=status, due_at=due_at,
                                correlation_id=event.correlation_id)
        .on_conflict_do_nothing(index_elements=["order_id"]).returning(Shipment)
    ).first()


def open_shipment(session: Session, event: events.OrderConfirmed, now: datetime,
                  ship_after_s: float) -> None:
    """One shipment per confirmed order, PROCESSING until its ship time."""
    if _claim(session, event, domain.PROCESSING, domain.ship_at(now, ship_after_s)):
        log.info("order %s: shipment opened", event.order_id)


def cancel(session: Session, event: events.OrderCancelled) -> None:
    """Stop the parcel: cancel it, recall it, or leave a tombstone for a late confirm."""
    if _claim(session, event, domain.CANCELLED, None):
        return
    shipment = session.scalars(select(Shipment).where(Shipment.order_id == event.order_id)
                               .with_for_update()).one()
    action = domain.on_cancelled(shipment.status)
    if action in (Action.CANCEL, Action.RECALL):
        shipment.status = domain.CANCELLED if action is Action.CANCEL else domain.RECALLED
        shipment.due_at = None
        log.info("order %s: shipment %s", event.order_id, shipment.status.lower())


def _step(shipment: Shipment, event_type) -> events.Event:
    return event_type(order_id=shipment.order_id, shipment_id=shipment.id,
                      carrier=shipment.carrier, tracking_number=shipment.tracking_number,
                      correlation_id=shipment.correlation_id)


def advance_due(session: Session, now: datetime, deliver_after_s: float,
                limit: int) -> list[events.Event]:
    """Ship what is due to ship and deliver what is due to arrive; their events."""
    due = session.scalars(
        select(Shipment).where(Shipment.status.in_((domain.PROCESSING, domain.SHIPPED)),
                               Shipment.due_at <= now)
        .order_by(Shipment.due_at).limit(limit).with_for_update(skip_locked=True)).all()
    emitted = []
    for shipment in due:
        if shipment.status == domain.PROCESSING:
            shipment.carrier = domain.carrier_for(shipment.order_id)
            shipment.tracking_number = domain.tracking_number(shipment.carrier)
            shipment.status, shipment.shipped_at = domain.SHIPPED, now
            shipment.due_at = now + timedelta(seconds=deliver_after_s)
            emitted.append(_step(shipment, events.DeliveryShipped))
        else:
            shipment.status, shipment.delivered_at, shipment.due_at = domain.DELIVERED, now, None
            emitted.append(_step(shipment, events.DeliveryDelivered))
        with correlated(shipment.correlation_id):
            log.info("order %s: %s by %s (%s)", shipment.order_id, shipment.status.lower(),
                     shipment.carrier, shipment.tracking_number)
    return emitted
