"""Catalog RPC through worker_factory, on a real PostgreSQL session."""

from datetime import datetime

import pytest

from inventory_svc import domain
from inventory_svc.exceptions import DuplicateSku, InvalidProductInput, ProductNotFound


def test_a_created_product_reads_back_with_its_stock_available(inventory):
    created = inventory.create_product(sku="TEA", name=" Sencha ", price_cents=1250,
                                       description="Green", currency="EUR", stock=7)
    assert created == {"sku": "TEA", "name": "Sencha", "description": "Green",
                       "price_cents": 1250, "currency": "EUR", "available": 7,
                       "category": None, "image_url": None, "active": True,
                       "created_at": created["created_at"]}
    assert datetime.fromisoformat(created["created_at"]).tzinfo is not None
    assert inventory.get_product("TEA") == created
    assert inventory.get_stock("TEA") == {"sku": "TEA", "on_hand": 7, "reserved": 0,
                                          "available": 7}


def test_a_sku_exists_once(inventory):
    inventory.create_product(sku="TEA", name="Tea", price_cents=100)
    with pytest.raises(DuplicateSku):
        inventory.create_product(sku="TEA", name="Other", price_cents=200)


@pytest.mark.parametrize("field, value", [("sku", "bad sku"), ("price_cents", 0),
                                          ("stock", -1), ("currency", "usd"), ("name", "")])
def test_bad_products_are_refused_naming_the_field(inventory, field, value):
    fields = {"sku": "TEA", "name": "Tea", "price_cents": 100, "stock": 1, **{field: value}}
    with pytest.raises(InvalidProductInput) as raised:
        inventory.create_product(**fields)
    assert raised.value.details == {"field": field}


def test_update_changes_only_what_it_is_given(catalog):
    updated = catalog.update_product("TEA", price_cents=500)
    assert (updated["name"], updated["price_cents"]) == ("Tea", 500)
    with pytest.raises(InvalidProductInput):
        catalog.update_product("TEA", stock=99)
    with pytest.raises(ProductNotFound):
        catalog.update_product("NOPE", name="x")


def test_restock_adds_to_on_hand(catalog):
    assert catalog.restock("MUG", 5) == {"sku": "MUG", "on_hand": 8, "reserved": 0,
                                         "available": 8}
    with pytest.raises(ProductNotFound):
        catalog.restock("NOPE", 1)
    with pytest.raises(InvalidProductInput):
        catalog.restock("MUG", 0)


def test_pages_follow_the_cursor_to_the_end(inventory):
    for n in range(5):
        inventory.create_product(sku=f"P{n}", name=f"P{n}", price_cents=100)
    first = inventory.list_products(limit=2)
    second = inventory.list_products(limit=2, cursor=first["next_cursor"])
    third = inventory.list_products(limit=2, cursor=second["next_cursor"])
    skus = [p["sku"] for page in (first, second, third) for p in page["items"]]
    assert skus == ["P0", "P1", "P2", "P3", "P4"]
    assert third["next_cursor"] is None
    with pytest.raises(InvalidProductInput) as raised:
        inventory.list_products(cursor="forged!")
    assert raised.value.details == {"field": "cursor"}


def test_many_products_in_one_call_name_the_missing(catalog):
    answer = catalog.get_products(["MUG", "NOPE", "TEA", "MUG"])
    assert [p["sku"] for p in answer["items"]] == ["MUG", "TEA"]
    assert answer["missing"] == ["NOPE"]


def test_restocks_past_2_to_the_31_add_up_and_the_ceiling_is_a_400(catalog, session,
                                                                  monkeypatch):
    # Restocking in steps of 1e9 once took on_hand past 2^31-1: the next one was a 500.
    for _ in range(3):
        stock = catalog.restock("MUG", 1_000_000_000)
    assert stock["on_hand"] == 3_000_000_003 > 2**31
    monkeypatch.setattr(domain, "MAX_ON_HAND", 3_500_000_000)
    with pytest.raises(InvalidProductInput) as raised:
        catalog.restock("MUG", 500_000_000)
    assert raised.value.details == {"field": "quantity"}
    session.rollback()  # what the worker's teardown does
    assert catalog.get_stock("MUG")["on_hand"] == 3_000_000_003  # nothing added
    assert catalog.restock("MUG", 499_999_997)["on_hand"] == 3_500_000_000


def test_received_counts_opening_stock_and_restocks_for_the_checker(catalog):
    catalog.restock("MUG", 5)
    first = catalog.list_stock(limit=1)
    rest = catalog.list_stock(limit=1, cursor=first["next_cursor"])
    assert first["items"] + rest["items"] == [
        {"sku": "MUG", "on_hand": 8, "reserved": 0, "available": 8, "received": 8},
        {"sku": "TEA", "on_hand": 10, "reserved": 0, "available": 10, "received": 10}]
    assert rest["next_cursor"] is None


# ---- categories, images, search, sort, archiving ---------------------------------------

SHOP = [("TEA-SENCHA", "Sencha Green Tea", "Grassy Japanese green tea", 1250, "tea"),
        ("TEA-EARL", "Earl Grey", "Black teas scented with bergamot", 1190, "tea"),
        ("COF-ETH", "Ethiopia Beans", "Light roast with jasmine", 2200, "coffee"),
        ("KIT-KETTLE", "Gooseneck Kettle", "For pour-over tea or coffee", 4900, "gear")]


