"""The catalog and inventory routes: RPC arguments, answer shapes, validation, roles."""

from __future__ import annotations

import pytest

from common.errors import Conflict, NotFound, ValidationError
from tests.unit.gateway.support import bearer, error_of, fields_of

PRODUCT = {"sku": "MUG-1", "name": "Mug", "description": "A mug", "price_cents": 1250,
           "currency": "USD", "available": 7, "category": "cups",
           "image_url": "/static/img/products/MUG-1.svg"}
# What an admin's write answers: the product and whether it is listed.
WRITTEN = {**PRODUCT, "active": True}
# Services may answer more than the contract shows; the gateway must not pass it on.
ANSWER = {**WRITTEN, "id": 42, "on_hand": 9, "reserved": 2,
          "created_at": "2026-11-30T12:00:00+00:00"}
NO_FILTER = {"q": None, "category": None, "sort": "sku"}
STOCK = {"sku": "MUG-1", "on_hand": 9, "reserved": 2, "available": 7}
NEW = {"sku": "MUG-1", "name": "Mug", "price_cents": 1250}
BAD_SKUS = ["-MUG", ".hidden", "_x", "MUG 1", "MUG!", "MUG%0A", "caf%C3%A9", "A" * 65]

ADMIN_ROUTES = [
    ("post", "/products", NEW),
    ("patch", "/products/MUG-1", {}),
    ("post", "/products/MUG-1/restock", {"quantity": 1}),
    ("get", "/admin/inventory/MUG-1", None),
]


@pytest.fixture
def config(config):
    config["MAX_BODY_BYTES"] = 16 * 1024  # room for a 2001-character description
    return config


@pytest.fixture
def admin(make_token):
    return bearer(make_token(role="admin"))


def _assert_not_found(response, rpc):
    assert response.status_code == 404, response.data
    assert error_of(response)["code"] == "not_found"
    assert rpc.calls == []


# GET /products


def test_list_defaults_and_shape(client, rpc):
    rpc.answers[("inventory_svc", "list_products")] = {"items": [ANSWER], "next_cursor": None,
                                                       "total": 1}
    response = client.get("/products")
    assert response.status_code == 200
    assert response.get_json() == {"items": [PRODUCT], "next_cursor": None}
    call = rpc.last()
    assert (call.service, call.method, call.kwargs) == (
        "inventory_svc", "list_products", {"limit": 20, "cursor": None, **NO_FILTER})
    assert call.correlation_id == response.headers["X-Request-ID"]


def test_list_passes_limit_and_cursor_and_ignores_other_params(client, rpc):
    rpc.answers[("inventory_svc", "list_products")] = {"items": [], "next_cursor": "c-2"}
    response = client.get("/products?limit=100&cursor=c-1&color=red&limit=3")
    assert response.get_json() == {"items": [], "next_cursor": "c-2"}
    assert rpc.last().kwargs == {"limit": 100, "cursor": "c-1", **NO_FILTER}
    client.get("/products?limit=1&cursor=&q=&category=&sort=")
    assert rpc.last().kwargs == {"limit": 1, "cursor": None, **NO_FILTER}
    client.get("/products?cursor=" + "c" * 200)
    assert rpc.last().kwargs == {"limit": 20, "cursor": "c" * 200, **NO_FILTER}


def test_list_passes_search_category_and_sort(client, rpc):
    rpc.answers[("inventory_svc", "list_products")] = {"items": [], "next_cursor": None}
    client.get("/products", query_string={"q": "earl grey", "category": "tea",
                                          "sort": "-price"})
    assert rpc.last().kwargs == {"limit": 20, "cursor": None, "q": "earl grey",
                                 "category": "tea", "sort": "-price"}


@pytest.mark.parametrize(("query", "field"), [
    ({"sort": "cheapest"}, "sort"), ({"sort": "sku"}, "sort"), ({"sort": "PRICE"}, "sort"),
    ({"category": "Tea"}, "category"), ({"category": "-tea"}, "category"),
    ({"category": "t" * 41}, "category"), ({"q": "q" * 201}, "q"), ({"q": "a\x00b"}, "q"),
])
def test_list_refuses_a_bad_filter(client, rpc, query, field):
    assert fields_of(client.get("/products", query_string=query)) == {field}
    assert rpc.calls == []


@pytest.mark.parametrize("limit", ["0", "101", "-1", "x", "1.5", "", " 5", "1e2",
                                   "9" * 30, "true"])
