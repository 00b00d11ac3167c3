"""notify_svc on the real broker, mailing a real SMTP server (tools.mailsink) on loopback."""

import email
import email.policy
import os
import socket
import sys

import pytest
from nameko.events import event_handler as plain_nameko_handler
from nameko.standalone.events import event_dispatcher
from nameko.standalone.rpc import ServiceRpcProxy
from sqlalchemy import create_engine, select
from sqlalchemy.orm import Session

from common import events
from common.testing import (
    Process,
    TcpProxy,
    free_port,
    migrated_database,
    order_event,
    truncate_all,
    wait_for,
)
from notify_svc.models import Notification
from notify_svc.service import NotifyService

pytestmark = pytest.mark.integration

ANN = "6d1f0c4e-0000-4000-8000-000000000001"
FIRST, SECOND = "1a2b3c4d-5e6f-4a00-8000-000000000001", "9f8e7d6c-5e6f-4a00-8000-000000000002"
heard: list = []


class Listener:
    """Records what notify_svc announces."""

    name = "listener_svc"

    @plain_nameko_handler("notify_svc", "notification.sent")
    def on_sent(self, payload):
        heard.append(payload)

    @plain_nameko_handler("notify_svc", "notification.failed")
    def on_failed(self, payload):
        heard.append(payload)


@pytest.fixture(scope="module")
def notify_db_url():
    return migrated_database("notify_svc")


@pytest.fixture
def db(notify_db_url):
    engine = create_engine(notify_db_url)
    with Session(engine) as session:
        yield session
    engine.dispose()


