"""DeliveryService through worker_factory, on a real PostgreSQL session."""

from datetime import timedelta

import pytest
from nameko.testing.services import worker_factory
from sqlalchemy import select

from common import events
from common.db import utc_now
from common.inbox import InboxClaim
from common.testing import clean_session, migrated_database, order_event, round_trips
from delivery_svc import shipping, store
from delivery_svc.exceptions import ShipmentNotFound
from delivery_svc.models import Inbox, Outbox, Shipment
from delivery_svc.service import DeliveryService


@pytest.fixture(scope="module")
def db_url():
    return migrated_database("delivery_svc")


@pytest.fixture
def session(db_url):
    with clean_session(db_url) as session:
        yield session


@pytest.fixture
def delivery(session, base_config):
    config = {**base_config, "DELIVERY_SHIP_AFTER_S": 60, "DELIVERY_DELIVER_AFTER_S": 60}
    return worker_factory(DeliveryService, db=session, config=config,
                          inbox=InboxClaim(Inbox, "unit"), correlation_id="req-cancel")


def confirmed(order_id="o1"):
    return order_event(events.OrderConfirmed, order_id=order_id, user_id="u1", user_email="a@b.c",
                                 total_cents=100, correlation_id="req-o1")


def cancelled(order_id="o1"):
    return order_event(events.OrderCancelled, order_id=order_id, user_id="u1", user_email="a@b.c",
                                 reason="customer_request", previous_status="CONFIRMED")


def make_due(session, order_id="o1"):
    shipment = session.scalars(select(Shipment).filter_by(order_id=order_id)).one()
    shipment.due_at = utc_now() - timedelta(seconds=1)
    session.commit()


def emitted(session):
    rows = [(r.event_type, r.payload) for r in session.scalars(select(Outbox).order_by(Outbox.id))]
    session.commit()  # a worker's session starts with no transaction (one_statement)
    return rows


def test_the_parcel_keeps_the_address_the_order_ships_to(delivery, session):
    address = {"name": "Ann Lee", "line1": "1 Tea Street", "line2": None, "city": "Leeds",
               "postal_code": "LS1 1AA", "country": "GB", "phone": None}
    delivery.open_shipment(order_event(events.OrderConfirmed, order_id="o-addr",
                                       user_id="u1", user_email="a@b.c", total_cents=100,
                                       shipping_address=address))
    delivery.open_shipment(confirmed("o-none"))
    kept = dict(session.execute(select(Shipment.order_id, Shipment.ship_to)).all())
    assert kept == {"o-addr": address, "o-none": None}


def test_a_confirmed_order_ships_then_arrives_once(delivery, session):
    delivery.open_shipment(confirmed())
    delivery.open_shipment(confirmed())  # another delivery of the confirmation
    assert delivery.get_shipment("o1")["status"] == "PROCESSING"
    delivery.advance_shipments()
    assert emitted(session) == []  # not due yet

    make_due(session)
    delivery.advance_shipments()
    delivery.advance_shipments()
    shipped = delivery.get_shipment("o1")
    assert shipped["status"] == "SHIPPED" and shipped["tracking_number"]

    make_due(session)
    delivery.advance_shipments()
    delivery.advance_shipments()
    assert delivery.get_shipment("o1")["status"] == "DELIVERED"
    types = [t for t, _ in emitted(session)]
    assert types == ["delivery.shipped", "delivery.delivered"]
    assert {p["correlation_id"] for _, p in emitted(session)} == {"req-o1"}
    assert emitted(session)[0][1]["tracking_number"] == shipped["tracking_number"]


def test_a_cancel_before_shipping_stops_the_parcel(delivery, session):
    delivery.open_shipment(confirmed())
    delivery.stop_shipment(cancelled())
    make_due(session)
    delivery.advance_shipments()
    assert delivery.get_shipment("o1")["status"] == "CANCELLED"
    assert emitted(session) == []


def test_a_cancel_racing_the_ship_step_recalls_the_parcel(delivery, session):
    delivery.open_shipment(confirmed())
    make_due(session)
    delivery.advance_shipments()
    delivery.stop_shipment(cancelled())
    make_due(session)
    delivery.advance_shipments()
    assert delivery.get_shipment("o1")["status"] == "RECALLED"
    assert [t for t, _ in emitted(session)] == ["delivery.shipped"]


def test_a_cancel_before_the_confirmation_ships_nothing(delivery, session):
    delivery.stop_shipment(cancelled())
    delivery.open_shipment(confirmed())
    assert delivery.get_shipment("o1")["status"] == "CANCELLED"


