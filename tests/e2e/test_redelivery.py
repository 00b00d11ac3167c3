"""Invariant 5 end to end: every event of a saga delivered again changes nothing."""

import uuid

import pytest
import requests
from kombu import Connection
from nameko.containers import ServiceContainer
from nameko.events import event_handler
from nameko.standalone.events import event_dispatcher

from common.testing import wait_for
from tests.e2e.test_orders import payments_of, place, settled, stock_of

pytestmark = pytest.mark.e2e

SAGA = [("order_svc", "order.created"), ("order_svc", "order.confirmed"),
        ("order_svc", "order.cancelled"), ("inventory_svc", "inventory.reserved"),
        ("inventory_svc", "inventory.released"), ("payment_svc", "payment.succeeded"),
        ("payment_svc", "payment.refunded")]
recorded: list = []


def recorder_class():
    """A service that hears every event of the saga and keeps it for replay."""
    handlers = {}
    for n, (source, event_type) in enumerate(SAGA):
        def record(self, payload, source=source):
            recorded.append((source, payload))
        handlers[f"record_{n}"] = event_handler(source, event_type)(record)
    return type("Recorder", (), {"name": "e2e_recorder", **handlers})


@pytest.fixture
def recorder(cluster):
    recorded.clear()
    container = ServiceContainer(recorder_class(), {"AMQP_URI": cluster.env["AMQP_URI"]})
    container.start()
    yield recorded
    container.stop()


def event_queues(cluster):
    api = cluster.env.get("RABBIT_MANAGEMENT_URI", "http://guest:guest@127.0.0.1:15672/")
    vhost = cluster.env["AMQP_URI"].rsplit("/", 1)[1]
    names = [q["name"] for q in requests.get(f"{api.rstrip('/')}/api/queues/{vhost}",
                                             timeout=5).json()]
    return [n for n in names if n.startswith("evt-") and ".retry." not in n]


def all_drained(cluster) -> bool:
    with Connection(cluster.env["AMQP_URI"]) as conn:
        channel = conn.channel()
        return all(channel.queue_declare(q, passive=True).message_count == 0
                   for q in event_queues(cluster))


def state(cluster, headers, admin, order_id, sku):
    order = cluster.get(f"/orders/{order_id}", headers=headers).json()
    timeline = cluster.get(f"/orders/{order_id}/timeline", headers=headers).json()["items"]
    return {"order": order, "timeline": len(timeline), "stock": stock_of(cluster, admin, sku),
            "payments": payments_of(cluster, admin, order_id)}


def test_a_redelivered_saga_makes_no_second_effect(cluster, customer, admin, recorder):
    sku = f"E2E-{uuid.uuid4().hex[:8].upper()}"
    cluster.post("/products", headers=admin, json={"sku": sku, "name": "Redelivered",
                                                  "price_cents": 700, "stock": 5})
    order = place(cluster, customer, sku, quantity=2).json()
    settled(cluster, customer, order["id"], "CONFIRMED")
    cluster.post(f"/orders/{order['id']}/cancel", headers=customer)
    wait_for(lambda: stock_of(cluster, admin, sku)["on_hand"] == 5
             and payments_of(cluster, admin, order["id"])[0]["status"] == "REFUNDED",
             message="restock and refund")
    wait_for(lambda: {p["event_type"] for _, p in recorded} == {t for _, t in SAGA},
             message="every saga event recorded")
    before = state(cluster, customer, admin, order["id"], sku)

    dispatch = event_dispatcher({"AMQP_URI": cluster.env["AMQP_URI"]})
    mine = [(s, p) for s, p in recorded if p["order_id"] == order["id"]]
    for source, payload in mine:  # the same event ids, all over again
        dispatch(source, payload["event_type"], payload)
    # A fresh order behind the duplicates: when it is through, so are they.
    sentinel = place(cluster, customer, sku).json()
    settled(cluster, customer, sentinel["id"], "CONFIRMED")
    wait_for(lambda: all_drained(cluster), message="every event queue drained")

    expected = before
    expected["stock"]["on_hand"] -= 1  # the sentinel's unit, and nothing else
    expected["stock"]["available"] -= 1
    assert len(mine) >= 7
    wait_for(lambda: state(cluster, customer, admin, order["id"], sku) == expected,
             message="the state as before the duplicates (but for the sentinel)")
    assert payments_of(cluster, admin, order["id"])[0]["refunded_cents"] == 1400
