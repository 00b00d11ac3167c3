"""Reservation rules, without fixtures."""

from datetime import UTC, datetime

import pytest

from inventory_svc import domain
from inventory_svc.domain import Action, Level


def line(sku, quantity):
    return {"sku": sku, "name": sku, "quantity": quantity, "unit_price_cents": 100}


def test_lines_merge_per_sku_in_sku_order():
    merged = domain.merge_lines([line("B", 1), line("A", 2), line("B", 3)])
    assert merged == {"A": 2, "B": 4}
    assert list(merged) == ["A", "B"]  # the order rows are locked in


@pytest.mark.parametrize("lines", [[], [line("A", 0)], [line("A", -1)], [line("A", 1.5)],
                                   [line("A", 10**10)]])
def test_lines_no_retry_can_fix_are_refused(lines):
    with pytest.raises(domain.InvalidOrderLines):
        domain.merge_lines(lines)


def test_nothing_is_short_when_every_line_fits():
    assert domain.shortages({"A": 2, "B": 1}, {"A": Level(5, 3), "B": Level(1, 0)}) == []


def test_every_short_line_is_reported_with_what_is_available():
    short = domain.shortages({"A": 3, "B": 1, "GONE": 1}, {"A": Level(5, 3), "B": Level(1, 0)})
    assert short == [{"sku": "A", "requested": 3, "available": 2},
                     {"sku": "GONE", "requested": 1, "available": 0}]


@pytest.mark.parametrize("status, action", [
    (None, Action.RETRY), ("HELD", Action.COMMIT), ("EXPIRED", Action.COMMIT_DIRECT),
    ("COMMITTED", Action.NOTHING), ("RELEASED", Action.NOTHING), ("FAILED", Action.NOTHING),
])
def test_what_a_confirmation_does_in_each_state(status, action):
    assert domain.on_confirmed(status) is action


@pytest.mark.parametrize("status, action", [
    (None, Action.TOMBSTONE), ("HELD", Action.RELEASE), ("COMMITTED", Action.RESTOCK),
    ("EXPIRED", Action.NOTHING), ("RELEASED", Action.NOTHING), ("FAILED", Action.NOTHING),
])
def test_what_a_cancellation_does_in_each_state(status, action):
    assert domain.on_cancelled(status) is action


def test_a_hold_expires_ttl_seconds_later():
    now = datetime(2026, 1, 1, tzinfo=UTC)
    assert (domain.hold_expiry(now, 90) - now).total_seconds() == 90


@pytest.mark.parametrize("sku", ["TEA-1", "a", "x.y_z-9", "A" * 64])
def test_good_skus(sku):
    assert domain.check_sku(sku) == sku


@pytest.mark.parametrize("sku", ["", "-lead", "has space", "A" * 65, "é", None, 5])
def test_bad_skus(sku):
    with pytest.raises(ValueError):
        domain.check_sku(sku)


@pytest.mark.parametrize("check, bad", [
    (domain.check_price, 0), (domain.check_price, True), (domain.check_price, 1.0),
    (domain.check_price, 10**10), (domain.check_quantity, 0), (domain.check_quantity, "3"),
    (domain.check_currency, "usd"), (domain.check_currency, "EURO"),
    (domain.check_name, "  "), (domain.check_name, "n" * 201),
    (domain.check_description, "d" * 2001), (domain.check_limit, 0),
    (domain.check_limit, 101), (domain.check_limit, "20"),
])
def test_bad_catalog_input(check, bad):
    with pytest.raises(ValueError):
        check(bad)
