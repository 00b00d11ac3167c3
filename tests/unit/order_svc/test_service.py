"""OrderService through worker_factory, on a real PostgreSQL session."""

from datetime import timedelta

import pytest
from sqlalchemy import select

from common import events
from common.db import utc_now
from common.testing import round_trips
from order_svc import store, workflow
from order_svc.exceptions import (
    IdempotencyKeyReused,
    InvalidOrder,
    OrderNotCancellable,
    OrderNotFound,
    PricesChanged,
)
from order_svc.models import Order, Outbox

ANN, BOB = "6d1f0c4e-0000-4000-8000-000000000001", "6d1f0c4e-0000-4000-8000-000000000002"
TWO_TEAS = [{"sku": "TEA", "quantity": 2}]


def place(orders, items=TWO_TEAS, user=ANN, **kwargs):
    return orders.create_order(user_id=user, user_email="ann@example.com", items=items,
                               **kwargs)


def emitted(session):
    return [(r.event_type, r.payload) for r in session.scalars(select(Outbox).order_by(Outbox.id))]


def test_a_new_order_is_pending_priced_and_announced(orders, session):
    order = place(orders, [{"sku": "TEA", "quantity": 2}, {"sku": "MUG", "quantity": 1}],
                  payment_token="tok_flaky")
    assert order["status"] == "PENDING" and order["cancel_reason"] is None
    assert order["items"] == [
        {"sku": "TEA", "name": "Tea", "quantity": 2, "unit_price_cents": 450,
         "line_total_cents": 900},
        {"sku": "MUG", "name": "Mug", "quantity": 1, "unit_price_cents": 1200,
         "line_total_cents": 1200}]
    assert (order["total_cents"], order["currency"], order["payment"]) == (2100, "USD", None)
    (event_type, payload), = emitted(session)
    assert event_type == "order.created"
    assert payload["payment_token"] == "tok_flaky" and payload["correlation_id"] == "req-1"
    assert payload["items"][1] == {"sku": "MUG", "name": "Mug", "quantity": 1,
                                   "unit_price_cents": 1200}
    assert orders.get_order(order["id"]) == order


def test_the_price_is_a_snapshot(orders, catalog):
    order = place(orders)
    catalog.products["TEA"]["price_cents"] = 9999
    assert orders.get_order(order["id"])["total_cents"] == 900


def test_unknown_skus_are_refused_by_name(orders, session):
    with pytest.raises(InvalidOrder) as raised:
        place(orders, [{"sku": "TEA", "quantity": 1}, {"sku": "NOPE", "quantity": 1}])
    assert raised.value.details == {"unknown_skus": ["NOPE"]}
    assert session.scalars(select(Order)).all() == []


def test_an_expected_total_of_yesterday_is_refused_with_todays_prices(orders, catalog,
                                                                      session):
    catalog.products["TEA"]["price_cents"] = 500  # the cart showed 2 x 450
    with pytest.raises(PricesChanged) as raised:
        place(orders, expected_total_cents=900)
    assert raised.value.details == {"total_cents": 1000,
                                    "items": [{"sku": "TEA", "unit_price_cents": 500}]}
    assert session.scalars(select(Order)).all() == [] and emitted(session) == []
    session.rollback()  # the test's read ends, as a worker's session would
    # Asked again with today's total: placed.
    assert place(orders, expected_total_cents=1000)["total_cents"] == 1000


def test_the_shipping_address_is_kept_and_travels_with_the_order(orders, session):
    address = {"name": "Ann Lee", "line1": "1 Tea Street", "city": "Leeds",
               "postal_code": "LS1 1AA", "country": "GB", "phone": "+44 113 496 0000"}
    order = place(orders, shipping_address=address)
    kept = {**address, "line2": None}
    assert order["shipping_address"] == kept
    assert orders.get_order(order["id"])["shipping_address"] == kept
    (event_type, payload), = emitted(session)
    assert payload["shipping_address"] == kept  # delivery and the mails read it there


