"""The order routes and GET /admin/payments: RPC arguments, scoping, answer shapes, errors.

Input validation (Idempotency-Key, bodies, query strings) is in test_orders_validation.py.
"""

from __future__ import annotations

import pytest

from common.errors import ServiceUnavailable, UpstreamTimeout
from order_svc.exceptions import (
    IdempotencyKeyReused,
    InvalidOrder,
    OrderNotCancellable,
    OrderNotFound,
    PricesChanged,
)
from tests.unit.gateway.orders_support import (
    EVENT,
    NEW_ORDER,
    ORDER,
    ORDER_ANSWER,
    ORDER_ID,
    OTHER_USER_ID,
    PAID_ANSWER,
    PAID_ORDER,
    PAYMENT,
    PAYMENT_ANSWER,
    USER_ID,
)
from tests.unit.gateway.support import bearer, error_of

# (method, path with {} for the order id, order_svc method)
ONE_ORDER_ROUTES = [
    ("get", "/orders/{}", "get_order"),
    ("get", "/orders/{}/timeline", "get_timeline"),
    ("post", "/orders/{}/cancel", "cancel_order"),
]


@pytest.fixture
def customer(make_token):
    return bearer(make_token())


@pytest.fixture
def admin(make_token):
    return bearer(make_token(role="admin", subject=OTHER_USER_ID))


@pytest.fixture
def answers(rpc):
    rpc.answers.update({
        ("order_svc", "create_order"): ORDER_ANSWER,
        ("order_svc", "get_order"): PAID_ANSWER,
        ("order_svc", "list_orders"): {"items": [PAID_ANSWER, ORDER_ANSWER],
                                       "next_cursor": "c-2", "total": 2},
        ("order_svc", "get_timeline"): {"items": [{**EVENT, "event_id": "e-1"}],
                                        "order_id": ORDER_ID},
        ("order_svc", "cancel_order"): {**ORDER_ANSWER, "status": "CANCELLED",
                                        "cancel_reason": "customer_request"},
        ("payment_svc", "list_payments"): {"items": [PAYMENT_ANSWER], "next_cursor": None},
    })
    return rpc


def _error(response, status, code):
    assert response.status_code == status, response.data
    error = error_of(response)
    assert error["code"] == code
    return error


# POST /orders


def test_create_answers_201_with_the_order_and_location(client, answers, customer):
    response = client.post("/orders", json=NEW_ORDER, headers=customer)
    assert response.status_code == 201
    assert response.get_json() == ORDER
    assert list(response.get_json()) == list(ORDER)
    assert response.headers["Location"] == f"/orders/{ORDER_ID}"
    call = answers.last()
    assert (call.service, call.method) == ("order_svc", "create_order")
    key = call.kwargs.pop("idempotency_key")
    assert call.kwargs == {"user_id": USER_ID, "user_email": "ann@example.com",
                           "items": [{"sku": "MUG-1", "quantity": 2}],
                           "payment_token": "tok_ok"}
    assert call.correlation_id == response.headers["X-Request-ID"]
    # No client key: the request gets one of its own, so a redelivered RPC makes no
    # second order; and another request gets another key.
    assert key.startswith("auto-")
    client.post("/orders", json=NEW_ORDER, headers=customer)
    assert answers.last().kwargs["idempotency_key"] not in (key, None)


def test_a_price_change_is_409_price_changed_with_todays_prices(client, answers, customer):
    today = {"total_cents": 1000, "items": [{"sku": "MUG-1", "unit_price_cents": 500}]}
    answers.answers[("order_svc", "create_order")] = PricesChanged("prices changed", today)
    response = client.post("/orders", json={**NEW_ORDER, "expected_total_cents": 900},
                           headers=customer)
    assert response.status_code == 409
    error = error_of(response)
    assert error["code"] == "price_changed" and error["details"] == today
    assert answers.last().kwargs["expected_total_cents"] == 900


