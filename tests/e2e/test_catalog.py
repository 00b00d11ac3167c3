"""The catalog through the gateway: browse the demo catalog, admins manage stock."""

import json
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e

DEMO = json.loads((Path(__file__).parents[2] / "inventory_svc/demo_catalog.json").read_text())


def bearer(token):
    return {"Authorization": f"Bearer {token}"}


def all_products(cluster, limit):
    items, cursor = [], None
    while True:
        page = cluster.get("/products", params={"limit": limit, **({"cursor": cursor}
                                                                    if cursor else {})})
        assert page.status_code == 200, page.text
        items += page.json()["items"]
        cursor = page.json()["next_cursor"]
        if cursor is None:
            return items


def test_anyone_browses_the_demo_catalog_page_by_page(cluster):
    products = all_products(cluster, limit=4)
    by_sku = {p["sku"]: p for p in products}
    assert len(DEMO) >= 12
    for item in DEMO:
        product = by_sku[item["sku"]]
        assert (product["name"], product["price_cents"], product["currency"]) == \
            (item["name"], item["price_cents"], "USD")
        assert set(product) == {"sku", "name", "description", "price_cents", "currency",
                                "available"}
    assert [p["sku"] for p in products] == sorted(by_sku)
    one = cluster.get(f"/products/{DEMO[0]['sku']}")
    assert one.status_code == 200 and one.json() == by_sku[DEMO[0]["sku"]]


def test_an_admin_creates_updates_and_restocks_a_product(cluster, admin_token):
    created = cluster.post("/products", headers=bearer(admin_token), json={
        "sku": "E2E-KETTLE", "name": "Test Kettle", "price_cents": 3900, "stock": 2})
    assert created.status_code == 201, created.text
    assert created.headers["Location"].endswith("/products/E2E-KETTLE")
    assert created.json()["available"] == 2

    again = cluster.post("/products", headers=bearer(admin_token), json={
        "sku": "E2E-KETTLE", "name": "Again", "price_cents": 1})
    assert again.status_code == 409 and again.json()["error"]["code"] == "conflict"

    patched = cluster.patch("/products/E2E-KETTLE", headers=bearer(admin_token),
                                    json={"price_cents": 4200})
    assert patched.status_code == 200 and patched.json()["price_cents"] == 4200

    restocked = cluster.post("/products/E2E-KETTLE/restock", headers=bearer(admin_token),
                             json={"quantity": 5})
    assert restocked.status_code == 200
    assert restocked.json() == {"sku": "E2E-KETTLE", "on_hand": 7, "reserved": 0,
                                "available": 7}
    level = cluster.get("/admin/inventory/E2E-KETTLE", headers=bearer(admin_token))
    assert level.json() == restocked.json()
    assert cluster.get("/products/E2E-KETTLE").json()["available"] == 7


def test_unknown_products_and_bad_input_get_the_contracts_errors(cluster, admin_token):
    missing = cluster.get("/products/NOPE-404")
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "not_found"
    bad_limit = cluster.get("/products", params={"limit": 0})
    assert bad_limit.status_code == 400
    bad = cluster.post("/products", headers=bearer(admin_token),
                       json={"sku": "E2E-BAD", "name": "x", "price_cents": 0})
    assert bad.status_code == 400 and "price_cents" in bad.text
    restock = cluster.post("/products/NOPE-404/restock", headers=bearer(admin_token),
                           json={"quantity": 1})
    assert restock.status_code == 404


def test_customers_cannot_manage_the_catalog(cluster):
    cluster.post("/auth/register", json={"email": "shopper@example.com",
                                         "password": "correct horse"})
    token = cluster.post("/auth/login", json={"email": "shopper@example.com",
                                              "password": "correct horse"}).json()["access_token"]
    assert cluster.post("/products", headers=bearer(token), json={
        "sku": "NOPE", "name": "x", "price_cents": 1}).status_code == 403
    assert cluster.get("/admin/inventory/TEA-SENCHA-100", headers=bearer(token)
                       ).status_code == 403
    assert cluster.post("/products", json={"sku": "NOPE", "name": "x", "price_cents": 1}
                        ).status_code == 401
