"""The demo seed and `make import` (inventory_svc.seed) on this tier's real database."""

import json

import pytest

from common.config import ROOT
from inventory_svc import seed

HEADER = "sku,name,description,price_cents,currency,stock,category,image_url\n"


@pytest.fixture
def write_csv(tmp_path):
    def write(text: str, name="catalog.csv"):
        path = tmp_path / name
        path.write_text(text, encoding="utf-8")
        return path
    return write


def test_an_import_adds_new_products_and_updates_existing_ones_keeping_their_stock(
        inventory, inventory_db_url, write_csv, capsys):
    inventory.create_product(sku="TEA", name="Tea", price_cents=450, stock=10)
    inventory.restock("TEA", 5)
    inventory.update_product("TEA", active=False)
    path = write_csv(HEADER + 'TEA,"Sencha, 100 g",Grassy,1290,USD,999,tea,/static/t.svg\n'
                     "MUG,Mug,,1200,,3,cups,\n")
    assert seed.main([str(path)], url=inventory_db_url) == 0
    assert "2 products" in capsys.readouterr().out
    tea = inventory.get_product("TEA")  # archived before: an import brings it back
    assert (tea["name"], tea["price_cents"], tea["category"], tea["image_url"]) == (
        "Sencha, 100 g", 1290, "tea", "/static/t.svg")
    assert inventory.get_stock("TEA")["on_hand"] == 15  # not the file's 999
    mug = inventory.get_product("MUG")
    assert (mug["available"], mug["currency"], mug["description"], mug["image_url"]) == (
        3, "USD", None, None)


@pytest.mark.parametrize(("rows", "complaint"), [
    ("TEA,Tea,,450,USD,1,tea,\nBAD SKU,X,,1,USD,1,,\n", "line 4: sku must be"),
    ("TEA,Tea,,4.50,USD,1,tea,\n", "line 3: price_cents must be a whole number"),
    ("TEA,Tea,,450,USD,1,Tea Time,\n", "line 3: category must be"),
    ("TEA,Tea,,450,USD,1,,javascript:alert(1)\n", "line 3: image_url must be"),
    ("TEA,Tea,,450,USD,1,,\nTEA,Tea,,450,USD,1,,\n", "line 4: sku TEA appears twice"),
])
def test_one_bad_row_refuses_the_whole_file_naming_where(inventory, inventory_db_url,
                                                         write_csv, capsys, rows, complaint):
    path = write_csv(HEADER + "GOOD,Good,,100,USD,1,,\n" + rows)
    assert seed.main([str(path)], url=inventory_db_url) == 2
    error = capsys.readouterr().err
    assert "nothing written" in error and complaint in error
    assert inventory.list_products(include_archived=True)["items"] == []


def test_a_file_without_the_needed_columns_is_refused(inventory_db_url, write_csv, capsys):
    path = write_csv("sku,title,price\nTEA,Tea,450\n")
    assert seed.main([str(path)], url=inventory_db_url) == 2
    assert "lacks name, price_cents" in capsys.readouterr().err


def test_the_demo_seed_fills_what_an_older_demo_catalog_lacked_and_nothing_else(
        inventory, inventory_db_url):
    demo = json.loads(seed.CATALOG.read_text())
    first = demo[0]
    inventory.create_product(sku=first["sku"], name="Renamed by the shop", price_cents=1,
                             stock=0)
    seed.seed_from_config({"DB_URIS": {"inventory_svc:Base": inventory_db_url}})
    kept = inventory.get_product(first["sku"])
    assert (kept["name"], kept["price_cents"], kept["available"]) == (
        "Renamed by the shop", 1, 0)
    assert (kept["category"], kept["image_url"]) == (first["category"], first["image_url"])
    listed = [p["sku"] for p in inventory.list_products(limit=100)["items"]]
    assert sorted(listed) == sorted(item["sku"] for item in demo)


def test_the_documented_example_file_imports():
    products = seed.read_csv(ROOT / "docs" / "catalog-example.csv")
    assert [p["sku"] for p in products] == ["TEA-JASMINE-100", "COF-KENYA-250",
                                            "KIT-FILTERS-100"]
    assert products[0]["image_url"] is None and products[1]["category"] == "coffee"
