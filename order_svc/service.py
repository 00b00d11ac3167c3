"""order_svc: orders, their lines and timeline, and the saga's state.

    n.rpc.order_svc.create_order(user_id=..., user_email=..., items=[{"sku": "TEA-SENCHA-100",
                                 "quantity": 2}], payment_token="tok_ok")
    n.rpc.order_svc.get_timeline(order_id=...)
"""

from __future__ import annotations

import logging

from nameko.dependency_providers import Config
from nameko.timer import timer
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from common import cursors, deadletters, events
from common.batching import batch_event_handler
from common.breakers import CircuitBreakers
from common.db import DatabaseSession, one_statement, utc_now
from common.entrypoints import RpcProxy, rpc
from common.errors import ServiceUnavailable, UpstreamTimeout
from common.inbox import InboxClaims
from common.logging import LogContext
from common.metrics import Metrics
from common.outbox import OutboxRelay
from common.rpc import call_service
from order_svc import domain, store, workflow
from order_svc.exceptions import (
    IdempotencyKeyReused,
    InvalidOrder,
    OrderNotCancellable,
    OrderNotFound,
    PricesChanged,
)
from order_svc.models import Base, DeadLetter, Inbox, Order, Outbox

log = logging.getLogger(__name__)

# nameko fixes a timer's interval when the class is defined, before config exists.
DEADLINE_SWEEP_S = 1.0
SWEEP_BATCH = 200


def checked(rule, *args):
    """Run a domain rule; its complaint becomes a 400 with the rule's details."""
    try:
        return rule(*args)
    except domain.OrderRuleError as exc:
        raise InvalidOrder(str(exc), exc.details) from None


