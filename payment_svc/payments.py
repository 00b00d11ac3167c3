"""How saga events move money, transaction by transaction.

Charging an order takes three steps, so that no DB transaction is open while the
provider is asked (it may take seconds) and no crash can charge twice:

1. `begin_charge`: the order's payments row is inserted PENDING (UNIQUE order id:
   one charge per order, ever) and committed by the caller;
2. `call_provider`: the provider is asked outside any transaction, idempotency key =
   order id, provider errors retried after each PAYMENT_RETRY_DELAYS_MS delay, every
   attempt counted on the row. A crash anywhere here leaves the row PENDING and the
   message unacknowledged: the redelivery asks again with the same key and the
   provider answers its first answer, so the money is captured once;
3. `settle_charge`: under the row's lock, the outcome is recorded with the inbox row
   and the outgoing events, in one transaction.

Cancel against capture. `cancel` inserts the tombstone and then locks the payments
row, in one transaction; `settle_charge` locks the row and then reads the tombstone.
The row lock orders the two: if the cancel locks first, its tombstone is committed
when the settle gets the lock and reads it, so the settle refunds; if the settle
locks first, the cancel waits and then finds CAPTURED, so the cancel refunds.
Exactly one of them refunds, and the REFUNDED status stops any other.

Refunds are asked of the provider while the row lock is held: the key
("refund-<order id>") makes a repeat harmless, and if the call fails the whole
transaction rolls back and the event is retried.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

import eventlet
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from common import events
from common.db import insert, new_id, utc_now
from common.inbox import InboxClaim
from common.messaging import NonRetryable
from payment_svc import domain
from payment_svc.domain import Action
from payment_svc.models import CancelledOrder, ChargeIntent, Payment
from payment_svc.provider import ChargeResult, MockProvider, ProviderError

log = logging.getLogger(__name__)


class IntentNotYetKnown(Exception):
    """inventory.reserved before its order.created was handled: retried later."""


class ProviderUnavailable(Exception):
    """Every provider call of this delivery failed: the event queue retries later."""


class InvalidIntent(NonRetryable):
    """An order.created whose amount no retry can make chargeable."""


@dataclass(frozen=True)
class Charge:
    """What the provider call needs, read before the transaction closed."""

    payment_id: str
    order_id: str
    token: str
    amount_cents: int
    currency: str


def record_intent(session: Session, event: events.OrderCreated) -> None:
    """Remember what to charge for the order (the first order.created wins)."""
    if event.total_cents <= 0:
        raise InvalidIntent(f"order {event.order_id} has a total of {event.total_cents}")
    session.execute(insert(ChargeIntent).values(
        order_id=event.order_id, user_id=event.user_id, amount_cents=event.total_cents,
        currency=event.currency, payment_token=event.payment_token, created_at=utc_now(),
    ).on_conflict_do_nothing(index_elements=["order_id"]))


def _tombstone(session: Session, order_id: str) -> CancelledOrder | None:
    return session.scalars(select(CancelledOrder).where(CancelledOrder.order_id == order_id)
                           .execution_options(populate_existing=True)).first()


def _payment(session: Session, order_id: str, lock: bool = False) -> Payment | None:
    # populate_existing: the session keeps objects across commits; re-read the row.
    query = select(Payment).where(Payment.order_id == order_id).execution_options(
        populate_existing=True)
    return session.scalars(query.with_for_update() if lock else query).first()


def begin_charge(session: Session, event: events.InventoryReserved, inbox: InboxClaim
                 ) -> Charge | None:
    """Step 1: the PENDING row to charge, or None (settled, or cancelled first).

    Raises IntentNotYetKnown while order.created is still on its way. The caller
    commits in every case.
    """
    payment = _payment(session, event.order_id)
    intent = session.get(ChargeIntent, event.order_id)
    action = domain.on_reserved(payment.status if payment else None,
                                _tombstone(session, event.order_id) is not None,
                                intent is not None)
    if action is Action.RETRY:
        raise IntentNotYetKnown(f"no order.created yet for order {event.order_id}")
    if action is Action.NOTHING:
        log.info("order %s: nothing to charge (%s)", event.order_id,
                 payment.status if payment else "cancelled before charging")
        inbox.claim(session, event)
        return None
    if payment is None:
        session.execute(insert(Payment).values(
            id=new_id(), order_id=intent.order_id, user_id=intent.user_id,
            amount_cents=intent.amount_cents, currency=intent.currency,
            status=domain.PENDING, attempts=0, refunded_cents=0,
            created_at=utc_now(), updated_at=utc_now(),
        ).on_conflict_do_nothing(index_elements=["order_id"]))
        payment = _payment(session, event.order_id)
    return Charge(payment.id, payment.order_id, intent.payment_token, payment.amount_cents,
                  payment.currency)


def call_provider(session: Session, provider: MockProvider, charge: Charge,
                  delays_ms, sleep: Callable[[float], None] = eventlet.sleep) -> ChargeResult:
    """Step 2: ask the provider, retrying its errors; ProviderUnavailable if all fail."""
    error = None
    for wait in domain.attempt_schedule(delays_ms):
        if wait:
            sleep(wait)
        session.execute(update(Payment).where(Payment.id == charge.payment_id)
                        .values(attempts=Payment.attempts + 1, updated_at=utc_now()))
        session.commit()  # counted even if this process dies during the call
        try:
            return provider.charge(charge.token, charge.amount_cents, charge.currency,
                                   domain.charge_key(charge.order_id))
        except ProviderError as exc:
            log.warning("order %s: provider error, will retry: %s", charge.order_id, exc)
            error = exc
    raise ProviderUnavailable(f"order {charge.order_id}: provider failed: {error}")


def settle_charge(session: Session, provider: MockProvider, event: events.InventoryReserved,
                  inbox: InboxClaim, result: ChargeResult) -> list[events.Event]:
    """Step 3: record the provider's answer once; refund at once if cancelled meanwhile.

    A capture for an order already cancelled still announces payment.succeeded, then
    payment.refunded: the money moved, and the events say so (order_svc ignores a
    success for a cancelled order and records the refund).
    """
    if not inbox.claim(session, event):
        return []
    payment = _payment(session, event.order_id, lock=True)
    tombstone = _tombstone(session, event.order_id)  # read under the row lock
    actions = domain.on_outcome(payment.status, result.captured, tombstone is not None)
    emitted: list[events.Event] = []
    for action in actions:
        if action is Action.FAIL:
            payment.status, payment.failure_reason = domain.FAILED, result.reason
            payment.provider_ref = result.provider_ref
            log.info("order %s: payment declined (%s)", payment.order_id, result.reason)
            emitted.append(_outcome(events.PaymentFailed, payment, event, result.reason))
        elif action is Action.CAPTURE:
            payment.status, payment.provider_ref = domain.CAPTURED, result.provider_ref
            log.info("order %s: captured %d %s", payment.order_id, payment.amount_cents,
                     payment.currency)
            emitted.append(_outcome(events.PaymentSucceeded, payment, event))
        elif action is Action.REFUND:
            emitted.append(refund(provider, payment, tombstone.reason, event))
    return emitted


def cancel(session: Session, provider: MockProvider,
           event: events.OrderCancelled) -> list[events.Event]:
    """Tombstone the order, then (under the row lock) refund a capture once."""
    session.execute(insert(CancelledOrder).values(
        order_id=event.order_id, reason=event.reason, cancelled_at=utc_now(),
    ).on_conflict_do_nothing(index_elements=["order_id"]))
    payment = _payment(session, event.order_id, lock=True)
    action = domain.on_cancelled(payment.status if payment else None)
    if action is not Action.REFUND:
        log.info("order %s cancelled: no refund due (%s)", event.order_id,
                 payment.status if payment else "never charged")
        return []
    return [refund(provider, payment, event.reason, event)]


def refund(provider: MockProvider, payment: Payment, reason: str,
           cause: events.Event) -> events.PaymentRefunded:
    """Give the whole capture back (the row is locked by the caller)."""
    provider.refund(payment.provider_ref, payment.amount_cents,
                    domain.refund_key(payment.order_id))
    payment.status, payment.refunded_cents = domain.REFUNDED, payment.amount_cents
    log.info("order %s: refunded %d %s (%s)", payment.order_id, payment.amount_cents,
             payment.currency, reason)
    return _outcome(events.PaymentRefunded, payment, cause, reason)


def _outcome(kind, payment: Payment, cause: events.Event, reason: str | None = None):
    return kind(order_id=payment.order_id, payment_id=payment.id,
                amount_cents=payment.amount_cents, reason=reason,
                correlation_id=cause.correlation_id)
