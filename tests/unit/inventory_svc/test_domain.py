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


# ---- catalog listings ------------------------------------------------------------------

@pytest.mark.parametrize(("q", "words"), [
    (None, []), ("", []), ("  Earl  GREY ", ["earl", "grey"]), ("tea:*|!(x)", ["tea", "x"]),
    ("snake_case", ["snake", "case"]), ("café 100g", ["café", "100g"]),
    ("a a b", ["a", "b"]), (" ".join("w" * 50 for _ in range(2)), ["w" * 40]),
    (" ".join(str(n) for n in range(20)), [str(n) for n in range(8)]),
])
def test_search_words_are_plain_words_only(q, words):
    assert domain.search_words(q) == words


@pytest.mark.parametrize("url", ["/static/img/a.svg", "https://cdn.example.com/a.png",
                                 "http://x/y", None])
def test_acceptable_image_urls(url):
    assert domain.check_image_url(url) == url


@pytest.mark.parametrize("url", ["", "/", "//evil/x", "javascript:alert(1)", "data:x",
                                 "https://", "/a b", "/a\n", "ftp://x", 5,
                                 "https://x/" + "a" * 500])
def test_refused_image_urls(url):
    with pytest.raises(ValueError):
        domain.check_image_url(url)


@pytest.mark.parametrize("sort", ["sku", "name", "price", "-price", "newest"])
def test_a_listing_position_reads_back_as_written(sort):
    product = {"sku": "TEA-1", "name": "Tea | with a bar", "price_cents": 450,
               "created_at": "2026-11-30T12:00:00.123456+00:00"}
    value, sku = domain.parse_listing_position(sort, domain.listing_position(sort, product))
    assert sku == "TEA-1"
    assert str(value) == {"sku": "TEA-1", "name": "Tea | with a bar", "price": "450",
                          "-price": "450", "newest": "2026-11-30 12:00:00.123456+00:00"}[sort]


@pytest.mark.parametrize(("sort", "key"), [
    ("name", "price|TEA|450"), ("price", "price|TEA|cheap"), ("price", "price|bad sku|1"),
    ("newest", "newest|TEA|2026-11-30T12:00:00"), ("name", "TEA"), ("sku", "bad sku")])
def test_a_position_of_another_sort_or_malformed_is_refused(sort, key):
    with pytest.raises(ValueError):
        domain.parse_listing_position(sort, key)
