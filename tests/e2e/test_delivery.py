"""Delivery closes the loop: confirmed orders ship, arrive, and the customer hears of it."""

import email
import email.policy
import time
import uuid
from datetime import UTC, datetime, timedelta

import eventlet
import pytest

from common.testing import wait_for
from tests.e2e.test_orders import place, settled

pytestmark = pytest.mark.e2e


@pytest.fixture
def sku(cluster, admin):
    import uuid
    sku = f"E2E-{uuid.uuid4().hex[:8].upper()}"
    assert cluster.post("/products", headers=admin, json={
        "sku": sku, "name": "Parcel", "price_cents": 1000, "stock": 10}).status_code == 201
    return sku


def mails_about(cluster, order_id):
    """Subjects of the emails in the sink that mention the order."""
    found = []
    for path in sorted(cluster.mail_dir.glob("*.eml")):
        message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
        if order_id in message.get_body(("plain",)).get_content():
            found.append(message["subject"])
    return found


def timeline_types(cluster, headers, order_id):
    return [e["type"] for e in cluster.get(f"/orders/{order_id}/timeline", headers=headers
                                           ).json()["items"]]


def test_an_order_is_shipped_and_delivered_with_a_mail_for_each_step(cluster, customer, sku):
    order = place(cluster, customer, sku).json()
    shipped = settled(cluster, customer, order["id"], "SHIPPED")
    assert shipped["shipment"]["status"] in ("SHIPPED", "DELIVERED")
    assert shipped["shipment"]["carrier"] and shipped["shipment"]["tracking_number"]
    delivered = settled(cluster, customer, order["id"], "DELIVERED")
    assert delivered["shipment"]["status"] == "DELIVERED"
    types = timeline_types(cluster, customer, order["id"])
    for step in ("order.confirmed", "delivery.shipped", "order.shipped",
                 "delivery.delivered", "order.delivered"):
        assert types.count(step) == 1, types
    short = order["id"][:8]
    wait_for(lambda: len(mails_about(cluster, order["id"])) == 3, timeout=20,
             message="confirmed, shipped and delivered mails")
    subjects = mails_about(cluster, order["id"])
    assert all(short in s for s in subjects)


def test_delivery_svc_killed_between_shipping_and_delivery_delivers_once(cluster, customer,
                                                                         sku):
    order = place(cluster, customer, sku).json()
    settled(cluster, customer, order["id"], "SHIPPED")
    delivery = cluster.processes["delivery_svc"]
    delivery.kill()  # SIGKILL: no goodbye
    try:
        # Let the delivery time pass while it is down: nothing can move meanwhile.
        shipped_at = next(datetime.fromisoformat(e["at"]) for e in cluster.get(
            f"/orders/{order['id']}/timeline", headers=customer).json()["items"]
            if e["type"] == "delivery.shipped")
        due = shipped_at + timedelta(seconds=float(cluster.env["DELIVERY_DELIVER_AFTER_S"]))
        wait_for(lambda: datetime.now(UTC) > due + timedelta(seconds=0.5), timeout=10,
                 message="the delivery time, passed while delivery_svc is down")
        assert cluster.get(f"/orders/{order['id']}", headers=customer
                           ).json()["status"] == "SHIPPED"
    finally:
        delivery.start()
    settled(cluster, customer, order["id"], "DELIVERED")
    cluster.wait_ready()
    types = timeline_types(cluster, customer, order["id"])
    assert types.count("delivery.delivered") == 1 and types.count("order.delivered") == 1
    wait_for(lambda: len(mails_about(cluster, order["id"])) == 3, timeout=20,
             message="one mail per step")
    assert sorted(len(s) > 0 for s in mails_about(cluster, order["id"])) == [True] * 3


def test_cancel_before_shipping_means_no_shipment_and_after_it_a_409(cluster, customer, sku):
    early = place(cluster, customer, sku).json()
    settled(cluster, customer, early["id"], "CONFIRMED")
    cancelled = cluster.post(f"/orders/{early['id']}/cancel", headers=customer).json()
    assert cancelled["status"] == "CANCELLED" and cancelled["shipment"] is None

    late = place(cluster, customer, sku).json()
    settled(cluster, customer, late["id"], "SHIPPED")
    refused = cluster.post(f"/orders/{late['id']}/cancel", headers=customer)
    assert refused.status_code == 409 and refused.json()["error"]["code"] == "conflict"

    # The early order's parcel never leaves, even after its ship time.
    settled(cluster, customer, late["id"], "DELIVERED")
    assert "delivery.shipped" not in timeline_types(cluster, customer, early["id"])
    assert cluster.get(f"/orders/{early['id']}", headers=customer).json()["shipment"] is None


def test_a_cancel_racing_the_ship_step_is_all_or_nothing(cluster, customer, admin):
    # Cancels sent within ~0.6 s of each parcel's ship time (DELIVERY_SHIP_AFTER_S = 5 s
    # after the confirmation) once left orders CANCELLED, refunded and restocked whose
    # timeline then showed delivery.shipped (8 of 8 runs of 20). Now a 202 means the
    # parcel never left, and a parcel that left means a 409 and a delivered order.
    sku = f"RACE-{uuid.uuid4().hex[:8].upper()}"
    assert cluster.post("/products", headers=admin, json={
        "sku": sku, "name": "Parcel", "price_cents": 1000, "stock": 40}).status_code == 201
    orders = [place(cluster, customer, sku).json()["id"] for _ in range(20)]
    confirmed_at = {}
    for order_id in orders:
        settled(cluster, customer, order_id, "CONFIRMED")
        timeline = cluster.get(f"/orders/{order_id}/timeline", headers=customer).json()
        paid = next(e["at"] for e in timeline["items"] if e["type"] == "payment.succeeded")
        confirmed_at[order_id] = datetime.fromisoformat(paid).timestamp()
    answers = {}

    def cancel_near_ship_time(n, order_id):
        # From 0.6 s before the ship time to 0.6 s after, one order every 0.06 s.
        eventlet.sleep(max(0.0, confirmed_at[order_id] + 5.0 - 0.6 + 0.06 * n - time.time()))
        answers[order_id] = cluster.post(f"/orders/{order_id}/cancel",
                                         headers=customer).status_code

    pool = eventlet.GreenPool(20)
    for n, order_id in enumerate(orders):
        pool.spawn(cancel_near_ship_time, n, order_id)
    pool.waitall()
    assert set(answers.values()) <= {200, 202, 409}, answers
    for order_id, code in answers.items():
        if code == 409:
            final = settled(cluster, customer, order_id, "DELIVERED")
            assert final["payment"]["refunded_cents"] in (0, None), final
        else:
            final = cluster.get(f"/orders/{order_id}", headers=customer).json()
            assert final["status"] == "CANCELLED", final
            assert "delivery.shipped" not in timeline_types(cluster, customer, order_id)
            shipment = cluster.get(f"/orders/{order_id}", headers=customer).json()["shipment"]
            assert shipment is None or shipment["status"] == "CANCELLED", shipment
