"""NotifyService's handlers and sweep through worker_factory, on a real PostgreSQL
session, with a fake SMTP client."""

from datetime import timedelta

import eventlet
from nameko.rpc import RpcProxy
from sqlalchemy import update
from sqlalchemy.orm import Session

from common import events
from common.db import utc_now
from common.inbox import InboxClaim
from common.testing import order_event, round_trips
from notify_svc import notifications
from notify_svc.domain import Settings
from notify_svc.mailer import PermanentMailError
from notify_svc.models import Inbox, Notification
from notify_svc.service import NotifyService
from tests.unit.notify_svc.conftest import (
    ANN,
    ANN_PHONE,
    ANNS_ADDRESS,
    ORDER_ID,
    emitted,
    make_due,
    milestone,
    registered,
    rows,
    text_of,
)


def test_a_new_user_is_welcomed(notify, session, mailer):
    notify.on_user_registered(registered())
    (message,) = mailer.sent
    assert (message["To"], message["Subject"]) == ("ann@example.com",
                                                   "Confirm your email address for Kettle & Co")
    (row,) = rows(session)
    assert (row.kind, row.channel, row.status, row.attempts, row.user_id) == (
        "welcome", "email", "sent", 1, ANN)
    assert row.sent_at is not None and row.lease_until is None
    assert message["Message-ID"] == f"<{row.id}@order-platform>"
    ((event_type, payload),) = emitted(session)
    assert event_type == "notification.sent"
    assert payload | {"event_id": None, "occurred_at": None} == {
        "event_type": "notification.sent", "version": 1, "event_id": None,
        "occurred_at": None, "correlation_id": "req-register", "notification_id": row.id,
        "user_id": ANN, "kind": "welcome", "channel": "email",
        "subject": "Confirm your email address for Kettle & Co"}


def test_a_confirmed_order_is_mailed_with_its_lines_from_the_event_alone(notify, session,
                                                                         mailer):
    notify.on_order_confirmed(milestone())
    (message,) = mailer.sent
    assert message["Subject"] == "Your Kettle & Co order 1a2b3c4d is confirmed"
    assert message.get_content_type() == "multipart/alternative"
    body = text_of(message)
    assert "2 x Sencha <Premium> (TEA-SENCHA-100) at $617.25: $1,234.50" in body
    assert "Total: $1,246.50" in body and ORDER_ID in body
    assert "Sencha &lt;Premium&gt;" in message.get_body(("html",)).get_content()
    (row,) = rows(session)
    assert (row.kind, row.order_id, row.status) == ("order_confirmed", ORDER_ID, "sent")


def test_a_cancelled_order_says_why(notify, mailer):
    notify.on_order_cancelled(order_event(events.OrderCancelled,
            order_id=ORDER_ID, user_id=ANN, user_email="ann@example.com", reason="out_of_stock",
        previous_status="PENDING"))
    assert "because an item in your order is out of stock" in text_of(mailer.sent[0])


def test_notify_svc_never_calls_order_svc_back():
    # The order.* events carry the order: a proxy to order_svc would be a defect.
    assert not [name for name, value in vars(NotifyService).items()
                if isinstance(value, RpcProxy)]


def test_a_shipped_order_mail_has_the_tracking_number_of_the_snapshot(notify, mailer):
    notify.on_order_shipped(milestone(events.OrderShipped, shipment={
        "status": "SHIPPED", "carrier": "DHL", "tracking_number": "DHL-42"}))
    assert "Tracking number: DHL-42" in text_of(mailer.sent[0])


def test_a_shipped_order_mail_says_where_it_ships(notify, mailer):
    notify.on_order_shipped(milestone(events.OrderShipped, shipping_address={
        "name": "Ann Lee", "line1": "1 Tea Street", "line2": None, "city": "Leeds",
        "postal_code": "LS1 1AA", "country": "GB", "phone": None}))
    text = text_of(mailer.sent[0])
    assert "Shipping to:\nAnn Lee\n1 Tea Street\nLS1 1AA Leeds\nGB" in text
    html = mailer.sent[0].get_body(("html",)).get_content()
    assert "Ann Lee<br>1 Tea Street<br>LS1 1AA Leeds<br>GB" in html


def test_a_redelivered_event_makes_one_notification_per_channel(notify, session, mailer):
    event = milestone(events.OrderShipped)
    notify.on_order_shipped(event)
    notify.on_order_shipped(event)
    assert len(mailer.sent) == 1
    email, sms = rows(session)
    assert (email.channel, email.status) == ("email", "sent")
    assert (sms.channel, sms.status, sms.recipient, sms.body_html) == (
        "sms", "sent", ANN_PHONE, None)
    assert "1a2b3c4d is on its way" in sms.body_text and sms.sent_at is not None
    # Only the email is announced: the SMS record is in the log, and the stream (the
    # one consumer of notification.sent) shows emails only.
    assert [p["channel"] for _, p in emitted(session)] == ["email"]


def test_no_sms_is_recorded_for_an_order_without_a_phone(notify, session, mailer):
    notify.on_order_shipped(milestone(events.OrderShipped,
                                      shipping_address={**ANNS_ADDRESS, "phone": None}))
    notify.on_order_delivered(milestone(events.OrderDelivered, shipping_address=None))
    assert [row.channel for row in rows(session)] == ["email", "email"]
    assert len(mailer.sent) == 2


