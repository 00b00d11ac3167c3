"""The catalog cache: what it keeps, for how long, and what empties it."""

from __future__ import annotations

import uuid

import pytest

from common import events
from common.errors import NotFound
from gateway import create_app
from gateway.catalog import CatalogCache
from tests.unit.gateway.support import bearer

PRODUCT = {"sku": "MUG-1", "name": "Mug", "description": "A mug", "price_cents": 1250,
           "currency": "USD", "available": 7, "category": "cups", "image_url": None}


class Clock:
    def __init__(self):
        self.now = 100.0

    def __call__(self):
        return self.now


def reserved() -> events.InventoryReserved:
    return events.InventoryReserved(order_id=str(uuid.uuid4()), reservation_id="r-1",
                                    items=[{"sku": "MUG-1", "quantity": 1}],
                                    expires_at="2030-01-01T00:00:00+00:00")


# CatalogCache on its own


def test_a_kept_answer_lives_for_the_ttl_then_is_gone():
    clock = Clock()
    cache = CatalogCache(ttl_s=1.0, clock=clock)
    cache.put("/products?", b"{}", cache.generation)
    clock.now += 0.99
    assert cache.get("/products?") == b"{}"
    clock.now += 0.01
    assert cache.get("/products?") is None


def test_an_answer_read_before_an_invalidation_is_not_kept():
    cache = CatalogCache(ttl_s=1.0)
    generation = cache.generation  # the view starts its RPC ...
    cache.invalidate()  # ... stock moves meanwhile ...
    cache.put("/products?", b"old", generation)  # ... and its answer arrives
    assert cache.get("/products?") is None


def test_a_ttl_of_zero_keeps_nothing():
    cache = CatalogCache(ttl_s=0)
    cache.put("/products?", b"{}", cache.generation)
    assert cache.get("/products?") is None


def test_the_oldest_key_goes_first_when_full():
    cache = CatalogCache(ttl_s=10, max_entries=2)
    for key in ("a", "b", "c"):
        cache.put(key, key.encode(), cache.generation)
    assert [cache.get(key) for key in ("a", "b", "c")] == [None, b"b", b"c"]


def test_only_stock_events_empty_it():
    cache = CatalogCache(ttl_s=10)
    cache.put("k", b"v", cache.generation)
    cache.on_event(events.InventoryFailed(order_id=str(uuid.uuid4()), reason="out_of_stock",
                                          shortages=[]))
    assert cache.get("k") == b"v"
    cache.on_event(reserved())
    assert cache.get("k") is None


# Through the gateway


@pytest.fixture
def catalog(rpc):
    rpc.answers[("inventory_svc", "list_products")] = {"items": [PRODUCT], "next_cursor": None}
    rpc.answers[("inventory_svc", "get_product")] = PRODUCT
    rpc.answers[("inventory_svc", "restock")] = {"sku": "MUG-1", "on_hand": 9, "reserved": 0,
                                                 "available": 9}
    return rpc


def rpc_count(rpc, method):
    return sum(call.method == method for call in rpc.calls)


def test_a_second_read_is_answered_without_an_rpc_and_identically(client, catalog):
    first, second = client.get("/products"), client.get("/products")
    assert first.status_code == second.status_code == 200
    assert first.data == second.data and second.get_json()["items"] == [PRODUCT]
    assert second.headers["X-Request-ID"] != first.headers["X-Request-ID"]
    assert rpc_count(catalog, "list_products") == 1
    client.get("/products/MUG-1")
    client.get("/products/MUG-1")
    assert rpc_count(catalog, "get_product") == 1


def test_other_queries_are_other_answers(client, catalog):
    client.get("/products?limit=5")
    client.get("/products?limit=6")
    assert [call.kwargs["limit"] for call in catalog.calls] == [5, 6]


def test_a_restock_through_this_gateway_empties_it(client, catalog, make_token):
    client.get("/products")
    response = client.post("/products/MUG-1/restock", json={"quantity": 2},
                           headers=bearer(make_token(role="admin")))
    assert response.status_code == 200
    client.get("/products")
    assert rpc_count(catalog, "list_products") == 2


def test_a_reservation_anywhere_empties_it(client, catalog, hub):
    client.get("/products/MUG-1")
    hub.publish_payload(reserved().to_payload())
    client.get("/products/MUG-1")
    assert rpc_count(catalog, "get_product") == 2


def test_errors_are_not_kept(client, rpc):
    rpc.answers[("inventory_svc", "get_product")] = NotFound("no such product")
    assert client.get("/products/NOPE-1").status_code == 404
    assert client.get("/products/NOPE-1").status_code == 404
    assert rpc_count(rpc, "get_product") == 2


def test_a_ttl_of_zero_asks_every_time(config, rpc, broker, hub):
    config["PRODUCT_CACHE_TTL_S"] = 0
    rpc.answers[("inventory_svc", "list_products")] = {"items": [], "next_cursor": None}
    client = create_app(config, rpc=rpc, broker_check=broker, stream_hub=hub).test_client()
    client.get("/products")
    client.get("/products")
    assert rpc_count(rpc, "list_products") == 2
