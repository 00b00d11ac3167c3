"""Mail that reads like a shop's: its name, the money back, the missing items, and a
layout that holds on a 390 px phone."""

import re

import pytest

from notify_svc import domain, render
from notify_svc.domain import Settings
from tests.unit.notify_svc.conftest import ORDER_ID, an_order

URL = "http://localhost:8001"
SHOP = "Kettle & Co"
SHORTAGES = [{"sku": "TEA-SENCHA-100", "requested": 2, "available": 1},
             {"sku": "MUG", "requested": 1, "available": 0}]
CAPTURED = {"status": "CAPTURED", "amount_cents": 124650, "refunded_cents": 0}


def rendered(kind, **context):
    return render.render(kind, render.mail_context(kind, URL, shop_name=SHOP, **context))


def every_kind():
    order = an_order(payment=CAPTURED)
    return {kind: rendered(kind, order=order, email="ann@example.com",
                           verification_token="ev_1", reset_token="pr_1",
                           reason="out_of_stock", shortages=SHORTAGES)
            if kind not in domain.ACCOUNT_KINDS else
            rendered(kind, email="ann@example.com", verification_token="ev_1",
                     reset_token="pr_1")
            for kind in domain.KINDS}


# ---- the rules ---------------------------------------------------------------------

@pytest.mark.parametrize("payment, words", [
    (CAPTURED, "The $1,246.50 you paid will be refunded in full to the card you paid with."),
    ({"status": "REFUNDED", "amount_cents": 900, "refunded_cents": 900},
     "The $9.00 you paid has been refunded in full."),
    ({"status": "FAILED", "amount_cents": 900, "refunded_cents": 0},
     "You were not charged for this order."),
    (None, "You were not charged for this order.")])
def test_the_money_back_follows_the_snapshots_payment(payment, words):
    assert domain.money_back_words(payment, "USD") == words


def test_the_money_back_is_in_the_orders_currency():
    assert "€12.00" in domain.money_back_words(
        {"status": "CAPTURED", "amount_cents": 1200, "refunded_cents": 0}, "EUR")


def test_missing_items_are_named_from_the_orders_lines():
    lines = [{"sku": "TEA", "name": "Sencha", "quantity": 3, "unit_price_cents": 100}]
    assert domain.missing_items([{"sku": "TEA", "requested": 3, "available": 1},
                                 {"sku": "GONE", "requested": 1, "available": -2}], lines) == [
        {"sku": "TEA", "name": "Sencha", "requested": 3, "available": 1},
        {"sku": "GONE", "name": "GONE", "requested": 1, "available": 0}]
    assert domain.missing_items(None, lines) == []


def test_the_sender_is_the_shop_unless_mail_from_names_one():
    assert domain.sender("orders@example.com", SHOP) == '"Kettle & Co" <orders@example.com>'
    assert domain.sender("Desk <desk@example.com>", SHOP) == "Desk <desk@example.com>"
    with pytest.raises(ValueError):
        domain.sender("Shop <>", SHOP)


def test_settings_take_the_shop_name_with_a_default():
    settings = Settings.from_config({"SHOP_NAME": " Kettle  & Co ",
                                     "MAIL_FROM": "orders@example.com"})
    assert settings.shop_name == SHOP
    assert settings.mail_from == '"Kettle & Co" <orders@example.com>'
    assert Settings.from_config({}).shop_name == "Leaf & Bean"


# ---- the mails ---------------------------------------------------------------------

def test_every_mail_names_the_shop_in_subject_header_and_footer():
    for kind, mail in every_kind().items():
        assert SHOP in mail.subject, kind
        assert "Order Platform" not in mail.subject + mail.text + mail.html, kind
        assert f"{SHOP} · {URL}/" in mail.text, kind   # the text footer
        escaped = "Kettle &amp; Co"
        assert re.search(rf">{escaped}</a></td>", mail.html), kind   # the header
        assert f"account at {escaped}." in mail.html, kind            # the footer


def test_a_paid_cancelled_order_states_the_refund():
    mail = rendered("order_cancelled", order=an_order(payment=CAPTURED),
                    reason="customer_request")
    words = "The $1,246.50 you paid will be refunded in full to the card you paid with."
    assert words in mail.text and words in mail.html
    assert "not charged" not in mail.text


def test_a_declined_order_says_nothing_was_charged():
    mail = rendered("order_cancelled", reason="payment_declined", order=an_order(
        payment={"status": "FAILED", "amount_cents": 124650, "refunded_cents": 0}))
    assert "because your payment was declined" in mail.text
    assert "You were not charged for this order." in mail.text
    assert "You were not charged for this order." in mail.html
    assert "refunded" not in mail.text


def test_the_out_of_stock_mail_names_the_missing_items():
    mail = rendered("order_cancelled", order=an_order(), reason="out_of_stock",
                    shortages=SHORTAGES)
    assert "Sencha <Premium> (TEA-SENCHA-100): you ordered 2, we have 1" in mail.text
    assert "Mug (MUG): you ordered 1, none left" in mail.text
    assert "Sencha &lt;Premium&gt;" in mail.html and "none left" in mail.html
    assert "Not enough in stock" in mail.html
    other = rendered("order_cancelled", order=an_order(), reason="expired")
    assert "Not enough in stock" not in other.text + other.html


def test_links_lead_to_the_configured_gateway():
    mail = rendered("order_confirmed", order=an_order())
    assert f'href="{URL}/#/orders/{ORDER_ID}"' in mail.html


# ---- the layout --------------------------------------------------------------------

PHONE_PX = 390


def test_the_html_layout_is_fluid_enough_for_a_390px_phone():
    for kind, mail in every_kind().items():
        html = mail.html
        assert 'name="viewport" content="width=device-width' in html, kind
        # No fixed width wider than the phone, in attributes or styles; max-width is
        # fine (it only caps the card on wide screens).
        fixed = [int(w) for w in re.findall(r'\bwidth="(\d+)"', html)]
        fixed += [int(w) for w in re.findall(r'(?<![-\w])width:\s*(\d+)px', html)]
        fixed += [int(w) for w in re.findall(r'min-width:\s*(\d+)px', html)]
        assert all(w <= PHONE_PX for w in fixed), (kind, fixed)
        tables = re.findall(r"<table\b[^>]*>", html)
        assert tables and all('width="100%"' in t for t in tables), kind
        assert "max-width:600px" in html, kind
        # Long words (a link, a sku) wrap instead of widening the page.
        assert "overflow-wrap:anywhere" in html, kind