def accepts_connections(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
        return True
    except OSError:
        return False


@pytest.fixture
def mailsink(tmp_path):
    """tools.mailsink as a process of its own: yields (port, directory of .eml files)."""
    port, maildir = free_port(), tmp_path / "mail"
    sink = Process("mailsink", [sys.executable, "-m", "tools.mailsink", "--port", str(port),
                                "--dir", str(maildir)], dict(os.environ), str(tmp_path)).start()
    try:
        wait_for(lambda: accepts_connections(port), timeout=20, message="the mail sink")
        yield port, maildir
    finally:
        sink.stop()


@pytest.fixture
def config(rabbit_config, base_config, notify_db_url, mailsink):
    truncate_all(notify_db_url)
    heard.clear()
    return {**base_config, "AMQP_URI": rabbit_config["AMQP_URI"],
            "DB_URIS": {"notify_svc:Base": notify_db_url},
            "SMTP_HOST": "127.0.0.1", "SMTP_PORT": mailsink[0], "SMTP_STARTTLS": False,
            "SMTP_USER": "", "SMTP_TIMEOUT_S": 2, "NOTIFY_RETRY_DELAYS_S": [0.5, 1],
            "PUBLIC_URL": "http://shop.test", "EVENT_MAX_ATTEMPTS": 3,
            "EVENT_RETRY_DELAYS_MS": [50, 100], "OUTBOX_POLL_INTERVAL_S": 0.2,
            # One worker: a queue's messages are handled one after the other, in order.
            "max_workers": 1}


def start(container_factory, config):
    for service in (Listener, NotifyService):  # no order_svc: the events carry the order
        container = container_factory(service, config)
        container.start()
    return container


def dispatch(config, event):
    event_dispatcher(config)(event.SOURCE, event.TYPE, event.to_payload())


def confirmed(order_id=FIRST):
    return order_event(
        events.OrderConfirmed, order_id=order_id, user_id=ANN, user_email="ann@example.com",
        items=[{"sku": "TEA-SENCHA-100", "name": "Sencha", "quantity": 3,
                "unit_price_cents": 450}],
        total_cents=1350, correlation_id="req-1")


def mails(maildir):
    return [email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
            for path in sorted(maildir.glob("*.eml"))]


def statuses(db):
    db.rollback()  # a fresh snapshot
    return [(n.status, n.attempts) for n in db.scalars(select(Notification))]


def test_a_confirmed_order_arrives_as_a_multipart_email(container_factory, config, mailsink):
    start(container_factory, config)
    dispatch(config, confirmed())
    wait_for(lambda: [p["event_type"] for p in heard] == ["notification.sent"],
             message="notification.sent")
    (mail,) = mails(mailsink[1])
    assert mail.get_content_type() == "multipart/alternative"
    assert [p.get_content_type() for p in mail.iter_parts()] == ["text/plain", "text/html"]
    assert (mail["Subject"], mail["To"], mail["From"]) == (
        "Your Leaf & Bean order 1a2b3c4d is confirmed", "ann@example.com",
        "Leaf & Bean <orders@example.com>")  # config.yml's SHOP_NAME and MAIL_FROM
    text = mail.get_body(("plain",)).get_content()
    html = mail.get_body(("html",)).get_content()
    assert FIRST in text and FIRST in html
    assert "3 x Sencha (TEA-SENCHA-100) at $4.50: $13.50" in text
    assert f"http://shop.test/#/orders/{FIRST}" in html
    assert heard[0]["correlation_id"] == "req-1" and heard[0]["kind"] == "order_confirmed"
    with ServiceRpcProxy("notify_svc", config, timeout=10) as notify:
        (listed,) = notify.list_notifications(user_id=ANN)["items"]
        assert (listed["id"], listed["status"]) == (heard[0]["notification_id"], "sent")
        assert mail["Message-ID"] == f"<{listed['id']}@order-platform>"
        assert notify.health() == {"status": "ok", "service": "notify_svc"}


def cancelled(order_id, reason, payment=None, shortages=None):
    return order_event(
        events.OrderCancelled, order_id=order_id, user_id=ANN, user_email="ann@example.com",
        items=[{"sku": "TEA-SENCHA-100", "name": "Sencha", "quantity": 3,
                "unit_price_cents": 450}],
        total_cents=1350, status="CANCELLED", reason=reason, payment=payment,
        shortages=shortages, correlation_id="req-2")


def test_cancel_mails_say_what_was_missing_and_what_happens_to_the_money(
        container_factory, config, mailsink):
    start(container_factory, config)
    dispatch(config, cancelled(FIRST, "out_of_stock", shortages=[
        {"sku": "TEA-SENCHA-100", "requested": 3, "available": 1}]))
    dispatch(config, cancelled(SECOND, "customer_request", payment={
        "status": "CAPTURED", "amount_cents": 1350, "refunded_cents": 0}))
    wait_for(lambda: len(mails(mailsink[1])) == 2, message="two cancel mails")
    by_subject = {m["Subject"]: m for m in mails(mailsink[1])}
    out_of_stock = by_subject["Your Leaf & Bean order 1a2b3c4d was cancelled"]
    text = out_of_stock.get_body(("plain",)).get_content()
    assert "Sencha (TEA-SENCHA-100): you ordered 3, we have 1" in text
    assert "You were not charged for this order." in text
    assert "Not enough in stock" in out_of_stock.get_body(("html",)).get_content()
    paid = by_subject["Your Leaf & Bean order 9f8e7d6c was cancelled"]
    words = "The $13.50 you paid will be refunded in full to the card you paid with."
    assert words in paid.get_body(("plain",)).get_content()
    assert words in paid.get_body(("html",)).get_content()


def test_a_send_while_smtp_is_down_is_retried_and_sent_once(container_factory, config,
                                                            mailsink, db):
    with TcpProxy("127.0.0.1", mailsink[0]).start() as link:
        link.cut()                                # the mail server is unreachable
        start(container_factory, {**config, "SMTP_PORT": link.port})
        dispatch(config, confirmed())
        wait_for(lambda: [status for status, _ in statuses(db)] == ["failed"],
                 message="the failed send")
        link.restore()
        wait_for(lambda: statuses(db) and statuses(db)[0][0] == "sent", message="the retry")
    wait_for(lambda: [p["event_type"] for p in heard]
             == ["notification.failed", "notification.sent"], message="both events")
    assert len(mails(mailsink[1])) == 1
    (row,) = db.scalars(select(Notification)).all()
    assert row.attempts >= 2 and row.last_error and row.next_attempt_at is None


def test_a_redelivered_event_sends_one_mail(container_factory, config, mailsink, db):
    start(container_factory, config)
    event = confirmed()
    for again in (event, event, confirmed(SECOND)):  # in order, one worker
        dispatch(config, again)
    wait_for(lambda: len(mails(mailsink[1])) == 2, message="two emails")
    subjects = sorted(m["Subject"] for m in mails(mailsink[1]))
    assert subjects == ["Your Leaf & Bean order 1a2b3c4d is confirmed",
                        "Your Leaf & Bean order 9f8e7d6c is confirmed"]
    wait_for(lambda: statuses(db) == [("sent", 1), ("sent", 1)], message="both recorded")
    assert len(mails(mailsink[1])) == 2


def test_a_service_that_dies_mid_send_is_taken_over_after_the_lease(
        container_factory, config, mailsink, db):
    with socket.socket() as black_hole:           # accepts, never greets
        black_hole.bind(("127.0.0.1", 0))
        black_hole.listen(8)
        hanging = {**config, "SMTP_PORT": black_hole.getsockname()[1], "NOTIFY_LEASE_S": 5}
        doomed = start(container_factory, hanging)
        dispatch(config, confirmed())
        wait_for(lambda: statuses(db) == [("pending", 1)], message="the send under way")
        doomed.kill()                             # the message goes back to the queue
    container_factory(NotifyService, config).start()
    wait_for(lambda: statuses(db) == [("sent", 2)], timeout=20, message="the takeover")
    assert len(mails(mailsink[1])) == 1