def test_the_same_key_and_body_answer_the_first_answer_again(orders, catalog, session):
    first = place(orders, idempotency_key="k-1")
    orders.on_inventory_reserved([reserved(first["id"])])  # the order moved on meanwhile
    again = place(orders, idempotency_key="k-1")
    assert again == first
    assert catalog.calls == 1
    assert len(session.scalars(select(Order)).all()) == 1


def test_the_same_key_with_another_body_is_a_conflict(orders):
    place(orders, idempotency_key="k-1")
    with pytest.raises(IdempotencyKeyReused):
        place(orders, [{"sku": "TEA", "quantity": 3}], idempotency_key="k-1")
    with pytest.raises(IdempotencyKeyReused):
        place(orders, idempotency_key="k-1", payment_token="tok_declined")


def test_keys_belong_to_their_user(orders):
    assert place(orders, idempotency_key="k")["id"] != place(orders, user=BOB,
                                                               idempotency_key="k")["id"]


def test_customers_see_only_their_orders(orders):
    order = place(orders)
    with pytest.raises(OrderNotFound):
        orders.get_order(order["id"], user_id=BOB)
    with pytest.raises(OrderNotFound):
        orders.get_timeline(order["id"], user_id=BOB)
    with pytest.raises(OrderNotFound):
        orders.cancel_order(order["id"], user_id=BOB)
    with pytest.raises(OrderNotFound):
        orders.get_order("not-a-uuid")
    assert orders.get_order(order["id"], user_id=ANN)["id"] == order["id"]


def test_lists_are_newest_first_per_user_and_page_by_cursor(orders):
    mine = [place(orders)["id"] for _ in range(5)]
    place(orders, user=BOB)
    first = orders.list_orders(user_id=ANN, limit=3)
    second = orders.list_orders(user_id=ANN, limit=3, cursor=first["next_cursor"])
    assert [o["id"] for o in first["items"] + second["items"]] == mine[::-1]
    assert second["next_cursor"] is None
    assert len(orders.list_orders()["items"]) == 6
    with pytest.raises(InvalidOrder):
        orders.list_orders(limit=101)


def test_admins_list_by_status_and_see_the_customer_email(orders):
    waiting, reserved_one = place(orders), place(orders, user=BOB)
    orders.on_inventory_reserved([reserved(reserved_one["id"])])
    assert [o["id"] for o in orders.list_orders(status="RESERVED")["items"]] == [
        reserved_one["id"]]
    pending = orders.list_orders(status="PENDING")["items"]
    assert [(o["id"], o["user_email"]) for o in pending] == [(waiting["id"], "ann@example.com")]
    assert orders.list_orders(user_id=ANN, status="RESERVED")["items"] == []
    with pytest.raises(InvalidOrder) as raised:
        orders.list_orders(status="LOST")
    assert raised.value.details == {"field": "status"}


def reserved(order_id):
    return events.InventoryReserved(order_id=order_id, reservation_id="r", items=[],
                                    expires_at="2030-01-01T00:00:00+00:00")


def paid(order_id, amount=900):
    return events.PaymentSucceeded(order_id=order_id, payment_id="p", amount_cents=amount)


def statuses(session):
    """The statuses announced, in order: one order.* event per transition."""
    return [p["status"] for t, p in emitted(session) if t != "order.created"]


def test_the_happy_saga_confirms_once(orders, session):
    order = place(orders)
    orders.on_inventory_reserved([reserved(order["id"])])
    event = paid(order["id"])
    orders.on_payment_succeeded([event])
    orders.on_payment_succeeded([event])
    orders.on_payment_succeeded([paid(order["id"])])
    after = orders.get_order(order["id"])
    assert after["status"] == "CONFIRMED"
    assert after["payment"] == {"status": "CAPTURED", "amount_cents": 900, "refunded_cents": 0}
    assert statuses(session) == ["RESERVED", "CONFIRMED"]
    assert [t for t, _ in emitted(session)].count("order.confirmed") == 1


