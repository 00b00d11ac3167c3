"""Notifications on the running cluster: a confirmed order sends one email (into the
cluster's mail sink, `cluster.mail_dir`), the user sees it in GET /notifications and on
their live stream, and admins read the log.
"""

from __future__ import annotations

import email
import email.policy
import re
import urllib.parse
import uuid

import eventlet
import pytest

from common.testing import wait_for
from tests.e2e.conftest import login
from tests.e2e.test_orders import place, settled
from tests.e2e.test_stream import Stream

pytestmark = pytest.mark.e2e

FIELDS = {"id", "kind", "channel", "subject", "status", "created_at", "sent_at"}


@pytest.fixture
def product(cluster, admin):
    sku = f"MAIL-{uuid.uuid4().hex[:8].upper()}"
    answer = cluster.post("/products", headers=admin, json={
        "sku": sku, "name": f"Product {sku}", "price_cents": 450, "stock": 10})
    assert answer.status_code == 201, answer.text
    return sku


def mails_to(cluster, address: str, subject: str) -> list[email.message.EmailMessage]:
    found = []
    for path in sorted(cluster.mail_dir.glob("*.eml")):
        message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
        if address.lower() in str(message["To"]).lower() and message["Subject"] == subject:
            found.append(message)
    return found


def test_a_confirmed_order_sends_one_email_the_user_can_see(cluster, customer, admin,
                                                            product):
    address = cluster.get("/users/me", headers=customer).json()["email"]
    stream = Stream(cluster, headers=customer)
    try:
        assert stream.first_line() == ": connected"
        stream.follow()
        order = place(cluster, customer, product).json()["id"]
        settled(cluster, customer, order, "CONFIRMED")

        def confirmed_mail_sent():
            items = cluster.get("/notifications", headers=customer).json()["items"]
            return [n for n in items if (n["kind"], n["channel"], n["status"])
                    == ("order_confirmed", "email", "sent")]

        (notification,) = wait_for(confirmed_mail_sent, timeout=30,
                                   message="an order_confirmed notification with status sent")
        assert set(notification) == FIELDS
        assert notification["subject"] and notification["sent_at"]

        (mail,) = wait_for(lambda: mails_to(cluster, address, notification["subject"]),
                           timeout=10, message=f"the email to {address} in the mail sink")
        assert mail.get_body(("plain",)) is not None
        assert mail.get_body(("html",)) is not None

        # The live stream announced it, under the notification's own id.
        stream.wait_for(lambda s: any(e["data"]["id"] == notification["id"]
                                      for e in s.of("notification")),
                        message="the notification on the user's stream")
        (announced,) = [e["data"] for e in stream.of("notification")
                        if e["data"]["id"] == notification["id"]]
        assert announced == {"id": notification["id"], "kind": "order_confirmed",
                             "subject": notification["subject"]}
    finally:
        stream.close()

    # Admins find it in the log, by status too.
    for query in ("", "?status=sent&limit=100"):
        page = cluster.get("/admin/notifications" + query, headers=admin)
        assert page.status_code == 200, page.text
        assert notification["id"] in [n["id"] for n in page.json()["items"]]
    failed = cluster.get("/admin/notifications?status=failed&limit=100", headers=admin)
    assert notification["id"] not in [n["id"] for n in failed.json()["items"]]

    # Sent once: nothing more arrives for the same order.
    eventlet.sleep(1)
    assert len(mails_to(cluster, address, notification["subject"])) == 1
    mine = cluster.get("/notifications", headers=customer).json()["items"]
    assert [(n["kind"], n["channel"]) for n in mine].count(("order_confirmed", "email")) == 1


def test_admin_notification_routes_refuse_bad_input_and_other_roles(cluster, customer,
                                                                   admin):
    bad = cluster.get("/admin/notifications?status=delivered", headers=admin)
    assert bad.status_code == 400
    assert "status" in str(bad.json()["error"]["details"])
    for notification_id in ("not-a-uuid", str(uuid.uuid4())):
        missing = cluster.post(f"/admin/notifications/{notification_id}/retry",
                               headers=admin)
        assert missing.status_code == 404, missing.text
        assert missing.json()["error"]["code"] == "not_found"
    assert cluster.get("/admin/notifications", headers=customer).status_code == 403
    assert cluster.post(f"/admin/notifications/{uuid.uuid4()}/retry",
                        headers=customer).status_code == 403
    assert cluster.get("/notifications").status_code == 401


WELCOME_SUBJECT = "Confirm your email address for Leaf & Bean"  # config.yml's SHOP_NAME


