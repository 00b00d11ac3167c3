"""payment_svc: one charge per order at the mock provider, refunds, payment events.

    n.rpc.payment_svc.get_payment("<order id>")
    n.rpc.payment_svc.list_payments(limit=5)

The saga: order.created leaves a charge intent (amount, token); inventory.reserved
charges it (payment.succeeded / payment.failed); order.cancelled refunds a capture
(payment.refunded). payments.py explains the steps and why they are safe.
"""

from __future__ import annotations

import logging

from nameko.dependency_providers import Config
from sqlalchemy import text

from common import cursors, deadletters, events
from common.db import DatabaseSession, one_statement
from common.entrypoints import rpc
from common.errors import field_checker
from common.inbox import InboxClaims
from common.logging import LogContext
from common.messaging import event_handler
from common.metrics import Metrics
from common.outbox import OutboxRelay
from payment_svc import domain, payments, store
from payment_svc.exceptions import InvalidPaymentQuery
from payment_svc.models import Base, DeadLetter, Inbox, Outbox
from payment_svc.provider import Provider

log = logging.getLogger(__name__)


# A domain check's complaint becomes a 400 naming the field.
checked = field_checker(InvalidPaymentQuery)


# Through the module: `nameko run` takes every class named in this module that has
# entrypoints for a service, the mixin too.
class PaymentService(deadletters.DeadLetterRpc):
    name = "payment_svc"

    db = DatabaseSession(Base)
    relay = OutboxRelay(Base, Outbox)
    dead_letters = deadletters.DeadLetterStore(Base, DeadLetter)
    inbox = InboxClaims(Inbox)
    metrics = Metrics()
    correlation_id = LogContext()
    config = Config()
    provider = Provider()

    # ---- reads (RPC) ------------------------------------------------------------------

    @rpc
    def get_payment(self, order_id):
        """The order's payment {id, order_id, status, amount_cents, refunded_cents,
        attempts}, or None."""
        if not isinstance(order_id, str):
            return None
        with one_statement(self.db):
            found = store.payment_of_order(self.db, order_id)
        return store.payment_dict(found) if found else None

    @rpc(expected_exceptions=InvalidPaymentQuery)
    def list_payments(self, order_id=None, limit=20, cursor=None):
        """Payments newest first, optionally of one order: {items, next_cursor}."""
        order_id = checked("order_id", domain.check_order_id, order_id)
        limit = checked("limit", domain.check_limit, limit)
        before = checked("cursor", cursors.decode_position, cursor) if cursor else None
        with one_statement(self.db):
            page = store.page_of_payments(self.db, limit, order_id, before)
        last = page[limit - 1] if len(page) > limit else None
        return {"items": [store.payment_dict(p) for p in page[:limit]],
                "next_cursor": cursors.encode_position(last.created_at, last.id) if last else None}

    @rpc
    def health(self):
        """`{"status": "ok"}` when this service and its database answer."""
        with one_statement(self.db):
            self.db.execute(text("SELECT 1"))
        return {"status": "ok", "service": self.name}

    # ---- the order saga (events) -----------------------------------------------------

    @event_handler("order_svc", "order.created", non_retryable=(payments.InvalidIntent,))
    def record_intent(self, event: events.OrderCreated):
        """Remember the order's amount and token: inventory.reserved carries neither."""
        with one_statement(self.db):  # the claim and the intent: one statement
            payments.record_intent(self.db, self.inbox, event)

    @event_handler("inventory_svc", "inventory.reserved")
    def charge(self, event: events.InventoryReserved):
        """Stock is held: charge the order once -> payment.succeeded / payment.failed.

        Retried (IntentNotYetKnown) while order.created has not arrived, and
        (ProviderUnavailable) when every provider call of this delivery failed.
        """
        with one_statement(self.db):  # the PENDING row commits before the provider call
            pending = payments.begin_charge(self.db, event, self.inbox)
        if pending is None:
            return
        delays = self.config.get("PAYMENT_RETRY_DELAYS_MS", domain.DEFAULT_RETRY_DELAYS_MS)
        result = payments.call_provider(self.db, self.provider, pending, delays)
        payments.settle_charge(self.db, self.provider, event, self.inbox, result)
        self.db.commit()

    @event_handler("order_svc", "order.cancelled")
    def refund(self, event: events.OrderCancelled):
        """The order is off: never charge it, and refund a capture once."""
        with one_statement(self.db):  # the tombstone commits before the payment is looked at
            payments.leave_tombstone(self.db, event)
        payments.cancel(self.db, self.provider, self.inbox, event)
        self.db.commit()
