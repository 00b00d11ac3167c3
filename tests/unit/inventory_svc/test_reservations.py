"""The saga's stock moves, handler by handler, on a real PostgreSQL session."""

from datetime import timedelta

import pytest
from sqlalchemy import select

from common import events
from common.db import utc_now
from common.testing import order_event, round_trips
from inventory_svc.models import Outbox, Reservation
from inventory_svc.reservations import CannotCommit, ReservationNotYetKnown


def created(order_id, *lines):
    return order_event(events.OrderCreated,
            order_id=order_id, user_id="u1", user_email="ann@example.com",
        items=[{"sku": s, "name": s, "quantity": q, "unit_price_cents": 100} for s, q in lines],
        total_cents=100, currency="USD", payment_token="tok_ok", correlation_id="req-1")


def confirmed(order_id):
    return order_event(events.OrderConfirmed, order_id=order_id, user_id="u1", user_email="a@b.c",
                                 total_cents=100)


def cancelled(order_id, reason="customer_request"):
    return order_event(events.OrderCancelled, order_id=order_id, user_id="u1", user_email="a@b.c",
                                 reason=reason, previous_status="RESERVED")


def stock(service, sku):
    level = service.get_stock(sku)
    return level["on_hand"], level["reserved"]


def emitted(session):
    rows = [(row.event_type, row.payload) for row in
            session.scalars(select(Outbox).order_by(Outbox.id))]
    session.commit()  # a worker's session starts with no transaction (one_statement)
    return rows


def test_an_order_that_fits_is_held_and_announced(catalog, session):
    catalog.reserve_stock(created("o1", ("TEA", 2), ("MUG", 1), ("TEA", 1)))
    assert stock(catalog, "TEA") == (10, 3) and stock(catalog, "MUG") == (3, 1)
    (event_type, payload), = emitted(session)
    assert event_type == "inventory.reserved"
    assert payload["items"] == [{"sku": "MUG", "quantity": 1}, {"sku": "TEA", "quantity": 3}]
    assert payload["correlation_id"] == "req-1"


def test_an_order_that_does_not_fit_holds_nothing(catalog, session):
    catalog.reserve_stock(created("o1", ("TEA", 2), ("MUG", 4)))
    assert stock(catalog, "TEA") == (10, 0) and stock(catalog, "MUG") == (3, 0)
    (event_type, payload), = emitted(session)
    assert event_type == "inventory.failed"
    assert payload["shortages"] == [{"sku": "MUG", "requested": 4, "available": 3}]


def test_an_unknown_sku_is_a_shortage(catalog, session):
    catalog.reserve_stock(created("o1", ("GONE", 1)))
    assert emitted(session)[0][1]["shortages"] == [{"sku": "GONE", "requested": 1,
                                                    "available": 0}]


def test_a_redelivered_order_created_changes_nothing(catalog, session):
    event = created("o1", ("TEA", 2))
    catalog.reserve_stock(event)
    catalog.reserve_stock(event)                     # same event again
    catalog.reserve_stock(created("o1", ("TEA", 2)))  # same order, another event id
    assert stock(catalog, "TEA") == (10, 2)
    assert len(emitted(session)) == 1


def test_confirmation_takes_held_units_off_the_shelf_once(catalog):
    catalog.reserve_stock(created("o1", ("TEA", 2)))
    event = confirmed("o1")
    catalog.commit_stock(event)
    catalog.commit_stock(event)
    catalog.commit_stock(confirmed("o1"))
    assert stock(catalog, "TEA") == (8, 0)


def test_a_confirmation_before_the_reservation_is_retried(catalog):
    with pytest.raises(ReservationNotYetKnown):
        catalog.commit_stock(confirmed("o1"))


def test_cancelling_a_hold_releases_it(catalog, session):
    catalog.reserve_stock(created("o1", ("TEA", 2)))
    catalog.release_stock(cancelled("o1"))
    assert stock(catalog, "TEA") == (10, 0)
    assert emitted(session)[-1] == ("inventory.released", emitted(session)[-1][1])
    assert emitted(session)[-1][1]["reason"] == "customer_request"


def test_cancelling_after_confirmation_restocks_once(catalog):
    catalog.reserve_stock(created("o1", ("TEA", 2)))
    catalog.commit_stock(confirmed("o1"))
    event = cancelled("o1")
    catalog.release_stock(event)
    catalog.release_stock(event)
    catalog.release_stock(cancelled("o1"))
    assert stock(catalog, "TEA") == (10, 0)


def test_a_cancel_before_the_create_leaves_a_tombstone(catalog, session):
    catalog.release_stock(cancelled("o1"))
    catalog.reserve_stock(created("o1", ("TEA", 2)))
    assert stock(catalog, "TEA") == (10, 0)
    assert emitted(session) == []
    assert catalog.get_reservation("o1")["reason"] == "cancelled_before_created"