@pytest.mark.parametrize("bad", [-1, "900", 9.5, None])
def test_an_expected_total_must_be_whole_cents(client, answers, customer, bad):
    body = {**NEW_ORDER, "expected_total_cents": bad}
    response = client.post("/orders", json=body, headers=customer)
    if bad is None:  # null is "not given"
        assert response.status_code == 201
        assert "expected_total_cents" not in answers.last().kwargs
    else:
        assert response.status_code == 400
        assert "expected_total_cents" in str(error_of(response)["details"])


def test_a_shipping_address_is_passed_on_and_a_malformed_one_is_400(client, answers,
                                                                     customer):
    address = {"name": "Ann", "line1": "1 Tea St", "city": "Leeds", "postal_code": "LS1",
               "country": "GB"}
    assert client.post("/orders", json={**NEW_ORDER, "shipping_address": address},
                       headers=customer).status_code == 201
    assert answers.last().kwargs["shipping_address"] == {**address, "line2": None,
                                                         "phone": None}
    for bad in ({**address, "country": "GBR"}, {**address, "city": ""}, {"name": "Ann"},
                {**address, "floor": 3}):
        response = client.post("/orders", json={**NEW_ORDER, "shipping_address": bad},
                               headers=customer)
        assert response.status_code == 400, bad
        assert "shipping_address" in str(error_of(response)["details"])


def test_create_passes_the_token_the_lines_and_the_key(client, answers, customer):
    body = {"items": [{"sku": "MUG-1", "quantity": 1}, {"sku": "a.b_c-9", "quantity": 1000}],
            "payment": {"token": "tok_declined"}}
    headers = {**customer, "Idempotency-Key": "order 1 ~ retry!"}
    assert client.post("/orders", json=body, headers=headers).status_code == 201
    assert answers.last().kwargs == {
        "user_id": USER_ID, "user_email": "ann@example.com", "items": body["items"],
        "payment_token": "tok_declined", "idempotency_key": "order 1 ~ retry!"}
    client.post("/orders", json={**NEW_ORDER, "payment": None}, headers=customer)
    assert answers.last().kwargs["payment_token"] == "tok_ok"


def test_an_admin_user_may_order_too(client, answers, admin):
    assert client.post("/orders", json=NEW_ORDER, headers=admin).status_code == 201
    assert answers.last().kwargs["user_id"] == OTHER_USER_ID


@pytest.mark.parametrize("role", ["client", "admin"])
def test_api_clients_cannot_place_orders(client, answers, make_token, role):
    headers = bearer(make_token(role=role, kind="client"))
    _error(client.post("/orders", json=NEW_ORDER, headers=headers), 403, "forbidden")
    assert answers.calls == []


def test_unknown_skus_are_400_with_the_skus(client, answers, customer):
    answers.answers[("order_svc", "create_order")] = InvalidOrder(
        "unknown skus", {"unknown_skus": ["NOPE-1"]})
    error = _error(client.post("/orders", json=NEW_ORDER, headers=customer), 400,
                   "validation_error")
    assert error["details"] == {"unknown_skus": ["NOPE-1"]}


def test_a_reused_idempotency_key_is_422(client, answers, customer):
    answers.answers[("order_svc", "create_order")] = IdempotencyKeyReused("key reused")
    headers = {**customer, "Idempotency-Key": "k-1"}
    error = _error(client.post("/orders", json=NEW_ORDER, headers=headers), 422,
                   "idempotency_conflict")
    assert error["message"] == "key reused"


@pytest.mark.parametrize(("exc", "status", "code"), [
    (UpstreamTimeout("inventory_svc did not answer"), 504, "upstream_timeout"),
    (ServiceUnavailable("inventory_svc is not running"), 503, "service_unavailable"),
])
def test_create_maps_an_unreachable_inventory(client, answers, customer, exc, status, code):
    answers.answers[("order_svc", "create_order")] = exc
    _error(client.post("/orders", json=NEW_ORDER, headers=customer), status, code)


# GET /orders