def test_every_transition_carries_the_whole_order_snapshot(orders, session):
    order = place(orders, [{"sku": "TEA", "quantity": 2}, {"sku": "MUG", "quantity": 1}])
    orders.on_inventory_reserved([reserved(order["id"])])
    orders.on_payment_succeeded([paid(order["id"], amount=2100)])
    announced = {t: p for t, p in emitted(session)}
    assert [p["event_type"] for p in announced.values()] == [
        "order.created", "order.reserved", "order.confirmed"]
    confirmed = announced["order.confirmed"]
    assert (confirmed["version"], confirmed["status"], confirmed["previous_status"]) == (
        2, "CONFIRMED", "RESERVED")
    assert (confirmed["order_id"], confirmed["user_id"], confirmed["user_email"]) == (
        order["id"], ANN, "ann@example.com")
    assert confirmed["items"] == [
        {"sku": "TEA", "name": "Tea", "quantity": 2, "unit_price_cents": 450},
        {"sku": "MUG", "name": "Mug", "quantity": 1, "unit_price_cents": 1200}]
    assert (confirmed["total_cents"], confirmed["currency"]) == (2100, "USD")
    assert confirmed["payment"] == {"status": "CAPTURED", "amount_cents": 2100,
                                    "refunded_cents": 0}
    assert confirmed["shipment"] == {"status": "PROCESSING", "carrier": None,
                                     "tracking_number": None}
    assert announced["order.reserved"]["payment"] is None
    assert events.parse(confirmed) == events.OrderConfirmed(**{
        k: v for k, v in confirmed.items() if k not in ("event_type", "version")})


def test_a_late_reservation_never_moves_a_confirmed_order_back(orders, session):
    order = place(orders)
    orders.on_payment_succeeded([paid(order["id"])])
    orders.on_inventory_reserved([reserved(order["id"])])
    assert orders.get_order(order["id"])["status"] == "CONFIRMED"
    assert statuses(session) == ["CONFIRMED"]


@pytest.mark.parametrize("event, reason", [
    (lambda oid: events.InventoryFailed(order_id=oid, reason="out_of_stock", shortages=[]),
     "out_of_stock"),
    (lambda oid: events.PaymentFailed(order_id=oid, payment_id="p", amount_cents=900,
                                      reason="payment_declined"), "payment_declined"),
    (lambda oid: events.InventoryReleased(order_id=oid, reason="expired"), "expired"),
])
def test_failures_cancel_with_their_reason(orders, session, event, reason):
    order = place(orders)
    handler = {events.InventoryFailed: orders.on_inventory_failed,
               events.PaymentFailed: orders.on_payment_failed,
               events.InventoryReleased: orders.on_inventory_released}
    ev = event(order["id"])
    handler[type(ev)]([ev])
    after = orders.get_order(order["id"])
    assert (after["status"], after["cancel_reason"]) == ("CANCELLED", reason)
    cancelled = [p for t, p in emitted(session) if t == "order.cancelled"]
    assert [(c["reason"], c["previous_status"]) for c in cancelled] == [(reason, "PENDING")]


def test_out_of_stock_carries_the_shortages_into_order_cancelled(orders, session):
    order = place(orders)
    shortage = {"sku": "TEA", "requested": 2, "available": 1}
    orders.on_inventory_failed([events.InventoryFailed(
        order_id=order["id"], reason="out_of_stock", shortages=[shortage])])
    (cancelled,) = [p for t, p in emitted(session) if t == "order.cancelled"]
    assert cancelled["shortages"] == [shortage] and cancelled["payment"] is None
    assert events.parse(cancelled).shortages == [shortage]


def test_other_cancellations_carry_no_shortages(orders, session):
    order = place(orders)
    orders.cancel_order(order["id"], user_id=ANN)
    (cancelled,) = [p for t, p in emitted(session) if t == "order.cancelled"]
    assert cancelled["shortages"] is None and cancelled["reason"] == "customer_request"


