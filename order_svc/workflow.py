"""How the saga's events move an order, in the caller's transaction.

Every event that touches an order lands in its timeline; a transition the state
machine allows (domain.py) changes the status and announces it with one `order.*`
event carrying the order's snapshot (common.events.OrderSnapshot), so that no
consumer has to call back for the order. The handler commits effects, inbox row and
outbox rows together.

One step function per incoming event type: it records what the event tells about the
order (payment, shipment) and returns the transition the rules allow, or None.

Round trips: a handler claims its inbox row and locks the order (with its lines) in one
statement, and writes the order's changes, its timeline entries and its outbox row in
one more (store.py), between BEGIN and COMMIT.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable
from datetime import timedelta

from sqlalchemy.orm import Session

from common import events
from common.db import new_id, utc_now
from common.inbox import InboxClaim
from common.metrics import observe_saga_step
from order_svc import domain, store
from order_svc.domain import Transition
from order_svc.models import Order, OrderItem
from order_svc.store import Writes

log = logging.getLogger(__name__)

ENVELOPE = {"event_id", "occurred_at", "correlation_id"}
CAPTURED, FAILED, REFUNDED = "CAPTURED", "FAILED", "REFUNDED"

Step = Callable[[Order, events.Event], Transition | None]


class OrderNotYetKnown(Exception):
    """An event for an order this service has not stored yet: retried later."""


def _payment(order: Order) -> dict | None:
    if not order.payment_status:
        return None
    return {"status": order.payment_status, "amount_cents": order.payment_amount_cents,
            "refunded_cents": order.refunded_cents or 0}


def _shipment(order: Order) -> dict | None:
    if not order.shipment_status:
        return None
    return {"status": order.shipment_status, "carrier": order.carrier,
            "tracking_number": order.tracking_number}


def _lines(order: Order) -> list[dict]:
    return [{"sku": i.sku, "name": i.name, "quantity": i.quantity,
             "unit_price_cents": i.unit_price_cents} for i in order.items]


def order_dict(order: Order) -> dict:
    """The contract's order, plus the customer's `user_email` (shown to admins)."""
    return {
        "id": order.id, "user_id": order.user_id, "user_email": order.user_email,
        "status": order.status,
        "cancel_reason": order.cancel_reason,
        "items": [{**line, "line_total_cents": line["quantity"] * line["unit_price_cents"]}
                  for line in _lines(order)],
        "total_cents": order.total_cents, "currency": order.currency,
        "payment": _payment(order), "shipment": _shipment(order),
        "shipping_address": order.shipping_address,
        "created_at": order.created_at.isoformat(), "updated_at": order.updated_at.isoformat(),
    }


def snapshot(order: Order, previous: str | None = None, reason: str | None = None) -> dict:
    """The fields of an `order.*` event (common.events.OrderSnapshot) for `order` now."""
    return {"order_id": order.id, "user_id": order.user_id, "user_email": order.user_email,
            "status": order.status, "previous_status": previous, "reason": reason,
            "items": _lines(order), "total_cents": order.total_cents,
            "currency": order.currency, "shipping_address": order.shipping_address,
            "payment": _payment(order), "shipment": _shipment(order)}


def note(writes: Writes, order: Order, event: events.Event) -> None:
    """Put `event` on the order's timeline."""
    data = {k: v for k, v in dataclasses.asdict(event).items() if k not in ENVELOPE}
    data.pop("payment_token", None)  # a payment credential has no place in a history
    at = utc_now()
    if writes.timeline:  # strictly after the step's previous entry: the timeline's order
        at = max(at, writes.timeline[-1]["at"] + timedelta(microseconds=1))
    writes.timeline.append({"order_id": order.id, "type": event.TYPE, "at": at, "data": data})


def emit(writes: Writes, order: Order, event: events.Event) -> None:
    """Publish `event` (outbox) and put it on the order's timeline."""
    writes.outbox.append(event)
    note(writes, order, event)


def apply(writes: Writes, order: Order, transition: Transition | None,
          correlation_id: str | None) -> None:
    """Carry out a transition: status, reason, and the `order.*` event announcing it."""
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
    announce = events.ORDER_TRANSITIONS[transition.status]
    # Only order.cancelled has shortages (optional): other events get none of it.
    extra = {"shortages": list(transition.shortages)} if transition.shortages else {}
    emit(writes, order, announce(**snapshot(order, transition.previous, transition.reason),
                                 **extra, correlation_id=correlation_id))


