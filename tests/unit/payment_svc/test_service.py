"""The payment saga, handler by handler, on a real PostgreSQL session and MockProvider."""

import time

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from common import events
from common.messaging import NonRetryable
from common.testing import order_event, round_trips
from payment_svc import payments as flows
from payment_svc.exceptions import InvalidPaymentQuery
from payment_svc.models import Outbox, Payment
from payment_svc.provider import MockProvider


def created(order_id, token="tok_ok", total=1250):
    return order_event(events.OrderCreated,
            order_id=order_id, user_id="u1", user_email="ann@example.com",
        items=[{"sku": "TEA", "name": "Tea", "quantity": 1, "unit_price_cents": total}],
        total_cents=total, currency="USD", payment_token=token, correlation_id="req-create")


def reserved(order_id):
    return events.InventoryReserved(order_id=order_id, reservation_id="r-" + order_id,
                                    items=[{"sku": "TEA", "quantity": 1}],
                                    expires_at="2030-01-01T00:00:00+00:00",
                                    correlation_id="req-reserve")


def cancelled(order_id, reason="customer_request"):
    return order_event(events.OrderCancelled, order_id=order_id, user_id="u1", user_email="a@b.c",
                                 reason=reason, previous_status="CONFIRMED",
                                 correlation_id="req-cancel")


def emitted(session):
    rows = [(row.event_type, row.payload) for row in
            session.scalars(select(Outbox).order_by(Outbox.id))]
    session.commit()  # a worker's session starts with no transaction (one_statement)
    return rows


def types(session):
    return [event_type for event_type, _ in emitted(session)]


def test_a_reserved_order_is_captured_and_announced(payments, session, provider):
    payments.record_intent(created("o1"))
    payments.charge(reserved("o1"))
    assert payments.get_payment("o1") | {"id": None} == {
        "id": None, "order_id": "o1", "status": "CAPTURED", "amount_cents": 1250,
        "refunded_cents": 0, "attempts": 1}
    (event_type, payload), = emitted(session)
    assert event_type == "payment.succeeded"
    assert (payload["order_id"], payload["amount_cents"]) == ("o1", 1250)
    assert payload["payment_id"] == payments.get_payment("o1")["id"]
    assert payload["correlation_id"] == "req-reserve"
    assert provider.captures_for("o1") == 1


@pytest.mark.parametrize("token", ["tok_declined", "tok_insufficient_funds", "tok_nope"])
def test_a_declined_card_fails_the_payment(payments, session, provider, token):
    payments.record_intent(created("o1", token))
    payments.charge(reserved("o1"))
    assert payments.get_payment("o1")["status"] == "FAILED"
    assert session.scalars(select(Payment)).one().failure_reason == "payment_declined"
    (event_type, payload), = emitted(session)
    assert (event_type, payload["reason"]) == ("payment.failed", "payment_declined")
    assert provider.captures_for("o1") == 0


def test_a_flaky_provider_is_retried_and_charges_once(payments, session, provider):
    payments.record_intent(created("o1", "tok_flaky"))
    payments.charge(reserved("o1"))
    payment = payments.get_payment("o1")
    assert (payment["status"], payment["attempts"]) == ("CAPTURED", 3)
    assert provider.captures_for("o1") == 1 and provider.charge_calls("o1") == 3
    assert types(session) == ["payment.succeeded"]


def test_a_slow_provider_is_waited_for(payments, provider):
    payments.record_intent(created("o1", "tok_slow"))
    started = time.monotonic()
    payments.charge(reserved("o1"))
    assert time.monotonic() - started >= provider.slow_s
    assert payments.get_payment("o1")["status"] == "CAPTURED"


def test_a_redelivered_reservation_charges_once(payments, session, provider):
    payments.record_intent(created("o1"))
    event = reserved("o1")
    payments.charge(event)
    payments.charge(event)            # the same message again
    payments.charge(reserved("o1"))   # same order, another event id
    assert provider.charge_calls("o1") == 1 and provider.captures_for("o1") == 1
    assert types(session) == ["payment.succeeded"]


