"""Seed the demo catalog (`python -m common.migrate --seed`: `make run`, `make seed`).

Idempotent: a product whose sku exists is left as it is (its stock included), so
re-running never undoes a restock or a sale.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

from sqlalchemy import create_engine
from sqlalchemy.dialects.postgresql import insert

from common.config import database_url
from inventory_svc.models import Product, Stock

CATALOG = Path(__file__).with_name("demo_catalog.json")
log = logging.getLogger("migrate")


def seed(url: str, catalog: list[dict]) -> int:
    """Insert the products not there yet; return how many were added."""
    engine = create_engine(url)
    added = 0
    try:
        with engine.begin() as conn:
            for item in catalog:
                inserted = conn.execute(
                    insert(Product).values(
                        sku=item["sku"], name=item["name"], description=item["description"],
                        price_cents=item["price_cents"], currency=item.get("currency", "USD"))
                    .on_conflict_do_nothing(index_elements=["sku"]).returning(Product.sku)
                ).first()
                if inserted:
                    conn.execute(insert(Stock).values(sku=item["sku"], on_hand=item["stock"],
                                                      reserved=0, received=item["stock"]))
                    added += 1
    finally:
        engine.dispose()
    return added


def seed_from_config(config: dict) -> None:
    catalog = json.loads(CATALOG.read_text())
    added = seed(database_url(config, "inventory_svc"), catalog)
    log.info("inventory_svc: demo catalog of %d products, %d added now", len(catalog), added)