def test_a_customer_lists_their_own_orders(client, answers, customer):
    response = client.get("/orders", headers=customer)
    assert response.status_code == 200
    assert response.get_json() == {"items": [PAID_ORDER, ORDER], "next_cursor": "c-2"}
    call = answers.last()
    assert (call.service, call.method) == ("order_svc", "list_orders")
    assert call.kwargs == {"user_id": USER_ID, "limit": 20, "cursor": None}
    client.get(f"/orders?user_id={USER_ID.upper()}&limit=5&cursor=c-2", headers=customer)
    assert answers.last().kwargs == {"user_id": USER_ID, "limit": 5, "cursor": "c-2"}


def test_a_customer_cannot_list_someone_elses_orders(client, answers, customer):
    response = client.get(f"/orders?user_id={OTHER_USER_ID}", headers=customer)
    _error(response, 403, "forbidden")
    assert answers.calls == []


@pytest.mark.parametrize(("query", "user_id"), [
    ("", None), ("?user_id=", None), (f"?user_id={USER_ID}", USER_ID),
])
@pytest.mark.parametrize("kind", ["user", "client"])
def test_admins_list_everyones_or_one_users_orders(client, answers, make_token, query,
                                                   user_id, kind):
    headers = bearer(make_token(role="admin", kind=kind,
                                 subject=OTHER_USER_ID if kind == "user" else None))
    response = client.get("/orders" + query, headers=headers)
    assert response.status_code == 200
    assert answers.last().kwargs == {"user_id": user_id, "limit": 20, "cursor": None}


def test_admins_filter_by_status_and_see_the_customer_email(client, answers, admin):
    answers.answers[("order_svc", "list_orders")] = {
        "items": [{**PAID_ANSWER, "user_email": "ann@example.com"}], "next_cursor": None}
    response = client.get("/orders?status=CONFIRMED", headers=admin)
    assert response.status_code == 200
    assert response.get_json()["items"] == [{**PAID_ORDER, "user_email": "ann@example.com"}]
    assert answers.last().kwargs == {"user_id": None, "limit": 20, "cursor": None,
                                     "status": "CONFIRMED"}
    client.get("/orders?status=", headers=admin)
    assert "status" not in answers.last().kwargs


def test_a_customer_never_gets_the_email_field(client, answers, customer):
    answers.answers[("order_svc", "get_order")] = {**PAID_ANSWER, "user_email": "a@b.c"}
    assert client.get(f"/orders/{ORDER_ID}", headers=customer).get_json() == PAID_ORDER


def test_an_unknown_status_is_a_400_without_rpc(client, answers, admin):
    error = _error(client.get("/orders?status=LOST", headers=admin), 400, "validation_error")
    assert error["details"]["fields"][0]["field"] == "status"
    assert answers.calls == []


# GET /orders/{id}, /timeline, POST /cancel


def test_get_order_shapes_the_nested_blocks(client, answers, customer):
    response = client.get(f"/orders/{ORDER_ID}", headers=customer)
    assert response.status_code == 200
    assert response.get_json() == PAID_ORDER
    assert answers.last().kwargs == {"order_id": ORDER_ID, "user_id": USER_ID}


def test_timeline_answers_the_events(client, answers, customer):
    response = client.get(f"/orders/{ORDER_ID}/timeline", headers=customer)
    assert response.status_code == 200
    assert response.get_json() == {"items": [EVENT]}
    call = answers.last()
    assert (call.method, call.kwargs) == ("get_timeline",
                                          {"order_id": ORDER_ID, "user_id": USER_ID})


@pytest.mark.parametrize("kwargs", [{}, {"json": {}}])
def test_cancel_answers_202_with_the_order(client, answers, customer, kwargs):
    response = client.post(f"/orders/{ORDER_ID}/cancel", headers=customer, **kwargs)
    assert response.status_code == 202
    assert response.get_json() == {**ORDER, "status": "CANCELLED",
                                   "cancel_reason": "customer_request"}
    call = answers.last()
    assert (call.method, call.kwargs) == ("cancel_order",
                                          {"order_id": ORDER_ID, "user_id": USER_ID})