def test_list_refuses_a_bad_limit(client, rpc, limit):
    response = client.get("/products", query_string={"limit": limit})
    assert fields_of(response) == {"limit"}
    assert rpc.calls == []


@pytest.mark.parametrize("cursor", ["c" * 201, "nul\x00"])
def test_list_refuses_a_bad_cursor(client, rpc, cursor):
    response = client.get("/products", query_string={"cursor": cursor, "limit": "0"})
    assert fields_of(response) == {"cursor", "limit"}
    assert error_of(response)["message"] == "query string is not valid"
    assert rpc.calls == []


def test_list_maps_a_cursor_the_service_refuses(client, rpc):
    rpc.answers[("inventory_svc", "list_products")] = ValidationError("bad cursor")
    assert client.get("/products?cursor=forged").status_code == 400


# GET /products/{sku}


def test_get_product_needs_no_token(client, rpc):
    rpc.answers[("inventory_svc", "get_product")] = ANSWER
    response = client.get("/products/MUG-1")
    assert response.status_code == 200
    assert response.get_json() == PRODUCT
    assert list(response.get_json()) == list(PRODUCT)
    assert rpc.last().kwargs == {"sku": "MUG-1"}


def test_get_unknown_product_is_404(client, rpc):
    rpc.answers[("inventory_svc", "get_product")] = NotFound("no product MUG-9")
    response = client.get("/products/MUG-9")
    assert response.status_code == 404
    assert error_of(response)["code"] == "not_found"


@pytest.mark.parametrize("sku", ["A", "9", "a.b_c-9", "A" * 64])
def test_every_sku_shape_reaches_the_service(client, rpc, sku):
    rpc.answers[("inventory_svc", "get_product")] = {**PRODUCT, "sku": sku}
    assert client.get(f"/products/{sku}").status_code == 200
    assert rpc.last().kwargs == {"sku": sku}


@pytest.mark.parametrize("sku", BAD_SKUS)
def test_a_path_that_is_no_sku_is_404_without_rpc(client, rpc, admin, sku):
    _assert_not_found(client.get(f"/products/{sku}"), rpc)
    _assert_not_found(client.patch(f"/products/{sku}", json={}, headers=admin), rpc)
    _assert_not_found(client.post(f"/products/{sku}/restock", json={"quantity": 1},
                                  headers=admin), rpc)
    _assert_not_found(client.get(f"/admin/inventory/{sku}", headers=admin), rpc)


# POST /products


def test_create_fills_defaults_and_answers_201_with_location(client, rpc, admin):
    rpc.answers[("inventory_svc", "create_product")] = ANSWER
    response = client.post("/products", json=NEW, headers=admin)
    assert response.status_code == 201
    assert response.get_json() == WRITTEN
    assert response.headers["Location"] == "/products/MUG-1"
    assert rpc.last().kwargs == {"sku": "MUG-1", "name": "Mug", "description": None,
                                 "price_cents": 1250, "currency": "USD", "stock": 0,
                                 "category": None, "image_url": None}


def test_create_passes_every_field(client, rpc, admin):
    rpc.answers[("inventory_svc", "create_product")] = ANSWER
    body = {"sku": "a.b_c-9", "name": "  Tea  ", "description": "d" * 2000,
            "price_cents": 1_000_000_000, "currency": "EUR", "stock": 1_000_000_000,
            "category": "brewing-gear", "image_url": "https://img.example.com/tea.png"}
    assert client.post("/products", json=body, headers=admin).status_code == 201
    assert rpc.last().kwargs == {**body, "name": "Tea"}