def test_cancel_by_the_customer_then_never_again(orders, session):
    order = place(orders)
    orders.on_inventory_reserved([reserved(order["id"])])
    orders.on_payment_succeeded([paid(order["id"])])
    cancelled = orders.cancel_order(order["id"], user_id=ANN)
    assert (cancelled["status"], cancelled["cancel_reason"]) == ("CANCELLED", "customer_request")
    with pytest.raises(OrderNotCancellable):
        orders.cancel_order(order["id"])
    orders.on_payment_refunded([events.PaymentRefunded(order_id=order["id"], payment_id="p",
                                                      amount_cents=900)])
    assert orders.get_order(order["id"])["payment"] == {
        "status": "REFUNDED", "amount_cents": 900, "refunded_cents": 900}


def test_the_timeline_lists_every_event_in_order(orders):
    order = place(orders, payment_token="tok_secret")
    orders.on_inventory_reserved([reserved(order["id"])])
    orders.on_payment_succeeded([paid(order["id"])])
    timeline = orders.get_timeline(order["id"], user_id=ANN)["items"]
    assert [e["type"] for e in timeline] == ["order.created", "inventory.reserved",
                                             "order.reserved", "payment.succeeded",
                                             "order.confirmed"]
    assert "payment_token" not in timeline[0]["data"]


def test_the_deadline_timer_cancels_stuck_orders(orders, session):
    stuck, fresh = place(orders), place(orders)
    session.get(Order, stuck["id"]).deadline_at = utc_now() - timedelta(seconds=1)
    session.commit()
    orders.cancel_stuck_orders()
    orders.cancel_stuck_orders()
    assert orders.get_order(stuck["id"])["cancel_reason"] == "expired"
    assert orders.get_order(fresh["id"])["status"] == "PENDING"
    assert statuses(session) == ["CANCELLED"]


def test_a_success_arriving_after_its_refund_leaves_the_payment_refunded(orders):
    order = place(orders)
    orders.cancel_order(order["id"])
    orders.on_payment_refunded([events.PaymentRefunded(order_id=order["id"], payment_id="p",
                                                      amount_cents=900)])
    orders.on_payment_succeeded([paid(order["id"])])
    after = orders.get_order(order["id"])
    assert after["status"] == "CANCELLED"
    assert after["payment"] == {"status": "REFUNDED", "amount_cents": 900,
                                "refunded_cents": 900}


def step(kind, order_id):
    return kind(order_id=order_id, shipment_id="s", carrier="DHL", tracking_number="DHL1")


def test_shipping_and_delivery_move_a_confirmed_order_and_fill_its_shipment(orders, session):
    order = place(orders)
    orders.on_payment_succeeded([paid(order["id"])])
    assert orders.get_order(order["id"])["shipment"] == {
        "status": "PROCESSING", "carrier": None, "tracking_number": None}
    orders.on_delivery_shipped([step(events.DeliveryShipped, order["id"])])
    shipped = orders.get_order(order["id"])
    assert shipped["status"] == "SHIPPED"
    assert shipped["shipment"] == {"status": "SHIPPED", "carrier": "DHL",
                                   "tracking_number": "DHL1"}
    with pytest.raises(OrderNotCancellable):
        orders.cancel_order(order["id"])
    orders.on_delivery_delivered([step(events.DeliveryDelivered, order["id"])])
    orders.on_delivery_delivered([step(events.DeliveryDelivered, order["id"])])
    assert orders.get_order(order["id"])["status"] == "DELIVERED"
    assert statuses(session) == ["CONFIRMED", "SHIPPED", "DELIVERED"]
    milestones = [t for t, _ in emitted(session) if t in ("order.shipped", "order.delivered")]
    assert milestones == ["order.shipped", "order.delivered"]