@pytest.mark.parametrize(("method", "path", "rpc_method"), ONE_ORDER_ROUTES)
def test_admins_are_not_scoped_and_ids_are_lowercased(client, answers, admin, method, path,
                                                      rpc_method):
    response = getattr(client, method)(path.format(ORDER_ID.upper()), headers=admin)
    assert response.status_code in (200, 202), response.data
    call = answers.last()
    assert (call.method, call.kwargs) == (rpc_method, {"order_id": ORDER_ID, "user_id": None})


@pytest.mark.parametrize(("method", "path", "rpc_method"), ONE_ORDER_ROUTES)
def test_an_unknown_or_foreign_order_is_404(client, answers, customer, method, path,
                                            rpc_method):
    answers.answers[("order_svc", rpc_method)] = OrderNotFound("no such order")
    _error(getattr(client, method)(path.format(ORDER_ID), headers=customer), 404, "not_found")
    assert answers.last().kwargs == {"order_id": ORDER_ID, "user_id": USER_ID}


@pytest.mark.parametrize("order_id", ["42", "not-a-uuid", ORDER_ID[:-1], ORDER_ID + "0",
                                      ORDER_ID.replace("-", ""), "{" + ORDER_ID + "}",
                                      ORDER_ID.replace("3", "g", 1), "%20" + ORDER_ID])
@pytest.mark.parametrize(("method", "path", "rpc_method"), ONE_ORDER_ROUTES)
def test_an_id_that_is_no_uuid_is_404_without_rpc(client, answers, admin, order_id, method,
                                                  path, rpc_method):
    _error(getattr(client, method)(path.format(order_id), headers=admin), 404, "not_found")
    assert answers.calls == []


def test_cancelling_too_late_is_409(client, answers, customer):
    answers.answers[("order_svc", "cancel_order")] = OrderNotCancellable("already shipped")
    _error(client.post(f"/orders/{ORDER_ID}/cancel", headers=customer), 409, "conflict")


# Who may call


@pytest.mark.parametrize(("method", "path"), [
    ("post", "/orders"), ("get", "/orders"), ("get", "/admin/payments"),
    *[(method, path.format(ORDER_ID)) for method, path, _ in ONE_ORDER_ROUTES],
])
def test_every_route_needs_a_token(client, answers, method, path):
    response = getattr(client, method)(path, json=NEW_ORDER if path == "/orders" else None)
    _error(response, 401, "unauthorized")
    assert response.headers["WWW-Authenticate"] == "Bearer"
    assert answers.calls == []


@pytest.mark.parametrize(("method", "path"), [
    ("get", "/orders"), *[(method, path.format(ORDER_ID)) for method, path, _ in ONE_ORDER_ROUTES],
])
def test_plain_api_clients_have_no_orders(client, answers, make_token, method, path):
    headers = bearer(make_token(role="client", kind="client"))
    _error(getattr(client, method)(path, headers=headers), 403, "forbidden")
    assert answers.calls == []


# GET /admin/payments


def test_admins_list_payments(client, answers, admin):
    response = client.get("/admin/payments", headers=admin)
    assert response.status_code == 200
    assert response.get_json() == {"items": [PAYMENT], "next_cursor": None}
    call = answers.last()
    assert (call.service, call.method, call.kwargs) == (
        "payment_svc", "list_payments", {"order_id": None, "limit": 20, "cursor": None})
    client.get(f"/admin/payments?order_id={ORDER_ID.upper()}&limit=100&cursor=c-1",
               headers=admin)
    assert answers.last().kwargs == {"order_id": ORDER_ID, "limit": 100, "cursor": "c-1"}


def test_admin_api_clients_list_payments(client, answers, make_token):
    headers = bearer(make_token(role="admin", kind="client"))
    assert client.get("/admin/payments?order_id=", headers=headers).status_code == 200
    assert answers.last().kwargs["order_id"] is None


@pytest.mark.parametrize(("role", "kind"), [("customer", "user"), ("client", "client")])
def test_only_admins_list_payments(client, answers, make_token, role, kind):
    headers = bearer(make_token(role=role, kind=kind))
    _error(client.get("/admin/payments", headers=headers), 403, "forbidden")
    assert answers.calls == []