@pytest.mark.parametrize(("changes", "field"), [
    ({"sku": "-MUG"}, "sku"), ({"sku": "A" * 65}, "sku"), ({"sku": "MUG\n"}, "sku"),
    ({"sku": 5}, "sku"), ({"sku": ...}, "sku"),
    ({"name": ""}, "name"), ({"name": "   "}, "name"), ({"name": "n" * 201}, "name"),
    ({"name": None}, "name"), ({"name": 3}, "name"), ({"name": ...}, "name"),
    ({"description": "d" * 2001}, "description"), ({"description": 1}, "description"),
    ({"price_cents": 0}, "price_cents"), ({"price_cents": -5}, "price_cents"),
    ({"price_cents": 1_000_000_001}, "price_cents"), ({"price_cents": True}, "price_cents"),
    ({"price_cents": 12.5}, "price_cents"), ({"price_cents": 12.0}, "price_cents"),
    ({"price_cents": "1250"}, "price_cents"), ({"price_cents": ...}, "price_cents"),
    ({"currency": "usd"}, "currency"), ({"currency": "US"}, "currency"),
    ({"currency": "EURO"}, "currency"), ({"currency": None}, "currency"),
    ({"stock": -1}, "stock"), ({"stock": False}, "stock"), ({"stock": "3"}, "stock"),
    ({"stock": 1_000_000_001}, "stock"),
    ({"available": 3}, "available"),
    ({"category": "Tea"}, "category"), ({"category": ""}, "category"),
    ({"category": 3}, "category"),
    ({"image_url": "javascript:alert(1)"}, "image_url"),
    ({"image_url": "//evil.example/x.png"}, "image_url"),
    ({"image_url": "data:image/png;base64,AAAA"}, "image_url"),
    ({"image_url": "/img/a b.png"}, "image_url"),
    ({"image_url": "https://x/" + "a" * 500}, "image_url"),
    ({"active": False}, "active"),
])
def test_create_refuses_bad_fields(client, rpc, admin, changes, field):
    body = {k: v for k, v in {**NEW, **changes}.items() if v is not ...}
    assert fields_of(client.post("/products", json=body, headers=admin)) == {field}
    assert rpc.calls == []


def test_create_duplicate_sku_is_409(client, rpc, admin):
    rpc.answers[("inventory_svc", "create_product")] = Conflict("sku MUG-1 exists")
    response = client.post("/products", json=NEW, headers=admin)
    assert response.status_code == 409
    assert error_of(response)["code"] == "conflict"


# PATCH /products/{sku}


def test_update_passes_only_the_fields_sent(client, rpc, admin):
    rpc.answers[("inventory_svc", "update_product")] = ANSWER
    response = client.patch("/products/MUG-1", json={"price_cents": 990}, headers=admin)
    assert response.status_code == 200
    assert response.get_json() == WRITTEN
    assert rpc.last().kwargs == {"sku": "MUG-1", "price_cents": 990}
    client.patch("/products/MUG-1", json={"name": " Cup ", "description": None},
                 headers=admin)
    assert rpc.last().kwargs == {"sku": "MUG-1", "name": "Cup", "description": None}
    client.patch("/products/MUG-1", json={"active": False, "category": "tea",
                                          "image_url": None}, headers=admin)
    assert rpc.last().kwargs == {"sku": "MUG-1", "active": False, "category": "tea",
                                 "image_url": None}


@pytest.mark.parametrize("kwargs", [{"json": {}}, {}])
def test_an_empty_update_changes_nothing(client, rpc, admin, kwargs):
    rpc.answers[("inventory_svc", "update_product")] = ANSWER
    response = client.patch("/products/MUG-1", headers=admin, **kwargs)
    assert response.status_code == 200
    assert response.get_json() == WRITTEN
    assert rpc.last().kwargs == {"sku": "MUG-1"}


@pytest.mark.parametrize(("body", "field"), [
    ({"sku": "OTHER"}, "sku"), ({"stock": 5}, "stock"), ({"currency": "EUR"}, "currency"),
    ({"name": None}, "name"), ({"name": ""}, "name"), ({"price_cents": None}, "price_cents"),
    ({"price_cents": True}, "price_cents"), ({"price_cents": 0}, "price_cents"),
    ({"description": "d" * 2001}, "description"),
    ({"active": None}, "active"), ({"active": "false"}, "active"), ({"active": 0}, "active"),
    ({"category": "Tea Time"}, "category"), ({"image_url": "ftp://x/y.png"}, "image_url"),
])
def test_update_refuses_bad_fields(client, rpc, admin, body, field):
    assert fields_of(client.patch("/products/MUG-1", json=body, headers=admin)) == {field}
    assert rpc.calls == []


def test_update_unknown_product_is_404(client, rpc, admin):
    rpc.answers[("inventory_svc", "update_product")] = NotFound("no product")
    response = client.patch("/products/MUG-9", json={"name": "x"}, headers=admin)
    assert response.status_code == 404
    assert error_of(response)["code"] == "not_found"


# POST /products/{sku}/restock and GET /admin/inventory/{sku}


