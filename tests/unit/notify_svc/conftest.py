"""Fixtures and builders of notify_svc's unit tests."""

import copy
from datetime import timedelta

import pytest
from nameko.testing.services import worker_factory
from sqlalchemy import create_engine, select, update
from sqlalchemy.orm import Session

from common import events
from common.db import utc_now
from common.inbox import InboxClaim
from common.testing import migrated_database, order_event, truncate_all
from notify_svc.models import Inbox, Notification, Outbox
from notify_svc.service import NotifyService

ANN = "6d1f0c4e-0000-4000-8000-000000000001"
BOB = "6d1f0c4e-0000-4000-8000-000000000002"
ORDER_ID = "1a2b3c4d-5e6f-4a00-8000-000000000042"


def registered(user_id=ANN, name="Ann"):
    return events.UserRegistered(user_id=user_id, email="ann@example.com", name=name,
                                 correlation_id="req-register")


ANN_PHONE = "+44 113 496 0000"
ANNS_ADDRESS = {"name": "Ann Lee", "line1": "1 Tea Street", "line2": None, "city": "Leeds",
                "postal_code": "LS1 1AA", "country": "GB", "phone": ANN_PHONE}


def milestone(kind=events.OrderConfirmed, order_id=ORDER_ID, **fields):
    """An order.* event with the snapshot notify_svc renders its mails from."""
    snapshot = {"user_id": ANN, "user_email": "ann@example.com", "items": copy.deepcopy(LINES),
                "total_cents": 124650, "currency": "USD", "correlation_id": "req-order",
                "shipping_address": dict(ANNS_ADDRESS)}
    return order_event(kind, order_id=order_id, **{**snapshot, **fields})


def an_order(**changes) -> dict:
    """The snapshot fields of an order event, as the templates get them."""
    return dict(vars(milestone(**changes)))


def rows(session):
    return list(session.scalars(select(Notification).order_by(Notification.channel)
                                .execution_options(populate_existing=True)))


def emitted(session):
    return [(r.event_type, r.payload) for r in session.scalars(select(Outbox).order_by(Outbox.id))]


def make_due(session):
    """Time passes: every scheduled retry is due now."""
    session.execute(update(Notification).where(Notification.next_attempt_at.is_not(None))
                    .values(next_attempt_at=utc_now() - timedelta(seconds=1)))
    session.commit()


def text_of(message):
    return message.get_body(("plain",)).get_content()


LINES = [{"sku": "TEA-SENCHA-100", "name": "Sencha <Premium>", "quantity": 2,
          "unit_price_cents": 61725},
         {"sku": "MUG", "name": "Mug", "quantity": 1, "unit_price_cents": 1200}]


class FakeMailer:
    """Records what would go over SMTP; `failing` makes each send raise it instead."""

    def __init__(self):
        self.sent = []
        self.failing: Exception | None = None
        self.during = None

    def send(self, message):
        if self.during:
            self.during()
        if self.failing is not None:
            raise self.failing
        self.sent.append(message)


@pytest.fixture(scope="session")
def notify_db_url():
    return migrated_database("notify_svc")


@pytest.fixture
def engine(notify_db_url):
    truncate_all(notify_db_url)
    engine = create_engine(notify_db_url)
    yield engine
    engine.dispose()


@pytest.fixture
def session(engine):
    with Session(engine, expire_on_commit=False) as session:
        yield session


@pytest.fixture
def mailer():
    return FakeMailer()


@pytest.fixture
def unit_config(base_config):
    return {**base_config, "NOTIFY_RETRY_DELAYS_S": [60, 120], "SMTP_TIMEOUT_S": 1,
            "PUBLIC_URL": "https://shop.example.com", "MAIL_FROM": "Shop <shop@example.com>",
            "SHOP_NAME": "Kettle & Co"}


@pytest.fixture
def make_worker(unit_config, mailer):
    """A NotifyService worker on `session`; the relay is a stand-in."""

    def make(session, mailer=mailer):
        return worker_factory(NotifyService, db=session, config=unit_config, mailer=mailer,
                              inbox=InboxClaim(Inbox, "unit"), correlation_id="cid")

    return make


@pytest.fixture
def notify(make_worker, session):
    return make_worker(session)
