"""The catalog through the gateway: browse the demo catalog, admins manage stock."""

import json
import uuid
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
                                "available", "category", "image_url"}
        assert (product["category"], product["image_url"]) == (item["category"],
                                                               item["image_url"])
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


def test_the_demo_images_are_served_by_the_shop_itself(cluster):
    for item in DEMO[:3]:
        image = cluster.get(item["image_url"])
        assert image.status_code == 200, item["image_url"]
        assert image.headers["Content-Type"].startswith("image/svg+xml")
        assert b"<svg" in image.content


def test_a_shopper_searches_filters_and_sorts_and_an_archived_product_is_gone(
        cluster, admin, customer):
    word, category = f"zq{uuid.uuid4().hex[:8]}", f"e2e-{uuid.uuid4().hex[:8]}"
    made = {}
    for sku, name, price in ((f"E2E-S{word[-4:]}-A", f"Alpha {word}ish kettle", 900),
                             (f"E2E-S{word[-4:]}-B", "Beta teapot", 300),
                             (f"E2E-S{word[-4:]}-C", f"Gamma {word}ish cup", 600)):
        answer = cluster.post("/products", headers=admin, json={
            "sku": sku, "name": name, "price_cents": price, "stock": 3, "category": category,
            "image_url": "/static/img/products/KIT-KETTLE-GOOSE.svg"})
        assert answer.status_code == 201, answer.text
        assert answer.json()["active"] is True
        made[name.split()[0]] = sku

    def listed(**params):
        page = cluster.get("/products", params=params)
        assert page.status_code == 200, page.text
        return [p["sku"] for p in page.json()["items"]]

    assert listed(q=word) == [made["Alpha"], made["Gamma"]]       # a prefix of a word
    assert listed(q=f"{word} cup") == [made["Gamma"]]              # every word
    assert listed(category=category, sort="price") == [made["Beta"], made["Gamma"], made["Alpha"]]
    assert listed(category=category, sort="-price", limit=1) == [made["Alpha"]]

    archived = cluster.patch(f"/products/{made['Alpha']}", headers=admin,
                             json={"active": False})
    assert archived.status_code == 200 and archived.json()["active"] is False
    assert made["Alpha"] not in listed(category=category) + listed(q=word)
    assert cluster.get(f"/products/{made['Alpha']}").status_code == 404
    order = cluster.post("/orders", headers=customer,
                         json={"items": [{"sku": made["Alpha"], "quantity": 1}]})
    assert order.status_code == 400, order.text
    assert made["Alpha"] in json.dumps(order.json()["error"]["details"])
    managed = cluster.get("/admin/products", headers=admin,
                          params={"category": category, "sort": "name"})
    assert [(p["sku"], p["active"]) for p in managed.json()["items"]] == [
        (made["Alpha"], False), (made["Beta"], True), (made["Gamma"], True)]

    back = cluster.patch(f"/products/{made['Alpha']}", headers=admin, json={"active": True})
    assert back.status_code == 200
    assert listed(q=word) == [made["Alpha"], made["Gamma"]]


@pytest.mark.parametrize(("params", "field"), [
    ({"sort": "cheapest"}, "sort"), ({"category": "Not A Slug"}, "category"),
    ({"q": "x" * 201}, "q")])
def test_bad_catalog_filters_are_400_naming_the_field(cluster, params, field):
    answer = cluster.get("/products", params=params)
    assert answer.status_code == 400
    assert answer.json()["error"]["code"] == "validation_error"
    assert field in json.dumps(answer.json()["error"]["details"])
