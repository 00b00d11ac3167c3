"""The templates: subject, text and HTML parts of every kind, and the email message."""

import email
import email.policy

import pytest

from notify_svc import domain, render
from notify_svc.mailer import Outgoing, build_message
from tests.unit.notify_svc.conftest import ORDER_ID, an_order

URL = "https://shop.example.com"
LINK = f"{URL}/#/orders/{ORDER_ID}"


def rendered(kind, **context):
    return render.render(kind, render.mail_context(kind, URL, **context))


@pytest.mark.parametrize("kind, subject", [
    ("order_confirmed", "Your Leaf & Bean order 1a2b3c4d is confirmed"),
    ("order_cancelled", "Your Leaf & Bean order 1a2b3c4d was cancelled"),
    ("order_shipped", "Your Leaf & Bean order 1a2b3c4d has shipped"),
    ("order_delivered", "Your Leaf & Bean order 1a2b3c4d was delivered")])
def test_order_mails_show_lines_money_link_and_order_id_in_both_parts(kind, subject):
    mail = rendered(kind, order=an_order(), reason="out_of_stock")
    assert mail.subject == subject
    for part in (mail.text, mail.html):
        assert ORDER_ID in part and LINK in part
        assert "TEA-SENCHA-100" in part and "$617.25" in part and "$1,234.50" in part
        assert "$12.00" in part and "$1,246.50" in part  # the mug, and the total


def test_the_cancel_reason_is_in_plain_words():
    mail = rendered("order_cancelled", order=an_order(), reason="payment_declined")
    assert "cancelled because your payment was declined" in mail.text
    assert "cancelled because your payment was declined" in mail.html
    assert "You were not charged for this order." in mail.text
    mail = rendered("order_cancelled", order=an_order(), reason="customer_request")
    assert "because you asked us to cancel it" in mail.text


def test_html_escapes_what_customers_and_admins_typed():
    order = an_order()
    order["items"][0]["name"] = "<script>alert(1)</script>"
    mail = rendered("order_confirmed", order=order)
    assert "<script>" not in mail.html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in mail.html
    assert "<script>alert(1)</script>" in mail.text  # plain text is shown as is
    assert "Sencha" not in mail.text


def test_a_shipment_shows_its_tracking_number():
    order = an_order(shipment={"status": "SHIPPED", "carrier": "DHL", "tracking_number": "TN9"})
    mail = rendered("order_shipped", order=order)
    assert "TN9" in mail.text and "DHL" in mail.html
    assert "Tracking" not in rendered("order_shipped", order=an_order()).text


def test_the_welcome_mail_asks_to_confirm_and_carries_no_text_of_the_registrants():
    # A name like "Your card was charged $999, dispute at http://..." was once mailed,
    # in the subject, to whatever address someone registered with.
    bait = "Your card was charged $999, dispute at http://evil.example"
    mail = rendered("welcome", name=bait, email="ann@example.com",
                    verification_token="ev_a+b/c")
    assert mail.subject == "Confirm your email address for Leaf & Bean"
    assert "evil.example" not in mail.subject + mail.text + mail.html
    assert "ann@example.com" in mail.text
    link = f"{URL}/#/verify?token=ev_a%2Bb%2Fc"
    assert link in mail.text and f'href="{link}"' in mail.html
    plain = rendered("welcome", email="admin@example.com")  # nothing to verify
    assert "verify" not in plain.text and f"{URL}/" in plain.text


def test_other_currencies_are_formatted_as_such():
    mail = rendered("order_confirmed", order=an_order(currency="EUR"))
    assert "€1,246.50" in mail.text and "€1,246.50" in mail.html


def test_an_unknown_kind_or_a_missing_order_is_an_error():
    with pytest.raises(ValueError):
        render.mail_context("birthday", URL)
    with pytest.raises(ValueError):
        render.mail_context(domain.ORDER_CONFIRMED, URL)


def test_the_message_is_multipart_alternative_with_a_stable_message_id():
    mail = rendered("order_confirmed", order=an_order(currency="EUR"))
    outgoing = Outgoing("n-1", 1, "order_confirmed", "ann@example.com", mail.subject,
                        mail.text, mail.html)
    raw = build_message(outgoing, "Shop <shop@example.com>").as_bytes()
    parsed = email.message_from_bytes(raw, policy=email.policy.default)
    assert parsed.get_content_type() == "multipart/alternative"
    assert [p.get_content_type() for p in parsed.iter_parts()] == ["text/plain", "text/html"]
    assert (parsed["To"], parsed["From"], parsed["Subject"], parsed["Message-ID"]) == (
        "ann@example.com", "Shop <shop@example.com>",
        "Your Leaf & Bean order 1a2b3c4d is confirmed",
        "<n-1@order-platform>")
    assert "€1,246.50" in parsed.get_body(("plain",)).get_content()
    assert ORDER_ID in parsed.get_body(("html",)).get_content()


def test_the_reset_mail_carries_its_single_use_link():
    mail = rendered("password_reset", email="ann@example.com", reset_token="pr_a/b")
    assert mail.subject == "Reset your Leaf & Bean password"
    link = f"{URL}/#/reset?token=pr_a%2Fb"
    assert link in mail.text and f'href="{link}"' in mail.html
    assert "ann@example.com" in mail.text
