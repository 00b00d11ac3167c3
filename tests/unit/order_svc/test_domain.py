"""Order rules, without fixtures."""

import pytest

from order_svc import domain
from order_svc.domain import (
    CANCELLED,
    CONFIRMED,
    DELIVERED,
    PENDING,
    RESERVED,
    SHIPPED,
    OrderRuleError,
    Transition,
)


@pytest.mark.parametrize("current, target, allowed", [
    (PENDING, RESERVED, True), (PENDING, CONFIRMED, True), (RESERVED, CONFIRMED, True),
    (CONFIRMED, SHIPPED, True), (SHIPPED, DELIVERED, True), (CONFIRMED, DELIVERED, True),
    (CONFIRMED, RESERVED, False), (RESERVED, PENDING, False), (DELIVERED, SHIPPED, False),
    (RESERVED, RESERVED, False), (CANCELLED, CONFIRMED, False), (CANCELLED, RESERVED, False),
])
def test_orders_only_move_forward(current, target, allowed):
    assert (domain.move(current, target) is not None) is allowed


@pytest.mark.parametrize("current, allowed", [
    (PENDING, True), (RESERVED, True), (CONFIRMED, True),
    (SHIPPED, False), (DELIVERED, False), (CANCELLED, False),
])
def test_cancelling_is_possible_until_shipping(current, allowed):
    transition = domain.move(current, CANCELLED, "customer_request")
    assert (transition is not None) is allowed
    if allowed:
        assert transition == Transition(current, CANCELLED, "customer_request")


def test_only_an_expired_hold_cancels_an_unpaid_order():
    assert domain.on_inventory_released(RESERVED, "expired").reason == "expired"
    assert domain.on_inventory_released(CONFIRMED, "expired") is None
    assert domain.on_inventory_released(CANCELLED, "customer_request") is None


def test_out_of_stock_cancels_with_the_lines_it_could_not_hold():
    shortages = [{"sku": "TEA", "requested": 3, "available": 1, "warehouse": "x"}]
    transition = domain.out_of_stock(PENDING, shortages)
    assert transition == Transition(PENDING, CANCELLED, "out_of_stock",
                                    ({"sku": "TEA", "requested": 3, "available": 1},))
    assert domain.out_of_stock(RESERVED, []).shortages == ()
    assert domain.out_of_stock(CANCELLED, shortages) is None  # cancelled stays as it was
    assert domain.out_of_stock(SHIPPED, shortages) is None


def test_the_deadline_cancels_only_waiting_orders():
    assert domain.past_deadline(PENDING).status == CANCELLED
    assert domain.past_deadline(RESERVED).reason == "expired"
    assert domain.past_deadline(CONFIRMED) is None


def test_lines_merge_duplicates_in_first_seen_order():
    lines = domain.order_lines([{"sku": "B", "quantity": 1}, {"sku": "A", "quantity": 2},
                                {"sku": "B", "quantity": 3}])
    assert lines == [("B", 4), ("A", 2)]


@pytest.mark.parametrize("items, field", [
    ([], "items"), ([{"sku": "A", "quantity": 1}] * 51, "items"), ("A", "items"),
    ([{"sku": "A", "quantity": 0}], "items.0.quantity"),
    ([{"sku": "A", "quantity": True}], "items.0.quantity"),
    ([{"sku": "A", "quantity": 1001}], "items.0.quantity"),
    ([{"quantity": 1}], "items.0.sku"), (["A"], "items.0.sku"),
    ([{"sku": "A", "quantity": 600}, {"sku": "A", "quantity": 600}], "items"),
])
def test_bad_lines_name_the_field(items, field):
    with pytest.raises(OrderRuleError) as raised:
        domain.order_lines(items)
    assert raised.value.details == {"field": field}


PRODUCTS = {"TEA": {"name": "Tea", "price_cents": 450, "currency": "USD"},
            "MUG": {"name": "Mug", "price_cents": 1200, "currency": "USD"},
            "EURO": {"name": "Euro thing", "price_cents": 100, "currency": "EUR"}}


def test_pricing_snapshots_name_and_price():
    lines, total, currency = domain.price([("TEA", 2), ("MUG", 1)], PRODUCTS)
    assert [(li.name, li.unit_price_cents, li.line_total_cents) for li in lines] == \
        [("Tea", 450, 900), ("Mug", 1200, 1200)]
    assert (total, currency) == (2100, "USD")