def test_a_reservation_that_overtakes_its_order_is_retried(payments, session, provider):
    with pytest.raises(flows.IntentNotYetKnown):
        payments.charge(reserved("o1"))
    session.rollback()
    assert payments.get_payment("o1") is None and provider.charge_calls("o1") == 0
    payments.record_intent(created("o1"))
    payments.record_intent(created("o1", total=999))  # a duplicate changes nothing
    payments.charge(reserved("o1"))
    assert payments.get_payment("o1")["amount_cents"] == 1250


def test_an_order_without_a_chargeable_total_is_dead_lettered(payments):
    with pytest.raises(NonRetryable):
        payments.record_intent(created("o1", total=0))


def test_a_provider_outage_leaves_the_payment_pending_until_a_redelivery(
        payments, session, provider):
    payments.record_intent(created("o1"))
    provider.down = True
    with pytest.raises(flows.ProviderUnavailable):
        payments.charge(reserved("o1"))
    assert payments.get_payment("o1")["status"] == "PENDING"
    assert payments.get_payment("o1")["attempts"] == 4  # at once, then after each delay
    provider.down = False
    payments.charge(reserved("o1"))   # the retry queue hands it back
    assert payments.get_payment("o1")["attempts"] == 5
    assert provider.captures_for("o1") == 1 and types(session) == ["payment.succeeded"]


def test_a_crash_between_capture_and_record_does_not_charge_twice(
        payments, session, provider):
    payments.record_intent(created("o1"))
    event = reserved("o1")
    pending = flows.begin_charge(session, event, "charge")
    session.commit()
    flows.call_provider(session, provider, pending, [])  # captured, then the worker dies
    payments.charge(event)                               # the message comes back
    assert payments.get_payment("o1")["status"] == "CAPTURED"
    assert provider.captures_for("o1") == 1 and types(session) == ["payment.succeeded"]


def test_a_cancelled_capture_is_refunded_once(payments, session, provider):
    payments.record_intent(created("o1"))
    payments.charge(reserved("o1"))
    event = cancelled("o1")
    payments.refund(event)
    payments.refund(event)              # redelivered
    payments.refund(cancelled("o1"))    # another event id, same order
    payment = payments.get_payment("o1")
    assert (payment["status"], payment["refunded_cents"]) == ("REFUNDED", 1250)
    assert types(session) == ["payment.succeeded", "payment.refunded"]
    refund = emitted(session)[1][1]
    assert (refund["amount_cents"], refund["reason"]) == (1250, "customer_request")
    assert refund["correlation_id"] == "req-cancel"
    assert provider.refunds_for("refund-o1") == 1
    assert provider.refunded_cents(session.scalars(select(Payment)).one().provider_ref) == 1250


def test_a_cancel_before_the_reservation_means_no_charge_ever(payments, session, provider):
    payments.record_intent(created("o1"))
    payments.refund(cancelled("o1", "expired"))
    payments.charge(reserved("o1"))
    assert payments.get_payment("o1") is None
    assert provider.charge_calls("o1") == 0 and emitted(session) == []


def test_a_declined_payment_has_nothing_to_refund(payments, session, provider):
    payments.record_intent(created("o1", "tok_declined"))
    payments.charge(reserved("o1"))
    payments.refund(cancelled("o1", "payment_declined"))
    assert payments.get_payment("o1")["status"] == "FAILED"
    assert types(session) == ["payment.failed"]


class HookedProvider(MockProvider):
    """Runs `during` after its charge answered, before the worker records the answer."""

    during = None

    def charge(self, *args, **kwargs):
        result = super().charge(*args, **kwargs)
        if self.during:
            self.during()
        return result


def test_a_capture_that_lands_after_the_cancel_is_refunded(make_worker, engine, session):
    provider = HookedProvider(slow_s=0)
    charging = make_worker(session, provider)
    with Session(engine, expire_on_commit=False) as other:
        canceller = make_worker(other, provider)
        provider.during = lambda: canceller.refund(cancelled("o1"))
        charging.record_intent(created("o1"))
        charging.charge(reserved("o1"))
        # The cancel found the charge in flight (PENDING) and left the refund to it.
        assert charging.get_payment("o1")["status"] == "REFUNDED"
        assert types(session) == ["payment.succeeded", "payment.refunded"]
        assert provider.captures_for("o1") == 1 and provider.refunds_for("refund-o1") == 1
        canceller.refund(cancelled("o1"))  # a late duplicate refunds nothing more
        assert types(session) == ["payment.succeeded", "payment.refunded"]


