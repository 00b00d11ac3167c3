"""The demo catalog (`python -m common.migrate --seed`: `make run`, `make seed`) and a
shop's own catalog from CSV (`python -m inventory_svc.seed catalog.csv`: `make import`).

    sku,name,description,price_cents,currency,stock,category,image_url
    TEA-SENCHA-100,"Sencha Green Tea, 100 g",Grassy and bright,1250,USD,120,tea,/static/...

Both are idempotent and never undo a restock or a sale: a new sku is added with `stock`
units on hand; an existing one keeps its stock. The demo seed fills only what an
existing product lacks (its category and image, added after the first demo catalog);
an import updates the catalog fields of existing products (name, description, price,
currency, category, image) and brings archived ones back. Every row is checked with the
service's own rules first (inventory_svc.domain); one bad row refuses the whole file,
naming its line and field, and nothing is written.
"""

from __future__ import annotations

import argparse
import csv
import json
import logging
import sys
from collections.abc import Iterable
from pathlib import Path

from sqlalchemy import create_engine, func
from sqlalchemy.dialects.postgresql import insert

from common.config import database_url, load_config
from inventory_svc import domain
from inventory_svc.models import Product, Stock

CATALOG = Path(__file__).with_name("demo_catalog.json")
COLUMNS = ("sku", "name", "description", "price_cents", "currency", "stock", "category",
           "image_url")
CATALOG_FIELDS = ("name", "description", "price_cents", "currency", "category", "image_url")
log = logging.getLogger("migrate")


class BadCatalogRow(ValueError):
    """A row of a catalog file that the catalog's rules refuse: says where and why."""


def checked_product(row: dict) -> dict:
    """One product of a catalog file or the demo catalog, by the service's rules.
    Numbers may come as text (CSV); empty optional cells mean none. ValueError."""
    def number(field: str, default: int | None = None) -> int:
        value = row.get(field)
        if value in (None, "") and default is not None:
            return default
        try:
            return value if type(value) is int else int(str(value).strip())
        except ValueError:
            raise ValueError(f"{field} must be a whole number") from None

    def optional(field: str) -> str | None:
        value = row.get(field)
        return None if value in (None, "") else str(value).strip()

    return {"sku": domain.check_sku((row.get("sku") or "").strip()),
            "name": domain.check_name(row.get("name")),
            "description": domain.check_description(optional("description")),
            "price_cents": domain.check_price(number("price_cents")),
            "currency": domain.check_currency(optional("currency") or "USD"),
            "stock": domain.check_quantity(number("stock", 0), 0),
            "category": domain.check_category(optional("category")),
            "image_url": domain.check_image_url(optional("image_url"))}


def upsert(url: str, products: Iterable[dict], *, update_existing: bool) -> tuple[int, int]:
    """Write checked products in one transaction: (added, updated)."""
    added = updated = 0
    engine = create_engine(url)
    try:
        with engine.begin() as conn:
            for product in products:
                fields = {k: product[k] for k in ("sku", *CATALOG_FIELDS)}
                statement = insert(Product).values(**fields, active=True)
                if update_existing:
                    changes = {k: statement.excluded[k] for k in CATALOG_FIELDS}
                    changes["active"] = True
                else:  # the demo seed: fill what an older demo catalog did not have
                    changes = {k: func.coalesce(getattr(Product, k), statement.excluded[k])
                               for k in ("category", "image_url")}
                conn.execute(statement.on_conflict_do_update(index_elements=["sku"],
                                                             set_=changes))
                inserted = conn.execute(
                    insert(Stock).values(sku=product["sku"], on_hand=product["stock"],
                                         reserved=0, received=product["stock"])
                    .on_conflict_do_nothing(index_elements=["sku"]).returning(Stock.sku)
                ).first() is not None
                added += inserted
                updated += not inserted and update_existing
    finally:
        engine.dispose()
    return added, updated


def read_csv(path: Path) -> list[dict]:
    """The checked products of a catalog file; BadCatalogRow for the first bad row."""
    with path.open(newline="", encoding="utf-8-sig") as file:
        reader = csv.DictReader(file)
        missing = {"sku", "name", "price_cents"} - set(reader.fieldnames or ())
        if missing:
            raise BadCatalogRow(f"{path}: the header lacks {', '.join(sorted(missing))} "
                                f"(columns: {','.join(COLUMNS)})")
        products, seen = [], set()
        for row in reader:
            try:
                product = checked_product(row)
            except ValueError as exc:
                raise BadCatalogRow(f"{path}, line {reader.line_num}: {exc}") from None
            if product["sku"] in seen:
                raise BadCatalogRow(f"{path}, line {reader.line_num}: sku "
                                    f"{product['sku']} appears twice")
            seen.add(product["sku"])
            products.append(product)
    return products


def seed_from_config(config: dict) -> None:
    catalog = [checked_product(item) for item in json.loads(CATALOG.read_text())]
    added, _ = upsert(database_url(config, "inventory_svc"), catalog, update_existing=False)
    log.info("inventory_svc: demo catalog of %d products, %d added now", len(catalog), added)


def main(argv: list[str] | None = None, url: str | None = None) -> int:
    """`make import`: 0 when imported, 2 (nothing written) when the file is refused."""
    parser = argparse.ArgumentParser(description="Import a catalog from CSV (make import).")
    parser.add_argument("csv", type=Path, help=f"columns: {','.join(COLUMNS)}")
    args = parser.parse_args(argv)
    try:
        products = read_csv(args.csv)
    except (BadCatalogRow, OSError, UnicodeDecodeError, csv.Error) as exc:
        print(f"import refused, nothing written: {exc}", file=sys.stderr)
        return 2
    url = url or database_url(load_config(), "inventory_svc")
    added, updated = upsert(url, products, update_existing=True)
    print(f"imported {len(products)} products from {args.csv}: {added} new, "
          f"{updated} updated (stock of existing products left as it was)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
