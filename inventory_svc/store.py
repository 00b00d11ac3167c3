"""Queries of inventory_svc's catalog, kept out of the entrypoints (the saga's are in
saga_store.py)."""

from __future__ import annotations

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from inventory_svc.models import Product, Stock


def product_dict(product: Product) -> dict:
    """The contract's product: its catalog fields and the units available to order."""
    return {"sku": product.sku, "name": product.name, "description": product.description,
            "price_cents": product.price_cents, "currency": product.currency,
            "available": product.stock.available}


def page_of_products(session: Session, limit: int, after: str | None) -> list[Product]:
    """`limit + 1` products in sku order after `after`: one extra tells if more follow."""
    query = select(Product).order_by(Product.sku).limit(limit + 1)
    if after is not None:
        query = query.where(Product.sku > after)
    return list(session.scalars(query))


def page_of_stock(session: Session, limit: int, after: str | None) -> list[Stock]:
    query = select(Stock).order_by(Stock.sku).limit(limit + 1)
    if after is not None:
        query = query.where(Stock.sku > after)
    return list(session.scalars(query))


def products_by_sku(session: Session, skus: list[str]) -> dict[str, Product]:
    found = session.scalars(select(Product).where(Product.sku.in_(skus)))
    return {product.sku: product for product in found}


def add_to_on_hand(session: Session, sku: str, quantity: int, most: int) -> Stock | None:
    """Atomically put `quantity` more units on the shelf unless on_hand would pass
    `most`: the stock, or None (the sku is unknown, or the ceiling would be passed)."""
    return session.scalars(
        update(Stock).where(Stock.sku == sku, Stock.on_hand <= most - quantity)
        .values(on_hand=Stock.on_hand + quantity, received=Stock.received + quantity)
        .returning(Stock)
    ).first()
