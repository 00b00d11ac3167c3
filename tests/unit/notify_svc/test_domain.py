"""notify_svc's pure rules: money, reasons, links, channels, retries, list checks."""

from datetime import UTC, datetime, timedelta

import pytest

from notify_svc import domain
from notify_svc.domain import Settings

NOW = datetime(2026, 1, 1, tzinfo=UTC)


@pytest.mark.parametrize("cents, currency, shown", [
    (123450, "USD", "$1,234.50"), (1200, "EUR", "€12.00"), (310, "GBP", "£3.10"),
    (1200, "CHF", "12.00 CHF"), (5, "USD", "$0.05"), (0, "USD", "$0.00"),
    (123456789, "USD", "$1,234,567.89"), (-500, "USD", "-$5.00"),
    (1200, "usd", "$12.00"), (1200, "JPY", "1,200 JPY"), (99, None, "$0.99")])
def test_money_is_formatted_for_humans(cents, currency, shown):
    assert domain.format_money(cents, currency) == shown


@pytest.mark.parametrize("reason, words", [
    ("out_of_stock", "an item in your order is out of stock"),
    ("payment_declined", "your payment was declined"),
    ("customer_request", "you asked us to cancel it"),
    ("expired", "it was not completed in time"),
    ("warehouse_fire", "warehouse fire"),
    (None, "we could not complete it")])
def test_cancel_reasons_read_as_plain_words(reason, words):
    assert domain.reason_words(reason) == words


def test_links_and_short_ids_point_at_the_order():
    order_id = "1a2b3c4d-5e6f-4a00-8000-000000000042"
    assert domain.short_id(order_id) == "1a2b3c4d"
    assert domain.order_link("https://shop.example.com/", order_id) == \
        f"https://shop.example.com/#/orders/{order_id}"
    assert domain.sms_text(domain.ORDER_SHIPPED, order_id, "L", "Kettle & Co") == \
        "Kettle & Co: your order 1a2b3c4d is on its way. L"


def test_a_subject_is_one_line():
    assert domain.one_line("  Welcome,\r\n Ann\tBcc: x ") == "Welcome, Ann Bcc: x"


def test_only_shipping_news_goes_by_sms():
    assert {k: domain.channels(k) for k in domain.KINDS} == {
        "welcome": ("email",), "order_confirmed": ("email",),
        "order_cancelled": ("email",), "order_shipped": ("email", "sms"),
        "order_delivered": ("email", "sms"), "password_reset": ("email",)}


def test_the_order_view_formats_every_line_in_the_order_currency():
    view = domain.order_view({"order_id": "abcdefgh-1", "currency": "EUR", "total_cents": 2450,
                              "items": [{"sku": "A", "name": "Apple", "quantity": 2,
                                         "unit_price_cents": 1225}]}, "http://x")
    assert view["items"] == [{"sku": "A", "name": "Apple", "quantity": 2,
                              "unit_price": "€12.25", "line_total": "€24.50"}]
    assert (view["total"], view["short_id"], view["link"], view["shipment"]) == (
        "€24.50", "abcdefgh", "http://x/#/orders/abcdefgh-1", None)


def test_a_failed_send_is_retried_after_each_delay_then_given_up():
    delays = (2.0, 10.0)
    assert domain.next_attempt_at(NOW, 1, delays) == NOW + timedelta(seconds=2)
    assert domain.next_attempt_at(NOW, 2, delays) == NOW + timedelta(seconds=10)
    assert domain.next_attempt_at(NOW, 3, delays) is None
    assert domain.next_attempt_at(NOW, 1, ()) is None


@pytest.mark.parametrize("value, delays", [
    ([2, 10, 60], (2.0, 10.0, 60.0)), ("[0.5, 1]", (0.5, 1.0)), ("3,4", (3.0, 4.0)),
    (5, (5.0,)), ([], ()), (None, (2.0, 10.0, 60.0, 300.0))])
def test_retry_delays_come_as_a_list_a_number_or_a_string(value, delays):
    assert domain.retry_delays_s(value) == delays


def test_negative_retry_delays_are_refused():
    with pytest.raises(ValueError):
        domain.retry_delays_s([1, -1])


def test_a_lease_outlasts_any_send():
    settings = Settings.from_config({"SMTP_TIMEOUT_S": 10, "NOTIFY_RETRY_DELAYS_S": [1, 2]})
    assert settings.max_attempts == 3
    assert settings.send_deadline_s == 20 and settings.lease_s == 30
    assert Settings.from_config({"SMTP_TIMEOUT_S": 1, "NOTIFY_LEASE_S": 7}).lease_s == 7
    assert Settings.from_config({"SMTP_TIMEOUT_S": 5, "NOTIFY_LEASE_S": 7}).lease_s == 10.5


@pytest.mark.parametrize("value, result", [
    (True, True), ("true", True), ("1", True), (False, False), ("false", False),
    ("", False), (None, False)])
def test_flags_from_the_environment(value, result):
    assert domain.as_bool(value) is result


def test_list_arguments_are_checked():
    assert domain.check_limit(100) == 100 and domain.check_status("failed") == "failed"
    for bad in (0, 101, "5", True):
        with pytest.raises(ValueError):
            domain.check_limit(bad)
    for bad in ("FAILED", "done", 1):
        with pytest.raises(ValueError):
            domain.check_status(bad)
    with pytest.raises(ValueError):
        domain.check_user_id(5)