def react(session: Session, inbox: InboxClaim, event: events.Event, step: Step) -> None:
    """Claim the event, lock its order, note the event, apply what `step` makes of it,
    and write it all (a duplicate changes nothing). The caller commits."""
    claimed, order = store.claimed_and_locked(session, inbox, event, event.order_id)
    if not claimed:
        return
    if order is None:
        raise OrderNotYetKnown(f"{event.TYPE} for unknown order {event.order_id}")
    writes = Writes()
    note(writes, order, event)
    transition = step(order, event)
    order.updated_at = utc_now()
    apply(writes, order, transition, event.correlation_id)
    store.save(session, order, writes)


def new_order(user_id: str, user_email: str, priced: tuple[list[domain.PricedLine], int, str],
              fingerprint: str, idempotency_key: str | None, deadline_s: float,
              shipping_address: dict | None = None) -> Order:
    """A PENDING order of the priced lines (domain.price's answer) to `shipping_address`
    (domain.shipping_address's answer), not stored yet."""
    lines, total, currency = priced
    now = utc_now()
    return Order(id=new_id(), user_id=user_id, user_email=user_email, status=domain.PENDING,
                 total_cents=total, currency=currency, idempotency_key=idempotency_key,
                 shipping_address=shipping_address,
                 request_fingerprint=fingerprint, created_at=now, updated_at=now,
                 refunded_cents=0,
                 deadline_at=now + timedelta(seconds=deadline_s),
                 items=[OrderItem(line_no=n, **dataclasses.asdict(line))
                        for n, line in enumerate(lines)])


def place(session: Session, order: Order, payment_token: str,
          correlation_id: str | None) -> None:
    """Store a new order with its order.created, in one statement; its first answer
    (the one an Idempotency-Key replays) in `order.first_response`."""
    writes = Writes()
    emit(writes, order, events.OrderCreated(**snapshot(order), payment_token=payment_token,
                                            correlation_id=correlation_id))
    order.first_response = order_dict(order)
    store.insert_order(session, order, writes)
    log.info("order %s placed: %d line(s), %d %s", order.id, len(order.items),
             order.total_cents, order.currency)


def move(session: Session, order: Order, transition: Transition | None,
         correlation_id: str | None) -> None:
    """Carry out a transition decided outside the saga's events (a customer's cancel,
    the deadline timer) on a locked order, and write it. The caller commits."""
    writes = Writes()
    apply(writes, order, transition, correlation_id)
    store.save(session, order, writes)


# ---- one step per incoming event -----------------------------------------------------

def on_inventory_reserved(order: Order, event: events.InventoryReserved):
    return domain.move(order.status, domain.RESERVED)


def on_inventory_failed(order: Order, event: events.InventoryFailed):
    return domain.out_of_stock(order.status, event.shortages)


def on_inventory_released(order: Order, event: events.InventoryReleased):
    return domain.on_inventory_released(order.status, event.reason)


def on_payment_succeeded(order: Order, event: events.PaymentSucceeded):
    if order.payment_status != REFUNDED:  # retries can bring the refund first
        order.payment_status = CAPTURED
    order.payment_amount_cents = event.amount_cents
    return domain.move(order.status, domain.CONFIRMED)


def on_payment_failed(order: Order, event: events.PaymentFailed):
    order.payment_status, order.payment_amount_cents = FAILED, event.amount_cents
    return domain.move(order.status, domain.CANCELLED, domain.PAYMENT_DECLINED)


def on_payment_refunded(order: Order, event: events.PaymentRefunded):
    order.payment_status = REFUNDED
    order.payment_amount_cents = order.payment_amount_cents or event.amount_cents
    order.refunded_cents = event.amount_cents
    return None


def _delivery_step(order: Order, event: events.DeliveryShipped | events.DeliveryDelivered,
                   target: str):
    transition = domain.move(order.status, target)
    if transition is not None:  # never for a cancelled order (its parcel is recalled)
        order.shipment_status = target
        order.carrier, order.tracking_number = event.carrier, event.tracking_number
    return transition


def on_delivery_cancelled(order: Order, event: events.DeliveryCancelled):
    return domain.move(order.status, domain.CANCELLED, event.reason)


def on_delivery_shipped(order: Order, event: events.DeliveryShipped):
    return _delivery_step(order, event, domain.SHIPPED)


def on_delivery_delivered(order: Order, event: events.DeliveryDelivered):
    return _delivery_step(order, event, domain.DELIVERED)
