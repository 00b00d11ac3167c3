"""The storefront in a real browser: Debian's headless Chromium, driven by Playwright.

A customer registers, fills a cart, checks out with tok_ok and watches the order page
reach CONFIRMED (then SHIPPED) with no reload, fed by the event stream; an admin
restocks a product and sees the new stock; /docs renders the OpenAPI document. The
browser side is tests/e2e/browser_flows.py, run in a process of its own (see its
docstring for why); these tests prepare data, run a flow and check the outcome through
the API. Screenshots go to docs/screenshots/ (SCREENSHOT_DIR overrides).

The browser is /usr/bin/chromium (`.ci/run` installs it; never `playwright install`).
Where it is missing they fail, saying what to install (`make test` installs it as root).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid

import pytest

from common.config import ROOT
from common.testing import wait_for
from tests.e2e.conftest import ADMIN_EMAIL, ADMIN_PASSWORD, login

pytestmark = pytest.mark.e2e

CHROMIUM = "/usr/bin/chromium"
SHOTS = os.environ.get("SCREENSHOT_DIR") or str(ROOT / "docs" / "screenshots")
FLOW_TIMEOUT_S = 100  # each wait in a flow is bounded (30 s); this bounds the whole



@pytest.fixture(autouse=True)
def chromium():
    """`make test` installs Chromium when it can; say plainly when it could not."""
    assert os.path.exists(CHROMIUM), \
        f"{CHROMIUM} is missing: apt-get install -y chromium fonts-dejavu-core"


def run_flow(cluster, flow: str, **args) -> dict:
    """Run a flow of browser_flows.py against the cluster; its result, or the test fails
    with what the flow printed."""
    done = subprocess.run(
        [sys.executable, "-m", "tests.e2e.browser_flows", flow,
         json.dumps({"url": cluster.url, "shots": SHOTS, **args})],
        cwd=ROOT, capture_output=True, text=True, timeout=FLOW_TIMEOUT_S)
    assert done.returncode == 0, f"{flow} failed:\n{done.stdout}\n{done.stderr}"
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.fixture
def product(cluster, admin):
    """A product on the shop's first page (skus sort "0..." first): (sku, name)."""
    def make(stock=10, price_cents=990):
        sku = f"0UI-{uuid.uuid4().hex[:8].upper()}"
        name = f"Browser Blend {sku[-4:]}"
        answer = cluster.post("/products", headers=admin, json={
            "sku": sku, "name": name, "price_cents": price_cents,
            "description": "Made for the browser tests.", "stock": stock})
        assert answer.status_code == 201, answer.text
        return sku, name
    return make


@pytest.mark.parametrize("viewport", ["desktop", "mobile"])
def test_a_customer_finds_a_product_and_watches_the_order_to_delivery(cluster, product,
                                                                      admin, viewport):
    sku, name = product()
    email = f"b-{uuid.uuid4().hex[:10]}@example.com"
    result = run_flow(cluster, "shop_and_follow", sku=sku, name=name, email=email,
                      password="correct horse", viewport=viewport)
    order = cluster.get(f"/orders/{result['order_id']}", headers=admin).json()
    assert order["status"] == "DELIVERED", order
    assert [(i["sku"], i["quantity"]) for i in order["items"]] == [(sku, 1)]
    assert order["payment"]["status"] == "CAPTURED"
    assert order["shipping_address"]["city"] == "Leeds"
    assert order["shipping_address"]["country"] == "GB"


@pytest.mark.parametrize("viewport", ["desktop", "mobile"])
def test_a_price_change_at_checkout_is_shown_and_asked_again(cluster, product, admin,
                                                            admin_token, viewport):
    sku, _ = product(price_cents=450)
    email = f"p-{uuid.uuid4().hex[:10]}@example.com"
    result = run_flow(cluster, "price_changed", sku=sku, email=email,
                      password="correct horse", admin_token=admin_token,
                      new_price_cents=520, viewport=viewport)
    order = cluster.get(f"/orders/{result['order_id']}", headers=admin).json()
    assert order["total_cents"] == 520 and order["items"][0]["unit_price_cents"] == 520