@pytest.fixture
def shop(inventory):
    for sku, name, description, price, category in SHOP:
        inventory.create_product(sku=sku, name=name, description=description,
                                 price_cents=price, category=category, stock=5,
                                 image_url=f"/static/img/products/{sku}.svg")
    return inventory


def skus(page):
    return [p["sku"] for p in page["items"]]


def walk(inventory, limit=1, **listing):
    """Every sku of a listing, page by page through its cursors."""
    seen, cursor = [], None
    while True:
        page = inventory.list_products(limit=limit, cursor=cursor, **listing)
        seen += skus(page)
        cursor = page["next_cursor"]
        if cursor is None:
            return seen


@pytest.mark.parametrize(("q", "expected"), [
    ("tea", ["KIT-KETTLE", "TEA-EARL", "TEA-SENCHA"]),  # name or description
    ("TEAS", ["KIT-KETTLE", "TEA-EARL", "TEA-SENCHA"]),  # stemmed, any case
    ("earl gr", ["TEA-EARL"]),                           # every word, each a prefix
    ("jasmine", ["COF-ETH"]),                            # a word of the description
    ("bergamot coffee", []),                             # all words, not any
    ("tea:* | !(", ["KIT-KETTLE", "TEA-EARL", "TEA-SENCHA"]),  # no query syntax
    ("tea'; drop", []),                                  # only words, all of them
    ("!!! &|:*", ["COF-ETH", "KIT-KETTLE", "TEA-EARL", "TEA-SENCHA"]),  # nothing to look for
])
def test_search_finds_words_of_name_or_description(shop, q, expected):
    assert skus(shop.list_products(q=q)) == expected


def test_a_category_narrows_and_sorts_order_every_page(shop):
    assert skus(shop.list_products(category="tea")) == ["TEA-EARL", "TEA-SENCHA"]
    assert walk(shop, sort="name") == ["TEA-EARL", "COF-ETH", "KIT-KETTLE", "TEA-SENCHA"]
    assert walk(shop, sort="price") == ["TEA-EARL", "TEA-SENCHA", "COF-ETH", "KIT-KETTLE"]
    assert walk(shop, sort="-price") == ["KIT-KETTLE", "COF-ETH", "TEA-SENCHA", "TEA-EARL"]
    assert walk(shop, sort="newest") == ["KIT-KETTLE", "COF-ETH", "TEA-EARL", "TEA-SENCHA"]
    assert walk(shop, q="tea", category="tea", sort="-price") == ["TEA-SENCHA", "TEA-EARL"]


def test_equal_prices_page_by_sku_without_skipping_or_repeating(inventory):
    for n in range(5):
        inventory.create_product(sku=f"P{n}", name="Same", price_cents=100 + n // 3)
    assert walk(inventory, limit=2, sort="price") == ["P0", "P1", "P2", "P3", "P4"]
    assert walk(inventory, limit=2, sort="-price") == ["P3", "P4", "P0", "P1", "P2"]
    assert walk(inventory, limit=2, sort="name") == ["P0", "P1", "P2", "P3", "P4"]


def test_a_cursor_holds_its_sort_order(shop):
    cursor = shop.list_products(limit=1, sort="price")["next_cursor"]
    with pytest.raises(InvalidProductInput) as raised:
        shop.list_products(limit=1, sort="name", cursor=cursor)
    assert raised.value.details == {"field": "cursor"}


@pytest.mark.parametrize(("listing", "field"), [
    ({"sort": "cheapest"}, "sort"), ({"category": "Tea"}, "category"),
    ({"q": "q" * 201}, "q"), ({"q": 5}, "q")])
def test_bad_listings_are_refused_naming_the_field(shop, listing, field):
    with pytest.raises(InvalidProductInput) as raised:
        shop.list_products(**listing)
    assert raised.value.details == {"field": field}


def test_an_archived_product_is_not_listed_found_or_orderable_until_brought_back(shop):
    archived = shop.update_product("TEA-EARL", active=False)
    assert archived["active"] is False
    assert "TEA-EARL" not in walk(shop) + skus(shop.list_products(q="earl"))
    with pytest.raises(ProductNotFound):
        shop.get_product("TEA-EARL")
    assert shop.get_products(["TEA-EARL", "COF-ETH"])["missing"] == ["TEA-EARL"]
    # The admin's view still has it, and can bring it back.
    assert "TEA-EARL" in walk(shop, include_archived=True)
    assert shop.get_product("TEA-EARL", include_archived=True)["active"] is False
    shop.update_product("TEA-EARL", active=True, category="gifts", image_url=None)
    back = shop.get_product("TEA-EARL")
    assert (back["category"], back["image_url"]) == ("gifts", None)


@pytest.mark.parametrize(("field", "value"), [
    ("category", "Tea"), ("category", ""), ("image_url", "javascript:alert(1)"),
    ("image_url", "//evil.example/x.png"), ("active", None), ("active", "no")])
def test_bad_changes_are_refused_naming_the_field(shop, field, value):
    with pytest.raises(InvalidProductInput) as raised:
        shop.update_product("TEA-EARL", **{field: value})
    assert raised.value.details == {"field": field}


def test_categories_count_the_active_products_of_each(shop):
    shop.update_product("COF-ETH", active=False)
    shop.create_product(sku="NONE", name="Uncategorised", price_cents=1)
    assert shop.list_categories() == {"items": [{"category": "gear", "products": 1},
                                                {"category": "tea", "products": 2}]}
