"""delivery_svc: simulated shipping of confirmed orders, PROCESSING -> SHIPPED -> DELIVERED.

    n.rpc.delivery_svc.get_shipment(order_id=...)
"""

from __future__ import annotations

import uuid

from nameko.dependency_providers import Config
from nameko.timer import timer
from sqlalchemy import select, text, tuple_

from common import deadletters, events
from common.db import DatabaseSession, one_statement, utc_now
from common.entrypoints import rpc
from common.inbox import InboxClaims
from common.logging import LogContext
from common.messaging import event_handler
from common.metrics import Metrics
from common.outbox import OutboxRelay
from delivery_svc import shipping
from delivery_svc.exceptions import ShipmentNotFound
from delivery_svc.models import Base, DeadLetter, Inbox, Outbox, Shipment

# nameko fixes a timer's interval when the class is defined, before config exists.
SWEEP_INTERVAL_S = 0.5
SWEEP_BATCH = 200


def store_id(value) -> bool:
    try:
        return bool(uuid.UUID(str(value)))
    except ValueError:
        return False


# Through the module: `nameko run` takes every class named in this module that has
# entrypoints for a service, the mixin too.
class DeliveryService(deadletters.DeadLetterRpc):
    name = "delivery_svc"

    db = DatabaseSession(Base)
    relay = OutboxRelay(Base, Outbox)
    dead_letters = deadletters.DeadLetterStore(Base, DeadLetter)
    inbox = InboxClaims(Inbox)
    metrics = Metrics()
    correlation_id = LogContext()
    config = Config()

    @event_handler("order_svc", "order.confirmed")
    def open_shipment(self, event: events.OrderConfirmed):
        """A confirmed order gets one shipment, PROCESSING until its ship time."""
        with one_statement(self.db):  # the claim and the shipment: one statement
            shipping.open_shipment(self.db, self.inbox, event, utc_now(),
                                   float(self.config["DELIVERY_SHIP_AFTER_S"]))

    @event_handler("order_svc", "order.cancelled")
    def stop_shipment(self, event: events.OrderCancelled):
        """A cancelled order's parcel is cancelled, or recalled if it just left."""
        shipping.cancel(self.db, self.inbox, event, utc_now())
        self.db.commit()

    @timer(interval=SWEEP_INTERVAL_S)
    def advance_shipments(self):
        """Ship and deliver what is due: delivery.shipped / delivery.delivered."""
        with one_statement(self.db):  # a read, then one statement that moves the batch
            shipping.advance_due(self.db, utc_now(),
                                 float(self.config["DELIVERY_DELIVER_AFTER_S"]), SWEEP_BATCH)

    @rpc
    def cancel_shipment(self, order_id, reason="customer_request"):
        """Stop the order's parcel before it leaves, atomically with the ship step:
        {"cancelled": True} (then delivery.cancelled), or {"cancelled": False, "status":
        "SHIPPED" | "DELIVERED" | ...} when it left. Called by order_svc's cancel_order
        before it accepts a cancel; repeating it is harmless."""
        if not store_id(order_id):
            return {"cancelled": False, "status": None}
        answer = shipping.cancel_before_leaving(self.db, order_id, str(reason), utc_now(),
                                                self.correlation_id)
        self.db.commit()
        return answer

    @rpc(expected_exceptions=ShipmentNotFound)
    def get_shipment(self, order_id):
        """The order's shipment: {id, order_id, status, carrier, tracking_number, ...}."""
        if not isinstance(order_id, str):
            raise ShipmentNotFound("no shipment for this order", {"order_id": order_id})
        with one_statement(self.db):
            shipment = self.db.scalars(select(Shipment).where(Shipment.order_id == order_id)
                                       ).first()
        if shipment is None:
            raise ShipmentNotFound("no shipment for this order", {"order_id": order_id})
        return shipment.to_dict()

    @rpc
    def list_shipments(self, limit=100, cursor=None):
        """Every shipment, oldest first, for audits: {items, next_cursor} (cursor: an id)."""
        limit = max(1, min(int(limit), 500))
        query = select(Shipment).order_by(Shipment.created_at, Shipment.id).limit(limit + 1)
        if cursor:
            anchor = self.db.get(Shipment, cursor) if store_id(cursor) else None
            if anchor is not None:
                query = query.where(tuple_(Shipment.created_at, Shipment.id) >
                                    tuple_(anchor.created_at, anchor.id))
        page = list(self.db.scalars(query))
        more, page = len(page) > limit, page[:limit]
        return {"items": [s.to_dict() for s in page],
                "next_cursor": page[-1].id if more else None}

    @rpc
    def health(self):
        """`{"status": "ok"}` when this service and its database answer."""
        with one_statement(self.db):
            self.db.execute(text("SELECT 1"))
        return {"status": "ok", "service": self.name}
