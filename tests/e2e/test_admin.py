"""What the admin pages call, on the running cluster: orders by status with the
customer's email, the notification log with each recipient, and dead letters replayed
or purged one at a time while the others stay."""

import uuid

import pytest
from nameko.standalone.events import event_dispatcher

from common.testing import wait_for
from tests.e2e.test_orders import place, settled

pytestmark = pytest.mark.e2e

ADDRESS = {"name": "Ann Lee", "line1": "1 Tea Street", "city": "Leeds",
           "postal_code": "LS1 1AA", "country": "GB", "phone": "+44 113 496 0000"}


def me(cluster, headers):
    return cluster.get("/users/me", headers=headers).json()


def test_admins_list_orders_by_status_with_the_customer_email(cluster, customer, admin,
                                                              product):
    sku = product(stock=5)
    confirmed = place(cluster, customer, sku).json()
    declined = place(cluster, customer, sku, token="tok_declined").json()
    settled(cluster, customer, confirmed["id"], "CONFIRMED")
    settled(cluster, customer, declined["id"], "CANCELLED")
    email, user_id = me(cluster, customer)["email"], me(cluster, customer)["id"]

    cancelled = cluster.get("/orders", headers=admin, params={
        "status": "CANCELLED", "user_id": user_id}).json()["items"]
    assert [(o["id"], o["user_email"]) for o in cancelled] == [(declined["id"], email)]
    every = cluster.get("/orders", headers=admin, params={"user_id": user_id}).json()["items"]
    assert {o["id"] for o in every} == {confirmed["id"], declined["id"]}
    one = cluster.get(f"/orders/{confirmed['id']}", headers=admin).json()
    assert one["user_email"] == email
    # The customer's own answers stay the contract's, without the field.
    assert "user_email" not in cluster.get(f"/orders/{confirmed['id']}", headers=customer).json()
    bad = cluster.get("/orders", headers=admin, params={"status": "LOST"})
    assert bad.status_code == 400
    assert bad.json()["error"]["details"]["fields"][0]["field"] == "status"


def test_the_notification_log_names_each_recipient(cluster, customer, admin, product):
    sku = product(stock=2)
    order = cluster.post("/orders", headers=customer, json={
        "items": [{"sku": sku, "quantity": 1}], "shipping_address": ADDRESS}).json()
    settled(cluster, customer, order["id"], "SHIPPED")  # the news that goes by SMS too
    email = me(cluster, customer)["email"]

    def of_the_order():
        page = cluster.get("/admin/notifications", headers=admin, params={"limit": 100}).json()
        found = {n["channel"]: n for n in page["items"] if n["order_id"] == order["id"]
                 and n["kind"] == "order_shipped"}
        return found if {"email", "sms"} <= set(found) else None

    found = wait_for(of_the_order, timeout=30, message="the order's mail and SMS in the log")
    assert found["email"]["recipient"] == email
    assert found["sms"]["recipient"] == ADDRESS["phone"]
    assert found["email"]["user_id"] == me(cluster, customer)["id"]
    assert {"attempts", "last_error"} <= set(found["email"])


def letters_of(cluster, admin, event_ids):
    messages = cluster.get("/admin/dead-letters", headers=admin).json()[
        "services"]["notify_svc"]["messages"]
    return sorted(m["event_id"] for m in messages if m["event_id"] in event_ids)


def test_one_dead_letter_is_replayed_or_purged_and_the_others_stay(cluster, admin):
    # user.registered with a user_id that is no string: notify_svc can never take it.
    dispatch = event_dispatcher({"AMQP_URI": cluster.env["AMQP_URI"]})
    broken = sorted(str(uuid.uuid4()) for _ in range(2))
    for event_id in broken:
        dispatch("user_svc", "user.registered", {"event_type": "user.registered",
                                                 "event_id": event_id, "user_id": 42})
    wait_for(lambda: letters_of(cluster, admin, broken) == broken, timeout=30,
             message="both dead letters kept by notify_svc")
    first, second = broken
    base = "/admin/dead-letters/notify_svc"

    replayed = cluster.post(f"{base}/{first}/replay", headers=admin)
    assert replayed.status_code == 200 and replayed.json() == {"replayed": 1}
    # Still broken: it fails again and is kept again; the other one never moved.
    wait_for(lambda: letters_of(cluster, admin, broken) == broken, timeout=30,
             message="the replayed letter dead-lettered again")

    purged = cluster.delete(f"{base}/{first}", headers=admin)
    assert purged.status_code == 200 and purged.json() == {"purged": 1}
    assert letters_of(cluster, admin, broken) == [second]
    again = cluster.delete(f"{base}/{first}", headers=admin)
    assert again.status_code == 404 and again.json()["error"]["code"] == "not_found"
    assert cluster.post(f"{base}/{first}/replay", headers=admin).status_code == 404
    assert cluster.delete(f"/admin/dead-letters/nope_svc/{first}", headers=admin
                          ).status_code == 404

    assert cluster.delete(f"{base}/{second}", headers=admin).json() == {"purged": 1}
    assert letters_of(cluster, admin, broken) == []
