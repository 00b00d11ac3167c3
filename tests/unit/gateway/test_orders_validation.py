"""Input checks of the order routes and GET /admin/payments: each names the bad field,
and nothing invalid reaches a service."""

from __future__ import annotations

import pytest

from tests.unit.gateway.orders_support import NEW_ORDER, ORDER_ANSWER, ORDER_ID
from tests.unit.gateway.support import bearer, error_of, fields_of

LINE = {"sku": "MUG-1", "quantity": 1}


@pytest.fixture
def config(config):
    config["MAX_BODY_BYTES"] = 16 * 1024  # room for 51 order lines
    return config


@pytest.fixture
def customer(make_token):
    return bearer(make_token())


@pytest.fixture
def admin(make_token):
    return bearer(make_token(role="admin"))


def _order(client, customer, body=None, key=None):
    headers = customer if key is None else {**customer, "Idempotency-Key": key}
    return client.post("/orders", json=NEW_ORDER if body is None else body, headers=headers)


# Idempotency-Key


@pytest.mark.parametrize("key", ["", "k" * 256, "café", "clé-\u20ac", "a\x01b", "a\tb",
                                 "a\x7fb"])
def test_a_bad_idempotency_key_is_400(client, rpc, customer, key):
    response = _order(client, customer, key=key)
    assert fields_of(response) == {"Idempotency-Key"}
    assert "Idempotency-Key" in error_of(response)["message"]
    assert rpc.calls == []


@pytest.mark.parametrize("key", ["k", "k" * 255, " !~", "550e8400-e29b-41d4-a716-446655440000"])
def test_idempotency_key_boundaries_pass(client, rpc, customer, key):
    rpc.answers[("order_svc", "create_order")] = ORDER_ANSWER
    assert _order(client, customer, key=key).status_code == 201
    assert rpc.last().kwargs["idempotency_key"] == key


# POST /orders body


@pytest.mark.parametrize(("body", "fields"), [
    ({}, {"items"}),
    ({"items": []}, {"items"}),
    ({"items": [LINE] * 51}, {"items"}),
    ({"items": None}, {"items"}),
    ({"items": LINE}, {"items"}),
    ({"items": [LINE, "MUG-1"]}, {"items.1"}),
    ({"items": [{"sku": "MUG-1"}]}, {"items.0.quantity"}),
    ({"items": [{"quantity": 1}]}, {"items.0.sku"}),
    ({"items": [{**LINE, "quantity": 0}]}, {"items.0.quantity"}),
    ({"items": [{**LINE, "quantity": -1}]}, {"items.0.quantity"}),
    ({"items": [{**LINE, "quantity": 1001}]}, {"items.0.quantity"}),
    ({"items": [{**LINE, "quantity": True}]}, {"items.0.quantity"}),
    ({"items": [{**LINE, "quantity": "2"}]}, {"items.0.quantity"}),
    ({"items": [{**LINE, "quantity": 2.0}]}, {"items.0.quantity"}),
    ({"items": [LINE, {**LINE, "sku": "-MUG"}]}, {"items.1.sku"}),
    ({"items": [{**LINE, "sku": "A" * 65}]}, {"items.0.sku"}),
    ({"items": [{**LINE, "sku": "MUG 1"}]}, {"items.0.sku"}),
    ({"items": [{**LINE, "sku": 7}]}, {"items.0.sku"}),
    ({"items": [{**LINE, "price_cents": 1}]}, {"items.0.price_cents"}),
    ({**NEW_ORDER, "user_id": ORDER_ID}, {"user_id"}),
    ({**NEW_ORDER, "payment": {}}, {"payment.token"}),
    ({**NEW_ORDER, "payment": "tok_ok"}, {"payment"}),
    ({**NEW_ORDER, "payment": {"token": 5}}, {"payment.token"}),
    ({**NEW_ORDER, "payment": {"token": ["tok_ok"]}}, {"payment.token"}),
    ({**NEW_ORDER, "payment": {"token": ""}}, {"payment.token"}),
    ({**NEW_ORDER, "payment": {"token": "t" * 65}}, {"payment.token"}),
    ({**NEW_ORDER, "payment": {"token": "tok\nok"}}, {"payment.token"}),
    ({**NEW_ORDER, "payment": {"token": "tok_ok", "cvc": "123"}}, {"payment.cvc"}),
])
def test_a_bad_order_body_names_its_fields(client, rpc, customer, body, fields):
    assert fields_of(_order(client, customer, body)) == fields
    assert rpc.calls == []


def test_every_bad_line_is_named_at_once(client, customer):
    body = {"items": [{"sku": "", "quantity": 0}, LINE, {"sku": "X", "quantity": "1"}]}
    assert fields_of(_order(client, customer, body)) == {
        "items.0.sku", "items.0.quantity", "items.2.quantity"}


def test_order_boundaries_pass(client, rpc, customer):
    rpc.answers[("order_svc", "create_order")] = ORDER_ANSWER
    body = {"items": [{"sku": "A" * 64, "quantity": 1000}] * 50,
            "payment": {"token": "t" * 64}}
    assert _order(client, customer, body).status_code == 201
    assert len(rpc.last().kwargs["items"]) == 50


def test_an_order_needs_a_json_body(client, rpc, customer):
    response = client.post("/orders", data="items=1", headers=customer,
                           content_type="application/x-www-form-urlencoded")
    assert response.status_code == 415
    assert fields_of(client.post("/orders", headers=customer)) == {"items"}
    response = client.post("/orders", data="[]", headers=customer,
                           content_type="application/json")
    assert fields_of(response) == {"body"}
    assert rpc.calls == []


# POST /orders/{id}/cancel body


@pytest.mark.parametrize(("kwargs", "status"), [
    ({"json": {"reason": "changed my mind"}}, 400), ({"json": []}, 400),
    ({"data": "please", "content_type": "text/plain"}, 415),
])
def test_cancel_takes_no_fields(client, rpc, customer, kwargs, status):
    response = client.post(f"/orders/{ORDER_ID}/cancel", headers=customer, **kwargs)
    assert response.status_code == status
    assert rpc.calls == []


# Query strings


@pytest.mark.parametrize(("query", "fields"), [
    ("limit=0", {"limit"}), ("limit=101", {"limit"}), ("limit=x", {"limit"}),
    ("cursor=" + "c" * 201, {"cursor"}), ("user_id=42", {"user_id"}),
    ("user_id=" + ORDER_ID[:-1], {"user_id"}), ("user_id=x&limit=0", {"user_id", "limit"}),
])
def test_a_bad_order_list_query_is_400(client, rpc, admin, customer, query, fields):
    assert fields_of(client.get("/orders?" + query, headers=admin)) == fields
    assert fields_of(client.get("/orders?" + query, headers=customer)) == fields
    assert rpc.calls == []


@pytest.mark.parametrize(("query", "fields"), [
    ("order_id=42", {"order_id"}), ("order_id=" + ORDER_ID + "0", {"order_id"}),
    ("limit=101", {"limit"}), ("order_id=x&limit=0", {"order_id", "limit"}),
])
def test_a_bad_payment_query_is_400(client, rpc, admin, query, fields):
    response = client.get("/admin/payments?" + query, headers=admin)
    assert fields_of(response) == fields
    assert error_of(response)["message"] == "query string is not valid"
    assert rpc.calls == []
