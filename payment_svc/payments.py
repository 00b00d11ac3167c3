"""How saga events move money, transaction by transaction.

Charging an order takes three steps, so that no DB transaction is open while the
provider is asked (it may take seconds) and no crash can charge twice:

1. `begin_charge`: the order's payments row is inserted PENDING (UNIQUE order id:
   one charge per order, ever) with the first provider call already counted
   (attempts = 1), or a PENDING row left by an earlier delivery counts one more
   attempt; each statement commits on its own (the caller runs the step under
   `common.db.one_statement`), so the row is committed before the provider is asked;
2. `call_provider`: the provider is asked outside any transaction, idempotency key =
   order id, provider errors retried after each PAYMENT_RETRY_DELAYS_MS delay, every
   further attempt counted on the row (committed) before it is made. A crash anywhere
   here leaves the row PENDING and the message unacknowledged: the redelivery asks
   again with the same key and the provider answers its first answer, so the money is
   captured once;
3. `settle_charge`: the inbox claim and the row's lock (one statement), then the
   tombstone read under that lock, then the outcome and the outgoing events written
   in one statement: one transaction.

Cancel against capture. `cancel` commits the order's tombstone first (a statement of
its own), and only then claims the event and locks the payments row, in a second
transaction; `settle_charge` locks the row and then reads the tombstone in a later
statement (so with a snapshot taken after the lock was granted). Either the cancel's
lock finds the row, and the row lock orders the two: if the cancel locks first, its
tombstone was committed before the settle reads it, so the settle refunds; if the
settle locks first, the cancel waits and then finds CAPTURED, so the cancel refunds.
Or the row is inserted after the cancel looked, hence after the tombstone committed,
and the settle, later still, reads it and refunds. Exactly one of them refunds, and
the REFUNDED status stops any other. (Were the tombstone written in the cancel's
locking transaction, a row inserted just after that transaction looked would be
settled before it committed, tombstone unseen, and nobody would refund: a fault-tier
run found that. Nor can the settle read the tombstone in its locking statement: a
statement that waited for a lock still reads other tables as of its start.)

Refunds are asked of the provider while the row lock is held: the key
("refund-<order id>") makes a repeat harmless, and if the call fails the whole
transaction rolls back and the event is retried.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

import eventlet
from sqlalchemy.engine import Row
from sqlalchemy.orm import Session

from common import events
from common.db import one_statement, utc_now
from common.inbox import InboxClaim
from common.messaging import NonRetryable
from payment_svc import domain, store
from payment_svc.domain import Action
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


def record_intent(session: Session, inbox: InboxClaim, event: events.OrderCreated) -> None:
    """Claim the event and remember what to charge for the order (the first
    order.created wins): one statement, which may run on its own (one_statement)."""
    if event.total_cents <= 0:
        raise InvalidIntent(f"order {event.order_id} has a total of {event.total_cents}")
    store.record_intent(session, inbox, event, utc_now())


def begin_charge(session: Session, event: events.InventoryReserved, inbox: InboxClaim
                 ) -> Charge | None:
    """Step 1: the PENDING row to charge, its attempt counted; or None (settled, or
    cancelled first). Two statements, each atomic on its own: the read, then the
    insert (or the count on a PENDING row), which stands however the state moved
    between them (ON CONFLICT, a PENDING-only UPDATE).

    Raises IntentNotYetKnown while order.created is still on its way.
    """
    state = store.charge_state(session, event.order_id)
    action = domain.on_reserved(state.status, state.cancelled, state.token is not None)
    if action is Action.RETRY:
        raise IntentNotYetKnown(f"no order.created yet for order {event.order_id}")
    if action is Action.NOTHING:
        log.info("order %s: nothing to charge (%s)", event.order_id,
                 state.status or "cancelled before charging")
        inbox.claim(session, event)
        return None
    now = utc_now()
    # A duplicate delivery may insert the row between the read and the insert: then
    # this one counts its attempt on that row and asks the provider too (same key).
    row = ((store.open_pending(session, event.order_id, now) if state.status is None
            else None) or store.count_pending_attempt(session, event.order_id, now))
    if row is None:
        log.info("order %s: settled meanwhile by another delivery", event.order_id)
        return None
    return Charge(row.id, event.order_id, state.token, row.amount_cents, row.currency)


def call_provider(session: Session, provider: MockProvider, charge: Charge,
                  delays_ms, sleep: Callable[[float], None] = eventlet.sleep) -> ChargeResult:
    """Step 2: ask the provider, retrying its errors; ProviderUnavailable if all fail.

    The first call was counted by `begin_charge`; each retry is counted (a statement
    committed on its own) before it is made, so it is counted even if this process
    dies during the call. Call it outside any transaction.
    """
    error = None
    for attempt, wait in enumerate(domain.attempt_schedule(delays_ms)):
        if attempt:
            sleep(wait)
            with one_statement(session):
                store.count_attempt(session, charge.payment_id, utc_now())
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
    success for a cancelled order and records the refund). The events are written to
    the outbox here; they are returned for the log and the tests.
    """
    now = utc_now()
    payment = store.claim_and_lock(session, inbox, event, now)
    if payment is None:  # handled before
        return []
    reason = store.tombstone_reason(session, event.order_id)  # read under the row lock
    changes: dict = {}
    emitted: list[events.Event] = []
    for action in domain.on_outcome(payment.status, result.captured, reason is not None):
        if action is Action.FAIL:
            changes |= {"status": domain.FAILED, "failure_reason": result.reason,
                        "provider_ref": result.provider_ref}
            log.info("order %s: payment declined (%s)", payment.order_id, result.reason)
            emitted.append(_outcome(events.PaymentFailed, payment, event, result.reason))
        elif action is Action.CAPTURE:
            changes |= {"status": domain.CAPTURED, "provider_ref": result.provider_ref}
            log.info("order %s: captured %d %s", payment.order_id, payment.amount_cents,
                     payment.currency)
            emitted.append(_outcome(events.PaymentSucceeded, payment, event))
        elif action is Action.REFUND:
            emitted.append(refund(provider, payment, result.provider_ref, reason, event))
            changes |= _refunded(payment)
    if changes:
        store.record(session, payment.id, changes, emitted, now)
    return emitted