def test_no_shipment_is_not_found(delivery):
    with pytest.raises(ShipmentNotFound):
        delivery.get_shipment("nope")


def test_every_shipment_is_listed_page_by_page(delivery):
    for n in range(5):
        delivery.open_shipment(confirmed(f"o{n}"))
    first = delivery.list_shipments(limit=3)
    rest = delivery.list_shipments(limit=3, cursor=first["next_cursor"])
    orders = [s["order_id"] for s in first["items"] + rest["items"]]
    assert sorted(orders) == [f"o{n}" for n in range(5)] and len(set(orders)) == 5
    assert rest["next_cursor"] is None


def test_one_sweep_moves_a_whole_batch_each_with_its_own_event(delivery, session):
    for n in range(3):
        delivery.open_shipment(confirmed(f"o{n}"))
        make_due(session, f"o{n}")
    delivery.advance_shipments()
    shipped = {p["order_id"]: p for t, p in emitted(session) if t == "delivery.shipped"}
    assert sorted(shipped) == ["o0", "o1", "o2"]
    for order_id, payload in shipped.items():
        shipment = delivery.get_shipment(order_id)
        assert shipment["status"] == "SHIPPED"
        assert payload["tracking_number"] == shipment["tracking_number"]
        assert payload["shipment_id"] == shipment["id"]


def test_a_shipment_cancelled_after_the_sweep_read_it_is_not_moved(delivery, session):
    # The sweep reads without locks and moves with a compare-and-set on the status.
    delivery.open_shipment(confirmed("o1"))
    delivery.open_shipment(confirmed("o2"))
    make_due(session, "o1")
    make_due(session, "o2")
    now = utc_now()
    due = store.due(session, now, 10)
    delivery.stop_shipment(cancelled("o1"))   # lands between the read and the move
    steps = [shipping._next(row, now, 60) for row in due]
    written = store.move(session, [m for m, _ in steps], [e for _, e in steps], now)
    session.commit()
    assert [e.order_id for _, e in steps if e.event_id in written] == ["o2"]
    assert delivery.get_shipment("o1")["status"] == "CANCELLED"
    assert delivery.get_shipment("o2")["status"] == "SHIPPED"
    assert [p["order_id"] for _, p in emitted(session)] == ["o2"]


def test_a_parcel_costs_few_round_trips(delivery, session):
    # The issue-14 budget of this service per order: a regression shows up here first.
    with round_trips(session) as opening:
        delivery.open_shipment(confirmed())
    with round_trips(session) as idle_sweep:
        delivery.advance_shipments()
    make_due(session)
    with round_trips(session) as sweep:
        delivery.advance_shipments()
    # open: claim + insert, one autocommit statement; a sweep: one read, and one
    # statement that moves the batch and writes its events when something is due.
    assert (opening.total, idle_sweep.total, sweep.total) == (1, 1, 2)
    assert delivery.get_shipment("o1")["status"] == "SHIPPED"


O2 = "6d1f0c4e-0000-4000-8000-0000000000b2"


def test_a_customer_cancel_stops_a_parcel_that_has_not_left_and_says_so(delivery, session):
    delivery.open_shipment(confirmed(O2))
    assert delivery.cancel_shipment(O2) == {"cancelled": True}
    assert delivery.cancel_shipment(O2) == {"cancelled": True}  # again: nothing more
    make_due(session, O2)
    delivery.advance_shipments()  # its ship time comes: it stays put
    assert delivery.get_shipment(O2)["status"] == "CANCELLED"
    ((event_type, payload),) = emitted(session)
    assert event_type == "delivery.cancelled"
    assert (payload["order_id"], payload["reason"]) == (O2, "customer_request")


def test_a_cancel_before_the_shipment_exists_leaves_a_tombstone(delivery, session):
    assert delivery.cancel_shipment(O2) == {"cancelled": True}
    delivery.open_shipment(confirmed(O2))  # the confirmation, late: ships nothing
    assert delivery.get_shipment(O2)["status"] == "CANCELLED"
    assert [t for t, _ in emitted(session)] == ["delivery.cancelled"]


def test_a_parcel_that_left_cannot_be_cancelled(delivery, session):
    delivery.open_shipment(confirmed(O2))
    make_due(session, O2)
    delivery.advance_shipments()
    assert delivery.cancel_shipment(O2) == {"cancelled": False, "status": "SHIPPED"}
    assert delivery.get_shipment(O2)["status"] == "SHIPPED"
    assert [t for t, _ in emitted(session)] == ["delivery.shipped"]
    assert delivery.cancel_shipment("not-an-order-id") == {"cancelled": False, "status": None}