def test_the_welcome_mail_confirms_the_address_once_and_mails_no_registrant_text(cluster):
    # A name like this, registered with someone else's address, was once mailed to them
    # in the subject.
    bait = "Your card was charged $999, dispute at http://evil.example"
    address = f"verify-{uuid.uuid4().hex[:8]}@example.com"
    assert cluster.post("/auth/register", json={"email": address, "password": "correct horse",
                                                "name": bait}).status_code == 201
    (mail,) = wait_for(lambda: mails_to(cluster, address, WELCOME_SUBJECT), timeout=30,
                       message="the welcome mail")
    body = mail.get_body(("plain",)).get_content()
    assert "evil.example" not in str(mail["Subject"]) + body
    link = re.search(r"http\S+#/verify\?token=(\S+)", body)
    assert link, body
    token = urllib.parse.unquote(link.group(1))
    headers = login(cluster, address, "correct horse")
    assert cluster.get("/users/me", headers=headers).json()["email_verified"] is False
    assert cluster.post("/auth/verify", json={"token": token}).status_code == 204
    assert cluster.get("/users/me", headers=headers).json()["email_verified"] is True
    spent = cluster.post("/auth/verify", json={"token": token})
    assert spent.status_code == 400 and spent.json()["error"]["code"] == "validation_error"


def cancel_mail(cluster, customer, order_id) -> tuple[str, str]:
    """(text, html) of the cancel mail of the customer's order, once it is in the sink."""
    address = cluster.get("/users/me", headers=customer).json()["email"]
    subject = f"Your Leaf & Bean order {order_id[:8]} was cancelled"
    (mail,) = wait_for(lambda: mails_to(cluster, address, subject), timeout=30,
                       message=f"the cancel mail of {order_id}")
    assert str(mail["From"]) == "Leaf & Bean <orders@example.com>"
    return (mail.get_body(("plain",)).get_content(),
            mail.get_body(("html",)).get_content())


def test_a_declined_orders_cancel_mail_says_nothing_was_charged(cluster, customer, product):
    order = place(cluster, customer, product, token="tok_declined").json()["id"]
    settled(cluster, customer, order, "CANCELLED")
    text, html = cancel_mail(cluster, customer, order)
    for part in (text, html):
        assert "cancelled because your payment was declined" in part
        assert "You were not charged for this order." in part
        assert "refunded" not in part
    # PUBLIC_URL follows the cluster's GATEWAY_PORT: the link reaches this gateway.
    port = urllib.parse.urlsplit(cluster.url).port
    assert f"http://localhost:{port}/#/orders/{order}" in text
    assert f'href="http://localhost:{port}/#/orders/{order}"' in html


def test_an_out_of_stock_orders_cancel_mail_names_what_is_missing(cluster, customer, admin):
    sku = f"MAIL-{uuid.uuid4().hex[:8].upper()}"
    assert cluster.post("/products", headers=admin, json={
        "sku": sku, "name": "Last Jar of Honey", "price_cents": 450, "stock": 1}
    ).status_code == 201
    order = place(cluster, customer, sku, quantity=3).json()["id"]
    cancelled = settled(cluster, customer, order, "CANCELLED")
    assert cancelled["cancel_reason"] == "out_of_stock"
    text, html = cancel_mail(cluster, customer, order)
    assert f"Last Jar of Honey ({sku}): you ordered 3, we have 1" in text
    assert "Not enough in stock" in html and "Last Jar of Honey" in html
    assert "You were not charged for this order." in text


def test_a_paid_order_cancelled_by_the_customer_mails_the_refund(cluster, customer, product):
    order = place(cluster, customer, product, quantity=2).json()["id"]
    settled(cluster, customer, order, "CONFIRMED")
    answer = cluster.post(f"/orders/{order}/cancel", headers=customer)
    assert answer.status_code == 202, answer.text  # it ships 5 s after confirmation here
    text, html = cancel_mail(cluster, customer, order)
    words = "The $9.00 you paid will be refunded in full to the card you paid with."
    assert words in text and words in html


def test_the_shipped_mail_says_where_the_parcel_goes(cluster, customer, product):
    placed = cluster.post("/orders", headers=customer, json={
        "items": [{"sku": product, "quantity": 1}], "payment": {"token": "tok_ok"},
        "shipping_address": {"name": "Ann Lee", "line1": "1 Tea Street", "line2": "Flat 4",
                             "city": "Leeds", "postal_code": "LS1 1AA", "country": "gb"}})
    assert placed.status_code == 201, placed.text
    order = placed.json()["id"]
    settled(cluster, customer, order, "SHIPPED")
    address = cluster.get("/users/me", headers=customer).json()["email"]
    subject = f"Your Leaf & Bean order {order[:8]} has shipped"
    (mail,) = wait_for(lambda: mails_to(cluster, address, subject), timeout=30,
                       message="the shipped mail")
    text = mail.get_body(("plain",)).get_content().replace("\r\n", "\n")
    assert "Shipping to:\nAnn Lee\n1 Tea Street\nFlat 4\nLS1 1AA Leeds\nGB\n" in text
    assert "Ann Lee<br>1 Tea Street<br>Flat 4<br>LS1 1AA Leeds<br>GB" in \
        mail.get_body(("html",)).get_content()