def test_a_failed_order_cancelled_later_changes_nothing(catalog):
    catalog.reserve_stock(created("o1", ("MUG", 9)))
    catalog.release_stock(cancelled("o1", "out_of_stock"))
    assert stock(catalog, "MUG") == (3, 0)


def expire_now(session, order_id):
    reservation = session.scalars(select(Reservation).filter_by(order_id=order_id)).one()
    reservation.expires_at = utc_now() - timedelta(seconds=1)
    session.commit()


def test_the_sweep_releases_a_stale_hold(catalog, session):
    catalog.reserve_stock(created("o1", ("TEA", 2)))
    catalog.reserve_stock(created("o2", ("TEA", 1)))
    expire_now(session, "o1")
    catalog.expire_holds()
    catalog.expire_holds()
    assert stock(catalog, "TEA") == (10, 1)
    assert catalog.get_reservation("o1")["status"] == "EXPIRED"
    assert [p["order_id"] for t, p in emitted(session) if t == "inventory.released"] == ["o1"]
    assert emitted(session)[-1][1]["reason"] == "expired"


def test_a_payment_after_expiry_commits_from_what_is_available(catalog, session):
    catalog.reserve_stock(created("o1", ("TEA", 2)))
    expire_now(session, "o1")
    catalog.expire_holds()
    catalog.commit_stock(confirmed("o1"))
    assert stock(catalog, "TEA") == (8, 0)


def test_a_payment_after_expiry_never_oversells(catalog, session):
    catalog.reserve_stock(created("o1", ("MUG", 2)))
    expire_now(session, "o1")
    catalog.expire_holds()
    catalog.reserve_stock(created("o2", ("MUG", 3)))  # someone else took the mugs
    with pytest.raises(CannotCommit):
        catalog.commit_stock(confirmed("o1"))
    session.rollback()
    assert stock(catalog, "MUG") == (3, 3)


def test_every_sku_of_an_order_moves_in_each_step(catalog):
    catalog.create_product(sku="POT", name="Pot", price_cents=900, stock=4)
    catalog.reserve_stock(created("o1", ("TEA", 2), ("MUG", 1), ("POT", 3)))
    assert [stock(catalog, s) for s in ("MUG", "POT", "TEA")] == [(3, 1), (4, 3), (10, 2)]
    catalog.commit_stock(confirmed("o1"))
    assert [stock(catalog, s) for s in ("MUG", "POT", "TEA")] == [(2, 0), (1, 0), (8, 0)]
    catalog.release_stock(cancelled("o1"))
    assert [stock(catalog, s) for s in ("MUG", "POT", "TEA")] == [(3, 0), (4, 0), (10, 0)]
    assert catalog.get_reservation("o1")["lines"] == [
        {"sku": "MUG", "quantity": 1}, {"sku": "POT", "quantity": 3},
        {"sku": "TEA", "quantity": 2}]


def test_one_sweep_releases_every_stale_hold_of_a_sku(catalog, session):
    catalog.reserve_stock(created("o1", ("TEA", 2), ("MUG", 1)))
    catalog.reserve_stock(created("o2", ("TEA", 3)))
    catalog.reserve_stock(created("o3", ("TEA", 1)))
    expire_now(session, "o1")
    expire_now(session, "o2")
    catalog.expire_holds()
    assert stock(catalog, "TEA") == (10, 1) and stock(catalog, "MUG") == (3, 0)
    assert sorted(p["order_id"] for t, p in emitted(session)
                  if t == "inventory.released") == ["o1", "o2"]
    assert [catalog.get_reservation(o)["status"] for o in ("o1", "o2", "o3")] == [
        "EXPIRED", "EXPIRED", "HELD"]


def test_an_order_costs_few_round_trips(catalog, session):
    # The issue-14 budget of this service per order: a regression shows up here first.
    with round_trips(session) as pricing:
        catalog.get_products(["TEA", "MUG"])
    with round_trips(session) as reserve:
        catalog.reserve_stock(created("o1", ("TEA", 2), ("MUG", 1)))
    with round_trips(session) as commit:
        catalog.commit_stock(confirmed("o1"))
    with round_trips(session) as idle_sweep:
        catalog.expire_holds()
    # reserve: BEGIN, lock stock, one write, COMMIT; commit: BEGIN, claim + lock the
    # reservation with its lines, one write, COMMIT; reads and an idle sweep: one each.
    assert (pricing.total, reserve.total, commit.total, idle_sweep.total) == (1, 4, 4, 1)
    assert stock(catalog, "TEA") == (8, 0) and stock(catalog, "MUG") == (2, 0)
