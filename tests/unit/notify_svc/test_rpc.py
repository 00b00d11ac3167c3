"""NotifyService's RPC: listing, reading and retrying the notification log."""

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from common import events
from notify_svc.exceptions import (
    InvalidNotificationQuery,
    NotificationAlreadySent,
    NotificationInFlight,
    NotificationNotFound,
)
from notify_svc.models import Notification
from tests.unit.notify_svc.conftest import ANN, BOB, milestone, registered, rows


def test_an_admin_retry_sends_a_failed_notification_now(notify, session, mailer):
    mailer.failing = OSError("down")
    notify.on_user_registered(registered())
    (row,) = rows(session)
    mailer.failing = None
    retried = notify.retry_notification(row.id)
    assert (retried["status"], retried["attempts"], retried["id"]) == ("sent", 2, row.id)
    assert retried["sent_at"] is not None and len(mailer.sent) == 1
    with pytest.raises(NotificationAlreadySent):
        notify.retry_notification(row.id)
    for unknown in ("6d1f0c4e-0000-4000-8000-00000000ffff", "nope", None):
        with pytest.raises(NotificationNotFound):
            notify.retry_notification(unknown)


def test_an_admin_retry_that_fails_again_says_why(notify, session, mailer):
    mailer.failing = OSError("still down")
    notify.on_user_registered(registered())
    retried = notify.retry_notification(rows(session)[0].id)
    assert (retried["status"], retried["attempts"]) == ("failed", 2)
    assert retried["last_error"] == "OSError: still down"


def test_a_retry_of_a_send_under_way_is_refused(make_worker, engine, session, mailer):
    refused = []

    def admin_retries():
        with Session(engine) as other, pytest.raises(NotificationInFlight) as raised:
            make_worker(other).retry_notification(rows(other)[0].id)
        refused.append(raised.value)

    mailer.during = admin_retries
    make_worker(session).on_user_registered(registered())
    assert len(refused) == 1 and len(mailer.sent) == 1


def test_notifications_are_listed_newest_first_page_by_page(notify, session, mailer):
    for n in range(3):
        notify.on_user_registered(registered(user_id=f"user-{n}", name=f"U{n}"))
    notify.on_order_shipped(milestone(events.OrderShipped))      # email + sms for Ann
    mailer.failing = OSError("down")
    notify.on_user_registered(registered(user_id=BOB, name="Bob"))
    first = notify.list_notifications(limit=2)
    second = notify.list_notifications(limit=2, cursor=first["next_cursor"])
    third = notify.list_notifications(limit=2, cursor=second["next_cursor"])
    listed = [n for page in (first, second, third) for n in page["items"]]
    assert [n["subject"] for n in listed][0] == "Confirm your email address for Kettle & Co"
    assert len(listed) == 6 and third["next_cursor"] is None
    assert set(listed[0]) == {"id", "kind", "channel", "subject", "status", "created_at",
                              "sent_at"}
    anns = notify.list_notifications(user_id=ANN)["items"]
    assert sorted(n["channel"] for n in anns) == ["email", "sms"]
    failed = notify.list_notifications(status="failed", detailed=True)["items"]
    assert [(n["user_id"], n["attempts"], n["last_error"]) for n in failed] == [
        (BOB, 1, "OSError: down")]
    assert notify.list_notifications(status="sent")["items"][0]["sent_at"] is not None
    assert notify.get_notification(anns[0]["id"]) == anns[0]
    assert notify.get_notification(anns[0]["id"], user_id=ANN) == anns[0]
    with pytest.raises(NotificationNotFound):
        notify.get_notification(anns[0]["id"], user_id=BOB)


@pytest.mark.parametrize("query, field", [
    ({"limit": 0}, "limit"), ({"limit": 101}, "limit"), ({"limit": "5"}, "limit"),
    ({"cursor": "garbage"}, "cursor"), ({"cursor": 7}, "cursor"),
    ({"status": "SENT"}, "status"), ({"user_id": 5}, "user_id")])
def test_bad_list_queries_are_refused_naming_the_field(notify, query, field):
    with pytest.raises(InvalidNotificationQuery) as raised:
        notify.list_notifications(**query)
    assert raised.value.details == {"field": field}


def test_health_answers(notify, session):
    assert notify.health() == {"status": "ok", "service": "notify_svc"}
    assert session.scalar(select(func.count()).select_from(Notification)) == 0