@pytest.mark.parametrize("viewport", ["desktop", "mobile"])
def test_the_order_page_shows_where_it_ships(cluster, product, viewport):
    sku, _ = product()
    email, password = f"a-{uuid.uuid4().hex[:10]}@example.com", "correct horse"
    assert cluster.post("/auth/register", json={"email": email, "password": password}
                        ).status_code == 201
    token = cluster.post("/auth/login", json={"email": email, "password": password}
                         ).json()["access_token"]
    order = cluster.post("/orders", headers={"Authorization": f"Bearer {token}"}, json={
        "items": [{"sku": sku, "quantity": 1}], "shipping_address": {
            "name": "Ann Lee", "line1": "1 Tea Street", "city": "Leeds",
            "postal_code": "LS1 1AA", "country": "GB"}}).json()
    shown = run_flow(cluster, "ships_to", email=email, password=password,
                     order_id=order["id"], viewport=viewport)
    assert shown["lines"] == ["Ann Lee", "1 Tea Street", "LS1 1AA Leeds", "GB"]


@pytest.mark.parametrize("viewport", ["desktop", "mobile"])
def test_an_admin_restocks_and_sees_the_new_stock(cluster, product, admin, viewport):
    sku, name = product(stock=3)
    run_flow(cluster, "restock", sku=sku, name=name, email=ADMIN_EMAIL,
             password=ADMIN_PASSWORD, viewport=viewport)
    stock = cluster.get(f"/admin/inventory/{sku}", headers=admin).json()
    assert (stock["on_hand"], stock["available"]) == (10, 10), stock


@pytest.mark.parametrize("viewport", ["desktop", "mobile"])
def test_the_api_reference_renders_openapi_json_and_tries_a_request(cluster, viewport):
    operations = len([op for item in cluster.get("/openapi.json").json()["paths"].values()
                      for op in item.values()])
    result = run_flow(cluster, "read_docs", viewport=viewport)
    assert result["operations"] == operations
    # The page's own request: two products, cheapest first, as the API answers.
    expected = cluster.get("/products", params={"limit": 2, "sort": "price"}).json()
    assert result["tried"] == [item["price_cents"] for item in expected["items"]]


def new_customer(cluster) -> tuple[str, str]:
    """A registered customer's (email, password)."""
    email, password = f"k-{uuid.uuid4().hex[:10]}@example.com", "correct horse"
    assert cluster.post("/auth/register", json={"email": email, "password": password}
                        ).status_code == 201
    return email, password


@pytest.mark.parametrize("viewport", ["desktop", "mobile"])
def test_a_declined_card_keeps_the_cart_and_another_card_places_it_again(cluster, product,
                                                                         admin, viewport):
    sku, _ = product()
    result = run_flow(cluster, "declined_then_another_card", sku=sku,
                      email=f"d-{uuid.uuid4().hex[:10]}@example.com", password="correct horse",
                      viewport=viewport)
    declined = cluster.get(f"/orders/{result['declined']}", headers=admin).json()
    assert (declined["status"], declined["cancel_reason"]) == ("CANCELLED", "payment_declined")
    placed = cluster.get(f"/orders/{result['order_id']}", headers=admin).json()
    assert placed["id"] != declined["id"]
    assert placed["payment"]["status"] == "CAPTURED", placed
    assert [(i["sku"], i["quantity"]) for i in placed["items"]] == [(sku, 1)]
    assert placed["shipping_address"] == declined["shipping_address"]


@pytest.mark.parametrize("viewport", ["desktop", "mobile"])
def test_out_of_stock_names_the_item_and_what_is_left_and_keeps_the_cart(cluster, product,
                                                                        admin, viewport):
    sku, name = product(stock=2)
    other = login(cluster, *new_customer(cluster))["Authorization"].split()[1]
    result = run_flow(cluster, "out_of_stock", sku=sku, name=name,
                      email=f"s-{uuid.uuid4().hex[:10]}@example.com", password="correct horse",
                      other_token=other, viewport=viewport)
    order = cluster.get(f"/orders/{result['order_id']}", headers=admin).json()
    assert (order["status"], order["cancel_reason"]) == ("CANCELLED", "out_of_stock")
    timeline = cluster.get(f"/orders/{result['order_id']}/timeline", headers=admin).json()
    failed = [e["data"] for e in timeline["items"] if e["type"] == "inventory.failed"]
    assert failed[0]["shortages"] == [{"sku": sku, "requested": 2, "available": 1}], failed
    assert result["said"] == f"{name}: you asked for 2, only 1 left."