def test_a_redelivery_while_the_first_is_mid_send_makes_one_notification(
        make_worker, engine, session, mailer):
    event = milestone(events.OrderDelivered)
    first = make_worker(session)
    with Session(engine, expire_on_commit=False) as other:
        second = make_worker(other)

        def redelivered():  # the second delivery runs to the end while the first sends
            mailer.during = None
            second.on_order_delivered(event)

        mailer.during = redelivered
        first.on_order_delivered(event)
    assert len(mailer.sent) == 1 and len(rows(session)) == 2


def test_a_failed_send_is_logged_then_retried_when_due(notify, session, mailer):
    mailer.failing = ConnectionRefusedError(111, "Connection refused")
    notify.on_user_registered(registered())
    (row,) = rows(session)
    assert (row.status, row.attempts, row.lease_until) == ("failed", 1, None)
    assert "Connection refused" in row.last_error
    assert timedelta(seconds=55) < row.next_attempt_at - utc_now() <= timedelta(seconds=60)
    assert [(t, p["kind"]) for t, p in emitted(session)] == [("notification.failed", "welcome")]
    mailer.failing = None
    notify.send_due()                      # not due yet
    assert mailer.sent == [] and rows(session)[0].status == "failed"
    make_due(session)
    notify.send_due()
    notify.send_due()
    (row,) = rows(session)
    assert (row.status, row.attempts, row.next_attempt_at) == ("sent", 2, None)
    assert len(mailer.sent) == 1
    assert [t for t, _ in emitted(session)] == ["notification.failed", "notification.sent"]
    assert emitted(session)[1][1]["correlation_id"] == "req-register"


def test_retries_stop_after_the_last_delay(notify, session, mailer):
    mailer.failing = OSError("down")
    notify.on_user_registered(registered())
    for _ in range(4):
        make_due(session)
        notify.send_due()
    (row,) = rows(session)
    assert (row.status, row.attempts, row.next_attempt_at) == ("failed", 3, None)
    assert [t for t, _ in emitted(session)] == ["notification.failed"]  # once


def test_a_refusal_for_good_is_not_retried(notify, session, mailer):
    mailer.failing = PermanentMailError("550 no such mailbox")
    notify.on_user_registered(registered())
    (row,) = rows(session)
    assert (row.status, row.next_attempt_at) == ("failed", None)
    assert "550" in row.last_error


def test_a_mail_server_that_never_answers_is_cut_off(make_worker, unit_config, session,
                                                     mailer):
    unit_config["SMTP_TIMEOUT_S"] = 0.05
    mailer.during = lambda: eventlet.sleep(5)
    make_worker(session).on_user_registered(registered())
    (row,) = rows(session)
    assert row.status == "failed" and "no answer from the mail server" in row.last_error


# ---- leases: a sender that dies, a sender still at work ------------------------------

def test_a_row_being_sent_is_not_taken_by_the_sweep(make_worker, engine, session, mailer):
    with Session(engine, expire_on_commit=False) as other:
        sweeper = make_worker(other)
        mailer.during = sweeper.send_due        # another process sweeps mid-send
        make_worker(session).on_user_registered(registered())
    assert len(mailer.sent) == 1 and rows(session)[0].attempts == 1


def test_a_sender_that_died_mid_send_is_taken_over_after_its_lease(
        notify, session, mailer, unit_config):
    event = registered()
    settings = Settings.from_config(unit_config)
    drafts = notifications.drafts("welcome", settings, user_id=ANN,
                                  recipient="ann@example.com", name="Ann")
    notifications.record(session, InboxClaim(Inbox, "unit"), event, drafts, settings)
    session.commit()                        # ... and the process dies before sending
    notify.on_user_registered(event)        # the redelivery: handled, nothing sent
    notify.send_due()                       # the lease still holds
    assert mailer.sent == [] and rows(session)[0].status == "pending"
    session.execute(update(Notification).values(lease_until=utc_now()))
    session.commit()
    notify.send_due()
    (row,) = rows(session)
    assert (row.status, row.attempts, len(mailer.sent)) == ("sent", 2, 1)


def test_a_late_outcome_of_a_replaced_sender_is_dropped(notify, session, mailer,
                                                        unit_config):
    mailer.failing = OSError("down")
    notify.on_user_registered(registered())
    make_due(session)
    settings = Settings.from_config(unit_config)
    stale = notifications.claim_next(session, settings)
    session.commit()
    session.execute(update(Notification).values(lease_until=utc_now()))
    session.commit()
    mailer.failing = None
    notify.send_due()                       # the lease ran out: another sender sends
    notifications.settle(session, stale, notifications.SendError("late"), settings)
    notifications.settle(session, stale, None, settings)  # nor a late success
    session.commit()
    (row,) = rows(session)
    assert (row.status, row.attempts, row.last_error) == ("sent", 3, "OSError: down")
    assert [t for t, _ in emitted(session)] == ["notification.failed", "notification.sent"]


def test_an_interrupted_last_attempt_is_given_up(notify, session, mailer):
    mailer.failing = OSError("down")
    notify.on_user_registered(registered())
    session.execute(update(Notification).values(
        attempts=3, next_attempt_at=utc_now(), lease_until=utc_now()))
    session.commit()
    notify.send_due()
    (row,) = rows(session)
    assert (row.status, row.attempts, row.next_attempt_at) == ("failed", 3, None)


def test_a_mail_is_two_round_trips(notify, session, mailer):
    session.commit()
    with round_trips(session) as count:
        notify.on_order_confirmed(milestone())
    # the inbox claim with the rows, then the row marked sent with its event: each one
    # statement in autocommit
    assert (count.statements, count.transactions) == (2, 0) and len(mailer.sent) == 1