# Through the module: `nameko run` takes every class named in this module that has
# entrypoints for a service, the mixin too.
class OrderService(deadletters.DeadLetterRpc):
    name = "order_svc"

    db = DatabaseSession(Base)
    relay = OutboxRelay(Base, Outbox)
    dead_letters = deadletters.DeadLetterStore(Base, DeadLetter)
    inbox = InboxClaims(Inbox)
    metrics = Metrics()
    correlation_id = LogContext()
    config = Config()
    inventory = RpcProxy("inventory_svc")
    delivery = RpcProxy("delivery_svc")
    # While one of them is down, create/cancel answer 503 at once, not after a timeout.
    breakers = CircuitBreakers("inventory_svc", "delivery_svc")

    def _replay(self, order: Order, fingerprint: str) -> dict:
        if order.request_fingerprint != fingerprint:
            raise IdempotencyKeyReused("this Idempotency-Key was used with another request")
        return order.first_response

    def _visible(self, order_id, user_id) -> Order:
        order = store.visible_order(self.db, order_id, user_id)
        if order is None:
            raise OrderNotFound("no such order", {"order_id": order_id})
        return order

    @rpc(expected_exceptions=(InvalidOrder, PricesChanged, IdempotencyKeyReused,
                              UpstreamTimeout, ServiceUnavailable))
    def create_order(self, user_id, user_email, items, payment_token="tok_ok",
                     idempotency_key=None, expected_total_cents=None, shipping_address=None):
        """Price the lines (one RPC to inventory), store the order PENDING + order.created.

        `expected_total_cents`: what the client showed its user; another total today
        raises PricesChanged with today's prices and makes no order.
        `shipping_address`: {name, line1, line2?, city, postal_code, country, phone?},
        kept on the order as given (checked: InvalidOrder naming the field)."""
        lines = checked(domain.order_lines, items)
        token = checked(domain.check_payment_token, payment_token)
        address = checked(domain.shipping_address, shipping_address)
        fingerprint = domain.fingerprint(lines, token, address)
        try:
            with one_statement(self.db):  # a read, then one INSERT: no BEGIN/COMMIT
                if idempotency_key and (seen := store.by_idempotency_key(
                        self.db, user_id, idempotency_key)):
                    return self._replay(seen, fingerprint)
                found = call_service(self.inventory, "get_products", [s for s, _ in lines],
                                     timeout=float(self.config["SERVICE_RPC_TIMEOUT_S"]),
                                     breakers=self.breakers)
                priced = checked(domain.price, lines, {p["sku"]: p for p in found["items"]})
                try:
                    checked(domain.check_expected_total, *priced[:2], expected_total_cents)
                except domain.PricesMoved as exc:
                    raise PricesChanged(str(exc), exc.details) from None
                order = workflow.new_order(user_id, user_email, priced, fingerprint,
                                           idempotency_key, float(self.config["ORDER_DEADLINE_S"]),
                                           address)
                workflow.place(self.db, order, token, self.correlation_id)
            self.db.commit()  # nothing left to send: each statement committed itself
        except IntegrityError:  # the same key, sent twice at once: the other one won
            self.db.rollback()
            return self._replay(store.by_idempotency_key(self.db, user_id, idempotency_key),
                                fingerprint)
        return order.first_response

    @rpc(expected_exceptions=OrderNotFound)
    def get_order(self, order_id, user_id=None):
        """The order; NotFound unless it is `user_id`'s (None: any order, for admins)."""
        return workflow.order_dict(self._visible(order_id, user_id))

    @rpc(expected_exceptions=InvalidOrder)
    def list_orders(self, user_id=None, limit=20, cursor=None, status=None):
        """Orders newest first, of one user or (None) of everyone, of one `status` or
        (None) any: {items, next_cursor}."""
        limit = checked(domain.check_limit, limit)
        status = checked(domain.check_status_filter, status)
        after = checked(domain.list_position, cursor) if cursor else None
        page = store.page_of_orders(self.db, user_id, limit, after, status)
        more, page = len(page) > limit, page[:limit]
        return {"items": [workflow.order_dict(o) for o in page],
                "next_cursor": cursors.encode_position(page[-1].created_at, page[-1].id)
                if more else None}

    @rpc(expected_exceptions=OrderNotFound)
    def get_timeline(self, order_id, user_id=None):
        """Every event that touched the order, in order: {items: [{type, at, data}]}."""
        order = self._visible(order_id, user_id)
        return {"items": [{"type": e.type, "at": e.at.isoformat(), "data": e.data}
                          for e in store.timeline(self.db, order.id)]}

    @rpc(expected_exceptions=(OrderNotFound, OrderNotCancellable, UpstreamTimeout,
                              ServiceUnavailable))
    def cancel_order(self, order_id, user_id=None):
        """Cancel before shipping (reason customer_request); 409 after.

        A confirmed order's parcel may be about to leave: delivery_svc, which owns it,
        stops it first (atomically with its ship step) or answers that it left, then a
        409. Its delivery.cancelled cancels the order even if this call fails after.
        """
        self._visible(order_id, user_id)
        order = store.locked_order(self.db, order_id)
        transition = domain.move(order.status, domain.CANCELLED, domain.CUSTOMER_REQUEST)
        if transition is not None and order.status == domain.CONFIRMED:
            stopped = call_service(self.delivery, "cancel_shipment", order_id,
                                   domain.CUSTOMER_REQUEST,
                                   timeout=float(self.config["SERVICE_RPC_TIMEOUT_S"]),
                                   breakers=self.breakers)
            if not stopped["cancelled"]:
                transition, left = None, stopped.get("status") or domain.SHIPPED
                raise OrderNotCancellable(f"the parcel has left ({left.lower()})",
                                          {"status": left})
        if transition is None:
            raise OrderNotCancellable(f"an order {order.status} cannot be cancelled",
                                      {"status": order.status})
        workflow.move(self.db, order, transition, self.correlation_id)
        self.db.commit()
        return workflow.order_dict(order)

    @rpc
    def health(self):
        """`{"status": "ok"}` when this service and its database answer."""
        self.db.execute(text("SELECT 1"))
        return {"status": "ok", "service": self.name}

    # ---- the saga (events) -----------------------------------------------------------

    # Each saga handler takes a batch of its queue (common.batching): one worker and one
    # transaction for the events waiting. Orders are locked in id order, so two batches
    # never wait on each other in a cycle.
    def _react(self, batch: list[events.Event], step: workflow.Step) -> None:
        for event in sorted(batch, key=lambda event: event.order_id):
            workflow.react(self.db, self.inbox, event, step)
        self.db.commit()

    @batch_event_handler("inventory_svc", "inventory.reserved")
    def on_inventory_reserved(self, batch: list[events.InventoryReserved]):
        """Stock held: PENDING -> RESERVED -> order.reserved."""
        self._react(batch, workflow.on_inventory_reserved)

    @batch_event_handler("inventory_svc", "inventory.failed")
    def on_inventory_failed(self, batch: list[events.InventoryFailed]):
        """Out of stock: CANCELLED(out_of_stock) -> order.cancelled."""
        self._react(batch, workflow.on_inventory_failed)

    @batch_event_handler("inventory_svc", "inventory.released")
    def on_inventory_released(self, batch: list[events.InventoryReleased]):
        """A hold expired unpaid: CANCELLED(expired); our own releases change nothing."""
        self._react(batch, workflow.on_inventory_released)

    @batch_event_handler("payment_svc", "payment.succeeded")
    def on_payment_succeeded(self, batch: list[events.PaymentSucceeded]):
        """Paid: CONFIRMED -> order.confirmed."""
        self._react(batch, workflow.on_payment_succeeded)

    @batch_event_handler("payment_svc", "payment.failed")
    def on_payment_failed(self, batch: list[events.PaymentFailed]):
        """Declined: CANCELLED(payment_declined) -> order.cancelled."""
        self._react(batch, workflow.on_payment_failed)

    @batch_event_handler("payment_svc", "payment.refunded")
    def on_payment_refunded(self, batch: list[events.PaymentRefunded]):
        """Money returned: the payment block shows it."""
        self._react(batch, workflow.on_payment_refunded)

    @batch_event_handler("delivery_svc", "delivery.shipped")
    def on_delivery_shipped(self, batch: list[events.DeliveryShipped]):
        """The parcel left: CONFIRMED -> SHIPPED -> order.shipped."""
        self._react(batch, workflow.on_delivery_shipped)

    @batch_event_handler("delivery_svc", "delivery.cancelled")
    def on_delivery_cancelled(self, batch: list[events.DeliveryCancelled]):
        """The parcel was stopped at a customer's cancel: CANCELLED, if cancel_order
        did not get to commit it."""
        self._react(batch, workflow.on_delivery_cancelled)

    @batch_event_handler("delivery_svc", "delivery.delivered")
    def on_delivery_delivered(self, batch: list[events.DeliveryDelivered]):
        """The parcel arrived: -> DELIVERED -> order.delivered."""
        self._react(batch, workflow.on_delivery_delivered)

    @timer(interval=DEADLINE_SWEEP_S)
    def cancel_stuck_orders(self):
        """Cancel orders PENDING or RESERVED past ORDER_DEADLINE_S (reason expired)."""
        for order in store.waiting_past_deadline(self.db, utc_now(), SWEEP_BATCH):
            workflow.move(self.db, order, domain.past_deadline(order.status),
                          self.correlation_id)
        self.db.commit()