def test_restock_answers_the_stock(client, rpc, admin):
    rpc.answers[("inventory_svc", "restock")] = {**STOCK, "version": 3}
    response = client.post("/products/MUG-1/restock", json={"quantity": 5}, headers=admin)
    assert response.status_code == 200
    assert response.get_json() == STOCK
    assert rpc.last().kwargs == {"sku": "MUG-1", "quantity": 5}


@pytest.mark.parametrize("body", [{}, {"quantity": 0}, {"quantity": -1}, {"quantity": True},
                                  {"quantity": "5"}, {"quantity": 1.0}, {"quantity": None},
                                  {"quantity": 1_000_000_001}])
def test_restock_refuses_a_bad_quantity(client, rpc, admin, body):
    assert fields_of(client.post("/products/MUG-1/restock", json=body,
                                 headers=admin)) == {"quantity"}
    assert rpc.calls == []


def test_restock_unknown_product_is_404(client, rpc, admin):
    rpc.answers[("inventory_svc", "restock")] = NotFound("no product")
    response = client.post("/products/MUG-9/restock", json={"quantity": 1}, headers=admin)
    assert response.status_code == 404


def test_admin_reads_the_stock(client, rpc, admin):
    rpc.answers[("inventory_svc", "get_stock")] = {**STOCK, "updated_at": "now"}
    response = client.get("/admin/inventory/MUG-1", headers=admin)
    assert response.status_code == 200
    assert response.get_json() == STOCK
    assert rpc.last().kwargs == {"sku": "MUG-1"}
    rpc.answers[("inventory_svc", "get_stock")] = NotFound("no product")
    assert client.get("/admin/inventory/MUG-9", headers=admin).status_code == 404


# Who may write


@pytest.mark.parametrize(("method", "path", "body"), ADMIN_ROUTES)
def test_admin_routes_need_a_token(client, rpc, method, path, body):
    response = getattr(client, method)(path, json=body)
    assert response.status_code == 401
    assert error_of(response)["code"] == "unauthorized"
    assert rpc.calls == []


@pytest.mark.parametrize(("method", "path", "body"), ADMIN_ROUTES)
@pytest.mark.parametrize(("role", "kind"), [("customer", "user"), ("client", "client")])
def test_admin_routes_refuse_other_roles(client, rpc, make_token, method, path, body,
                                         role, kind):
    headers = bearer(make_token(role=role, kind=kind))
    response = getattr(client, method)(path, json=body, headers=headers)
    assert response.status_code == 403
    assert error_of(response)["code"] == "forbidden"
    assert rpc.calls == []


def test_an_api_client_with_the_admin_role_may_write(client, rpc, make_token):
    rpc.answers[("inventory_svc", "create_product")] = ANSWER
    headers = bearer(make_token(role="admin", kind="client"))
    assert client.post("/products", json=NEW, headers=headers).status_code == 201


# GET /admin/products: the admin's catalog, archived products too


def test_the_admin_catalog_lists_archived_products_with_their_state(client, rpc, admin):
    rpc.answers[("inventory_svc", "list_products")] = {
        "items": [{**ANSWER, "active": False}], "next_cursor": None}
    response = client.get("/admin/products?q=mug&sort=newest", headers=admin)
    assert response.get_json() == {"items": [{**WRITTEN, "active": False}],
                                   "next_cursor": None}
    assert rpc.last().kwargs == {"limit": 20, "cursor": None, "q": "mug", "category": None,
                                 "sort": "newest", "include_archived": True}
    rpc.answers[("inventory_svc", "get_product")] = {**ANSWER, "active": False}
    assert client.get("/admin/products/MUG-1", headers=admin).get_json()["active"] is False
    assert rpc.last().kwargs == {"sku": "MUG-1", "include_archived": True}


@pytest.mark.parametrize("path", ["/admin/products", "/admin/products/MUG-1"])
def test_the_admin_catalog_is_for_admins_only(client, rpc, make_token, path):
    assert client.get(path).status_code == 401
    assert client.get(path, headers=bearer(make_token(role="customer"))).status_code == 403
    assert rpc.calls == []


def test_categories_are_listed_for_anyone(client, rpc):
    rpc.answers[("inventory_svc", "list_categories")] = {
        "items": [{"category": "tea", "products": 2, "extra": 1}]}
    response = client.get("/categories")
    assert response.status_code == 200
    assert response.get_json() == {"items": [{"category": "tea", "products": 2}]}
