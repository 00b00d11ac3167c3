"""How the saga's events move an order, in the caller's transaction.

Every event that touches an order lands in its timeline; a transition the state
machine allows (domain.py) changes the status and emits `order.status_changed` plus
the milestone event the other services react to (`order.confirmed`, `order.cancelled`).
The handler commits effects, inbox row and outbox rows together.
"""

from __future__ import annotations

import dataclasses
import logging

from sqlalchemy.orm import Session

from common import events
from common.db import utc_now
from common.metrics import observe_saga_step
from order_svc import domain, store
from order_svc.domain import Transition
from order_svc.models import Order, Outbox, TimelineEntry

log = logging.getLogger(__name__)

ENVELOPE = {"event_id", "occurred_at", "correlation_id"}


class OrderNotYetKnown(Exception):
    """An event for an order this service has not stored yet: retried later."""


def order_dict(order: Order) -> dict:
    """The contract's order."""
    payment = None
    if order.payment_status:
        payment = {"status": order.payment_status, "amount_cents": order.payment_amount_cents,
                   "refunded_cents": order.refunded_cents}
    shipment = None
    if order.shipment_status:
        shipment = {"status": order.shipment_status, "carrier": order.carrier,
                    "tracking_number": order.tracking_number}
    return {
        "id": order.id, "user_id": order.user_id, "status": order.status,
        "cancel_reason": order.cancel_reason,
        "items": [{"sku": i.sku, "name": i.name, "quantity": i.quantity,
                   "unit_price_cents": i.unit_price_cents,
                   "line_total_cents": i.quantity * i.unit_price_cents} for i in order.items],
        "total_cents": order.total_cents, "currency": order.currency, "payment": payment,
        "shipment": shipment,
        "created_at": order.created_at.isoformat(), "updated_at": order.updated_at.isoformat(),
    }


def note(session: Session, order: Order, event: events.Event) -> None:
    """Put `event` on the order's timeline."""
    data = {k: v for k, v in dataclasses.asdict(event).items() if k not in ENVELOPE}
    data.pop("payment_token", None)  # a payment credential has no place in a history
    session.add(TimelineEntry(order_id=order.id, type=event.TYPE, at=utc_now(), data=data))


def emit(session: Session, order: Order, event: events.Event) -> None:
    """Publish `event` (outbox) and put it on the order's timeline."""
    session.add(Outbox.of(event))
    note(session, order, event)


def apply(session: Session, order: Order, transition: Transition | None,
          correlation_id: str | None) -> None:
    """Carry out a transition: status, reason, and the events it announces."""
    if transition is None:
        return
    order.status, order.updated_at = transition.status, utc_now()
    if transition.status == domain.CANCELLED:
        order.cancel_reason = transition.reason
        if order.shipment_status == domain.PROCESSING:
            order.shipment_status = None  # it never left: delivery_svc cancels it
    elif transition.status == domain.CONFIRMED:
        # delivery_svc opens a PROCESSING shipment for every confirmed order.
        order.shipment_status = domain.PROCESSING
    log.info("order %s: %s -> %s%s", order.id, transition.previous, transition.status,
             f" ({transition.reason})" if transition.reason else "")
    observe_saga_step(order.created_at, transition.status)
    common = {"order_id": order.id, "user_id": order.user_id,
              "correlation_id": correlation_id}
    session.add(Outbox.of(events.OrderStatusChanged(
        status=transition.status, previous_status=transition.previous,
        reason=transition.reason, **common)))
    milestone = {domain.CONFIRMED: events.OrderConfirmed, domain.SHIPPED: events.OrderShipped,
                 domain.DELIVERED: events.OrderDelivered}.get(transition.status)
    if milestone is not None:
        emit(session, order, milestone(user_email=order.user_email,
                                       total_cents=order.total_cents, **common))
    elif transition.status == domain.CANCELLED:
        emit(session, order, events.OrderCancelled(
            user_email=order.user_email, reason=transition.reason,
            previous_status=transition.previous, **common))


def react(session: Session, event: events.Event) -> None:
    """What an event of the saga does to its order (see domain.py for the rules)."""
    order = store.locked_order(session, event.order_id)
    if order is None:
        raise OrderNotYetKnown(f"{event.TYPE} for unknown order {event.order_id}")
    note(session, order, event)
    current = order.status
    if isinstance(event, events.InventoryReserved):
        transition = domain.move(current, domain.RESERVED)
    elif isinstance(event, events.InventoryFailed):
        transition = domain.move(current, domain.CANCELLED, domain.OUT_OF_STOCK)
    elif isinstance(event, events.InventoryReleased):
        transition = domain.on_inventory_released(current, event.reason)
    elif isinstance(event, events.PaymentSucceeded):
        if order.payment_status != "REFUNDED":  # retries can bring the refund first
            order.payment_status = "CAPTURED"
        order.payment_amount_cents = event.amount_cents
        transition = domain.move(current, domain.CONFIRMED)
    elif isinstance(event, events.PaymentFailed):
        order.payment_status, order.payment_amount_cents = "FAILED", event.amount_cents
        transition = domain.move(current, domain.CANCELLED, domain.PAYMENT_DECLINED)
    elif isinstance(event, (events.DeliveryShipped, events.DeliveryDelivered)):
        target = domain.SHIPPED if isinstance(event, events.DeliveryShipped) else domain.DELIVERED
        transition = domain.move(current, target)
        if transition is not None:  # never for a cancelled order (its parcel is recalled)
            order.shipment_status = target
            order.carrier, order.tracking_number = event.carrier, event.tracking_number
    elif isinstance(event, events.PaymentRefunded):
        order.payment_status = "REFUNDED"
        order.payment_amount_cents = order.payment_amount_cents or event.amount_cents
        order.refunded_cents = event.amount_cents
        transition = None
    else:
        raise TypeError(f"order_svc does not react to {event.TYPE}")
    order.updated_at = utc_now()
    apply(session, order, transition, event.correlation_id)