def leave_tombstone(session: Session, event: events.OrderCancelled) -> None:
    """Step 1 of a cancel: mark the order cancelled, so no charge starts from now on.
    One statement: run it on its own (one_statement), committed before `cancel`."""
    store.leave_tombstone(session, event, utc_now())


def cancel(session: Session, provider: MockProvider, inbox: InboxClaim,
           event: events.OrderCancelled) -> list[events.Event]:
    """Step 2, after `leave_tombstone` committed: claim the event and lock the order's
    payment row (one statement); then refund a capture once. The events are written to
    the outbox here."""
    now = utc_now()
    payment = store.claim_and_lock(session, inbox, event, now)
    action = domain.on_cancelled(payment.status if payment else None)
    if action is not Action.REFUND:
        log.info("order %s cancelled: no refund due (%s)", event.order_id,
                 payment.status if payment else "never charged, or handled before")
        return []
    emitted = [refund(provider, payment, payment.provider_ref, event.reason, event)]
    store.record(session, payment.id, _refunded(payment), emitted, now)
    return emitted


def refund(provider: MockProvider, payment: Row, provider_ref: str, reason: str,
           cause: events.Event) -> events.PaymentRefunded:
    """Give the whole capture back (the row is locked by the caller); the caller
    records `_refunded(payment)`."""
    provider.refund(provider_ref, payment.amount_cents, domain.refund_key(payment.order_id))
    log.info("order %s: refunded %d %s (%s)", payment.order_id, payment.amount_cents,
             payment.currency, reason)
    return _outcome(events.PaymentRefunded, payment, cause, reason)


def _refunded(payment: Row) -> dict:
    return {"status": domain.REFUNDED, "refunded_cents": payment.amount_cents}


def _outcome(kind, payment: Row, cause: events.Event, reason: str | None = None):
    return kind(order_id=payment.order_id, payment_id=payment.id,
                amount_cents=payment.amount_cents, reason=reason,
                correlation_id=cause.correlation_id)