def test_a_parcel_shipped_for_a_cancelled_order_does_not_revive_it(orders):
    order = place(orders)
    orders.on_payment_succeeded([paid(order["id"])])
    orders.cancel_order(order["id"])
    orders.on_delivery_shipped([step(events.DeliveryShipped, order["id"])])
    assert orders.get_order(order["id"])["status"] == "CANCELLED"


def test_placing_an_order_is_two_round_trips_and_a_saga_step_four(orders, session):
    session.commit()
    with round_trips(session) as placing:
        order = place(orders, idempotency_key="k-round-trips")
    assert (placing.statements, placing.transactions) == (2, 0)  # key read, one INSERT
    event = reserved(order["id"])
    with round_trips(session) as step:
        orders.on_inventory_reserved([event])
    # BEGIN, the inbox claim with the order locked, the order's writes, COMMIT
    assert (step.statements, step.transactions, step.total) == (2, 1, 4)
    with round_trips(session) as duplicate:
        orders.on_inventory_reserved([event])
    assert (duplicate.statements, duplicate.transactions) == (1, 1)  # seen: nothing written


def test_a_step_that_changes_nothing_writes_nothing(orders, session):
    order = place(orders)  # e.g. the deadline sweep finding an order that moved on
    workflow.move(session, store.locked_order(session, order["id"]), None, "req-1")
    session.commit()
    assert orders.get_order(order["id"]) == order


def test_a_batch_of_steps_is_one_transaction_and_a_bad_event_undoes_it(orders, session):
    placed = [place(orders) for _ in range(3)]
    session.commit()
    with round_trips(session) as batch:
        orders.on_inventory_reserved([reserved(order["id"]) for order in placed])
    # BEGIN, two statements per event (claim + lock, writes), COMMIT
    assert (batch.statements, batch.transactions, batch.total) == (6, 1, 8)
    assert {orders.get_order(o["id"])["status"] for o in placed} == {"RESERVED"}
    session.commit()  # a worker's session starts with no transaction
    more = [place(orders) for _ in range(2)]
    with pytest.raises(workflow.OrderNotYetKnown):
        orders.on_inventory_reserved([reserved(more[0]["id"]), reserved("no-such-order"),
                                      reserved(more[1]["id"])])
    session.rollback()  # what the worker's teardown does
    # All or nothing: the entrypoint then runs each event of the batch on its own.
    assert {orders.get_order(o["id"])["status"] for o in more} == {"PENDING"}


def test_a_confirmed_order_is_cancelled_only_once_delivery_stopped_its_parcel(orders):
    order = place(orders)
    orders.on_payment_succeeded([paid(order["id"])])
    orders.delivery.cancel_shipment.return_value = {"cancelled": False, "status": "SHIPPED"}
    with pytest.raises(OrderNotCancellable) as refused:
        orders.cancel_order(order["id"])
    assert refused.value.details == {"status": "SHIPPED"}
    orders.db.rollback()  # what the worker's teardown does
    assert orders.get_order(order["id"])["status"] == "CONFIRMED"
    orders.db.commit()
    orders.delivery.cancel_shipment.return_value = {"cancelled": True}
    assert orders.cancel_order(order["id"])["status"] == "CANCELLED"
    orders.delivery.cancel_shipment.assert_called_with(order["id"], "customer_request")


def test_delivery_cancelled_cancels_an_order_whose_cancel_call_failed_after(orders):
    # delivery_svc stopped the parcel, then order_svc died before it committed.
    order = place(orders)
    orders.on_payment_succeeded([paid(order["id"])])
    stopped = events.DeliveryCancelled(order_id=order["id"], shipment_id="s",
                                       reason="customer_request")
    orders.on_delivery_cancelled([stopped])
    orders.on_delivery_cancelled([stopped])  # redelivered
    after = orders.get_order(order["id"])
    assert (after["status"], after["cancel_reason"]) == ("CANCELLED", "customer_request")
