"""payment_svc on the real broker: order and inventory events in, payment events out."""

import dataclasses

import pytest
from nameko.events import event_handler as plain_nameko_handler
from nameko.standalone.events import event_dispatcher
from nameko.standalone.rpc import ServiceRpcProxy
from nameko.testing.utils import get_extension
from sqlalchemy import create_engine, func, select
from sqlalchemy.orm import Session

from common import events
from common.testing import migrated_database, order_event, truncate_all, wait_for
from payment_svc.models import Inbox, Outbox
from payment_svc.provider import Provider
from payment_svc.service import PaymentService

pytestmark = pytest.mark.integration

heard: list = []


class PaymentListener:
    """Stands in for order_svc: records what payment_svc announces."""

    name = "listener_svc"

    @plain_nameko_handler("payment_svc", "payment.succeeded")
    def on_succeeded(self, payload):
        heard.append(payload)

    @plain_nameko_handler("payment_svc", "payment.failed")
    def on_failed(self, payload):
        heard.append(payload)

    @plain_nameko_handler("payment_svc", "payment.refunded")
    def on_refunded(self, payload):
        heard.append(payload)


@pytest.fixture(scope="module")
def payment_db_url():
    return migrated_database("payment_svc")


@pytest.fixture
def config(rabbit_config, base_config, payment_db_url):
    truncate_all(payment_db_url)
    heard.clear()
    return {**base_config, "AMQP_URI": rabbit_config["AMQP_URI"],
            "DB_URIS": {"payment_svc:Base": payment_db_url},
            "EVENT_MAX_ATTEMPTS": 3, "EVENT_RETRY_DELAYS_MS": [50, 100],
            "PAYMENT_RETRY_DELAYS_MS": [10, 20, 40], "PAYMENT_SLOW_S": 0.2,
            "OUTBOX_POLL_INTERVAL_S": 0.2}


@pytest.fixture
def provider(container_factory, config):
    """Starts the listener and payment_svc; gives the service's MockProvider."""
    container_factory(PaymentListener, config).start()
    container = container_factory(PaymentService, config)
    container.start()
    return get_extension(container, Provider).provider


@pytest.fixture
def db(payment_db_url):
    engine = create_engine(payment_db_url)
    with Session(engine) as session:
        yield session
    engine.dispose()


def dispatch(config, event):
    event_dispatcher(config)(event.SOURCE, event.TYPE, event.to_payload())


def place(config, order_id, token="tok_ok", total=1250):
    """What order_svc and inventory_svc announce for an order whose stock is held."""
    dispatch(config, order_event(events.OrderCreated,
            order_id=order_id, user_id="u1", user_email="ann@example.com",
        items=[{"sku": "TEA", "name": "Tea", "quantity": 1, "unit_price_cents": total}],
        total_cents=total, currency="USD", payment_token=token, correlation_id="req-1"))
    dispatch(config, events.InventoryReserved(
        order_id=order_id, reservation_id=f"r-{order_id}", items=[{"sku": "TEA", "quantity": 1}],
        expires_at="2030-01-01T00:00:00+00:00", correlation_id="req-1"))


def heard_types(order_id):
    return [p["event_type"] for p in heard if p["order_id"] == order_id]


def test_a_reserved_order_is_charged_and_announced(config, provider):
    place(config, "o1")
    wait_for(lambda: heard_types("o1") == ["payment.succeeded"], message="payment.succeeded")
    assert (heard[0]["amount_cents"], heard[0]["correlation_id"]) == (1250, "req-1")
    with ServiceRpcProxy("payment_svc", config, timeout=10) as payments:
        payment = payments.get_payment("o1")
        assert (payment["status"], payment["attempts"]) == ("CAPTURED", 1)
        assert payment["id"] == heard[0]["payment_id"]
        assert payments.list_payments(order_id="o1")["items"] == [payment]
        assert payments.health() == {"status": "ok", "service": "payment_svc"}
    assert provider.captures_for("o1") == 1


def test_a_flaky_provider_is_retried_and_charges_once(config, provider):
    place(config, "o2", token="tok_flaky")
    wait_for(lambda: heard_types("o2") == ["payment.succeeded"], message="payment.succeeded")
    assert provider.captures_for("o2") == 1 and provider.charge_calls("o2") == 3
    with ServiceRpcProxy("payment_svc", config, timeout=10) as payments:
        assert payments.get_payment("o2")["attempts"] == 3


def test_a_declined_card_is_announced_as_failed(config, provider):
    place(config, "o3", token="tok_declined")
    wait_for(lambda: heard_types("o3") == ["payment.failed"], message="payment.failed")
    assert heard[0]["reason"] == "payment_declined"
    assert provider.captures_for("o3") == 0


def test_a_cancelled_capture_is_refunded_once(config, provider, db):
    place(config, "o4", token="tok_slow")
    wait_for(lambda: heard_types("o4") == ["payment.succeeded"], message="payment.succeeded")
    cancel = order_event(events.OrderCancelled, order_id="o4", user_id="u1", user_email="a@b.c",
                                   reason="customer_request", previous_status="CONFIRMED")
    again = dataclasses.replace(cancel, event_id="another-cancel-id")
    for event in (cancel, cancel, again):
        dispatch(config, event)
    wait_for(lambda: heard_types("o4") == ["payment.succeeded", "payment.refunded"],
             message="payment.refunded")
    wait_for(lambda: set(db.scalars(select(Inbox.event_id).where(Inbox.handler == "refund")))
             == {cancel.event_id, again.event_id}, message="both cancels handled")
    refunds = db.scalar(select(func.count()).select_from(Outbox)
                        .where(Outbox.event_type == "payment.refunded"))
    assert refunds == 1 and heard_types("o4").count("payment.refunded") == 1
    assert provider.refunds_for("refund-o4") == 1
    with ServiceRpcProxy("payment_svc", config, timeout=10) as payments:
        payment = payments.get_payment("o4")
        assert (payment["status"], payment["refunded_cents"]) == ("REFUNDED", 1250)
        assert payments.list_dead_letters()["count"] == 0