def test_unknown_skus_are_all_named():
    with pytest.raises(OrderRuleError) as raised:
        domain.price([("TEA", 1), ("NOPE", 1), ("GONE", 2)], PRODUCTS)
    assert raised.value.details == {"unknown_skus": ["NOPE", "GONE"]}


def test_one_order_one_currency():
    with pytest.raises(OrderRuleError):
        domain.price([("TEA", 1), ("EURO", 1)], PRODUCTS)


def test_the_fingerprint_binds_lines_and_payment_not_their_order():
    base = domain.fingerprint([("TEA", 1), ("MUG", 2)], "tok_ok")
    assert base == domain.fingerprint([("MUG", 2), ("TEA", 1)], "tok_ok")
    assert base != domain.fingerprint([("TEA", 1), ("MUG", 3)], "tok_ok")
    assert base != domain.fingerprint([("TEA", 1), ("MUG", 2)], "tok_declined")


def test_a_list_cursor_names_the_field_and_its_id_must_be_a_uuid():
    from datetime import UTC, datetime

    from common import cursors
    at, order_id = datetime(2026, 5, 1, 12, 0, tzinfo=UTC), "6d1f0c4e-0000-4000-8000-00000000000a"
    assert domain.list_position(cursors.encode_position(at, order_id)) == (at, order_id)
    # A cursor whose id is not a UUID once reached PostgreSQL and answered 500.
    for forged in ["!!", "bm9waXBl", "", cursors.encode_position(at, "o-1")]:
        with pytest.raises(OrderRuleError) as raised:
            domain.list_position(forged)
        assert raised.value.details == {"field": "cursor"}


def test_an_expected_total_is_checked_against_todays_prices():
    priced, total, _ = domain.price([("TEA", 2)], {"TEA": {"name": "Tea", "price_cents": 450,
                                                           "currency": "USD"}})
    domain.check_expected_total(priced, total, None)  # not asked: nothing to check
    domain.check_expected_total(priced, total, 900)
    with pytest.raises(domain.PricesMoved) as moved:
        domain.check_expected_total(priced, total, 899)
    assert moved.value.details == {"total_cents": 900,
                                   "items": [{"sku": "TEA", "unit_price_cents": 450}]}
    for bad in (-1, 9.5, "900", True):
        with pytest.raises(domain.OrderRuleError):
            domain.check_expected_total(priced, total, bad)


ADDRESS = {"name": " Ann Lee ", "line1": "1 Tea Street", "city": "Leeds",
           "postal_code": "LS1 1AA", "country": "gb"}


def test_a_shipping_address_is_checked_trimmed_and_complete():
    assert domain.shipping_address(None) is None
    assert domain.shipping_address(ADDRESS) == {
        "name": "Ann Lee", "line1": "1 Tea Street", "line2": None, "city": "Leeds",
        "postal_code": "LS1 1AA", "country": "GB", "phone": None}


@pytest.mark.parametrize(("change", "field"), [
    ({"country": "XX"}, "shipping_address.country"),
    ({"country": "GBR"}, "shipping_address.country"),
    ({"name": "  "}, "shipping_address.name"),
    ({"city": None}, "shipping_address.city"),
    ({"postal_code": "1" * 21}, "shipping_address.postal_code"),
    ({"phone": "call me"}, "shipping_address.phone"),
    ({"line1": "a\nb"}, "shipping_address.line1"),
    ({"floor": "3"}, "shipping_address.floor"),
])
def test_a_bad_address_names_its_field(change, field):
    with pytest.raises(domain.OrderRuleError) as raised:
        domain.shipping_address({**ADDRESS, **change})
    assert raised.value.details == {"field": field}


def test_the_address_is_part_of_what_an_idempotency_key_is_bound_to():
    lines = [("TEA", 1)]
    plain = domain.fingerprint(lines, "tok_ok")
    assert plain == domain.fingerprint(lines, "tok_ok", None)
    to_leeds = domain.fingerprint(lines, "tok_ok", domain.shipping_address(ADDRESS))
    assert to_leeds != plain