@pytest.mark.parametrize("after", [0, 1, 2])
def test_a_charge_run_inside_a_cancel_ends_refunded_or_never_charged(
        make_worker, engine, session, after):
    # The whole charge runs after the cancel's statement number `after` (0: before the
    # cancel), before the cancel commits. A fault-tier run lost a refund this way when
    # the tombstone was written in the cancel's locking transaction: that transaction
    # found no payment yet, and the charge settled before it committed, tombstone unseen.
    provider = MockProvider(slow_s=0)
    charging = make_worker(session, provider)
    charging.record_intent(created("o1"))
    if after == 0:
        charging.charge(reserved("o1"))
    with Session(engine, expire_on_commit=False) as other:
        statements, execute = 0, other.execute

        def execute_then_charge(*args, **kwargs):
            nonlocal statements
            result = execute(*args, **kwargs)
            statements += 1
            if statements == after:
                charging.charge(reserved("o1"))
            return result

        other.execute = execute_then_charge
        make_worker(other, provider).refund(cancelled("o1"))
    assert statements >= after
    charging.charge(reserved("o1"))  # a redelivered reservation changes nothing
    payment = charging.get_payment("o1")
    captured = provider.captures_for("o1")
    assert captured == (0 if payment is None else 1)
    assert payment is None or (payment["status"], payment["refunded_cents"]) == ("REFUNDED", 1250)
    assert provider.refunds_for("refund-o1") == captured


# ---- reads (RPC) -----------------------------------------------------------------------

def test_payments_are_listed_newest_first_page_by_page(payments):
    for n in range(5):
        payments.record_intent(created(f"o{n}"))
        payments.charge(reserved(f"o{n}"))
    first = payments.list_payments(limit=2)
    second = payments.list_payments(limit=2, cursor=first["next_cursor"])
    third = payments.list_payments(limit=2, cursor=second["next_cursor"])
    orders = [p["order_id"] for page in (first, second, third) for p in page["items"]]
    assert orders == ["o4", "o3", "o2", "o1", "o0"]
    assert third["next_cursor"] is None
    assert set(first["items"][0]) == {"id", "order_id", "status", "amount_cents",
                                      "refunded_cents", "attempts"}
    only = payments.list_payments(order_id="o2")
    assert [p["order_id"] for p in only["items"]] == ["o2"] and only["next_cursor"] is None
    assert payments.list_payments(order_id="none")["items"] == []


@pytest.mark.parametrize("query, field", [
    ({"limit": 0}, "limit"), ({"limit": 101}, "limit"), ({"limit": "5"}, "limit"),
    ({"cursor": "garbage"}, "cursor"), ({"cursor": 7}, "cursor"),
    ({"order_id": 5}, "order_id")])
def test_bad_list_queries_are_refused_naming_the_field(payments, query, field):
    with pytest.raises(InvalidPaymentQuery) as raised:
        payments.list_payments(**query)
    assert raised.value.details == {"field": field}


def test_an_unknown_order_has_no_payment_and_health_answers(payments):
    assert payments.get_payment("nope") is None and payments.get_payment(None) is None
    assert payments.health() == {"status": "ok", "service": "payment_svc"}


def test_a_paid_order_costs_few_round_trips(payments, session):
    # The issue-14 budget of this service per order: a regression shows up here first.
    with round_trips(session) as intent:
        payments.record_intent(created("o1"))
    with round_trips(session) as charge:
        payments.charge(reserved("o1"))
    with round_trips(session) as refund:
        payments.refund(cancelled("o1"))
    # intent: claim + insert, one autocommit statement; charge: one read and the PENDING
    # insert (autocommit), then BEGIN, claim + lock, tombstone, outcome + outbox, COMMIT;
    # refund: the tombstone (autocommit), then BEGIN, claim + lock, refund + outbox, COMMIT.
    assert (intent.total, charge.total, refund.total) == (1, 7, 5)
    assert types(session) == ["payment.succeeded", "payment.refunded"]