@pytest.mark.parametrize("viewport", ["desktop", "mobile"])
def test_cancelling_a_paid_order_asks_first_and_refunds(cluster, product, admin, viewport):
    sku, _ = product(price_cents=990)
    email, password = new_customer(cluster)
    result = run_flow(cluster, "cancel_paid", sku=sku, email=email, password=password,
                      viewport=viewport)

    def refunded():
        order = cluster.get(f"/orders/{result['order_id']}", headers=admin).json()
        return order if order["payment"]["refunded_cents"] == 990 else None

    order = wait_for(refunded, timeout=30, message="the refund of the cancelled order")
    assert (order["status"], order["cancel_reason"]) == ("CANCELLED", "customer_request")


@pytest.mark.parametrize("viewport", ["desktop", "mobile"])
def test_a_session_that_ends_at_checkout_logs_in_and_comes_back_to_the_cart(
        cluster, product, admin, viewport):
    sku, _ = product()
    result = run_flow(cluster, "session_ended_at_checkout", sku=sku,
                      email=f"e-{uuid.uuid4().hex[:10]}@example.com", password="correct horse",
                      viewport=viewport)
    order = cluster.get(f"/orders/{result['order_id']}", headers=admin).json()
    assert [(i["sku"], i["quantity"]) for i in order["items"]] == [(sku, 2)]


@pytest.mark.parametrize("viewport", ["desktop", "mobile"])
def test_a_shopper_searches_filters_sorts_and_pages_through_the_catalog(cluster, admin,
                                                                        viewport):
    word = f"zz{uuid.uuid4().hex[:6]}"
    category = f"ui-{uuid.uuid4().hex[:6]}"
    skus = []
    for n in range(14):  # more than a page of 12
        sku = f"0UI-{word.upper()}-{n:02d}"
        answer = cluster.post("/products", headers=admin, json={
            "sku": sku, "name": f"{word.capitalize()} Oolong no. {n}", "price_cents": 500 + n,
            "description": "Made for the catalog browser test.", "stock": 4,
            "category": category if n in (3, 7) else None,
            "image_url": "/static/img/products/TEA-SENCHA-100.svg"})
        assert answer.status_code == 201, answer.text
        skus.append(sku)
    result = run_flow(cluster, "browse_and_search", word=word, skus=skus, category=category,
                      viewport=viewport)
    assert result["dearest"] == skus[7]


@pytest.mark.parametrize("viewport", ["desktop", "mobile"])
def test_an_admin_adds_a_product_then_finds_and_refunds_its_order(cluster, admin, viewport):
    sku = f"0ADM-{uuid.uuid4().hex[:8].upper()}"
    email, password = new_customer(cluster)
    shopper = login(cluster, email, password)["Authorization"].split()[1]
    client_name = f"Warehouse sync {sku[-4:]}"
    result = run_flow(cluster, "admin_runs_the_shop", email=ADMIN_EMAIL,
                      password=ADMIN_PASSWORD, sku=sku, shopper_token=shopper,
                      shopper_email=email, client_name=client_name, viewport=viewport)

    product = cluster.get(f"/products/{sku}").json()
    assert (product["category"], product["image_url"], product["price_cents"]) == (
        "tea", "/static/img/products/TEA-ASSAM-250.svg", 1250)
    order = cluster.get(f"/orders/{result['order_id']}", headers=admin).json()
    assert (order["status"], order["cancel_reason"]) == ("CANCELLED", "customer_request")
    assert order["payment"] == {"status": "REFUNDED", "amount_cents": 2500,
                                "refunded_cents": 2500}
    clients = cluster.get("/admin/clients", headers=admin).json()["items"]
    assert result["client_id"] not in {c["client_id"] for c in clients}
