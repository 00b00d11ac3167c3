"""Queries of inventory_svc's catalog, kept out of the entrypoints (the saga's are in
saga_store.py)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import and_, func, or_, select, tuple_, update
from sqlalchemy.orm import Session

from inventory_svc.models import Product, Stock


def product_dict(product: Product) -> dict:
    """The contract's product: its catalog fields and the units available to order,
    plus `active` and `created_at` (ISO-8601) that admins and cursors use."""
    return {"sku": product.sku, "name": product.name, "description": product.description,
            "price_cents": product.price_cents, "currency": product.currency,
            "available": product.stock.available, "category": product.category,
            "image_url": product.image_url, "active": product.active,
            "created_at": product.created_at.isoformat()}


@dataclass(frozen=True)
class Listing:
    """Which products a page shows, in which order (domain.SORTS), from where."""

    sort: str = "sku"
    words: tuple[str, ...] = ()
    category: str | None = None
    include_archived: bool = False
    # (value, sku) of the last product shown: domain.parse_listing_position
    after: tuple[object, str] | None = None


# Each sort: the column compared, and whether it runs high to low. The sku breaks ties
# and always runs A to Z.
SORT_KEYS = {"sku": (Product.sku, False), "name": (Product.name, False),
             "price": (Product.price_cents, False), "-price": (Product.price_cents, True),
             "newest": (Product.created_at, True)}


def _after(column, descending: bool, value, sku: str):
    """Rows strictly after (value, sku) in the order (column asc|desc, sku asc)."""
    if not descending:
        return tuple_(column, Product.sku) > tuple_(value, sku)
    return or_(column < value, and_(column == value, Product.sku > sku))


def page_of_products(session: Session, listing: Listing, limit: int) -> list[Product]:
    """`limit + 1` products of the listing: one extra tells if more follow."""
    column, descending = SORT_KEYS[listing.sort]
    query = select(Product).limit(limit + 1).order_by(
        column.desc() if descending else column, Product.sku)
    if not listing.include_archived:
        query = query.where(Product.active.is_(True))
    if listing.category is not None:
        query = query.where(Product.category == listing.category)
    if listing.words:
        # Every word, as a prefix ("gr" finds "grey"). The words are \w+ only
        # (domain.search_words), so none is read as tsquery syntax; bound, not spliced.
        query = query.where(Product.search.op("@@")(
            func.to_tsquery("english", " & ".join(f"{w}:*" for w in listing.words))))
    if listing.after is not None:
        query = query.where(_after(column, descending, *listing.after))
    return list(session.scalars(query))


def page_of_stock(session: Session, limit: int, after: str | None) -> list[Stock]:
    query = select(Stock).order_by(Stock.sku).limit(limit + 1)
    if after is not None:
        query = query.where(Stock.sku > after)
    return list(session.scalars(query))


def categories(session: Session) -> list[dict]:
    """The categories of the active products, A to Z: [{category, products}]."""
    rows = session.execute(
        select(Product.category, func.count()).where(Product.active.is_(True),
                                                     Product.category.is_not(None))
        .group_by(Product.category).order_by(Product.category))
    return [{"category": category, "products": n} for category, n in rows]


def products_by_sku(session: Session, skus: list[str]) -> dict[str, Product]:
    """The active products among `skus`: an archived one is not orderable."""
    found = session.scalars(select(Product).where(Product.sku.in_(skus),
                                                  Product.active.is_(True)))
    return {product.sku: product for product in found}


def add_to_on_hand(session: Session, sku: str, quantity: int, most: int) -> Stock | None:
    """Atomically put `quantity` more units on the shelf unless on_hand would pass
    `most`: the stock, or None (the sku is unknown, or the ceiling would be passed)."""
    return session.scalars(
        update(Stock).where(Stock.sku == sku, Stock.on_hand <= most - quantity)
        .values(on_hand=Stock.on_hand + quantity, received=Stock.received + quantity)
        .returning(Stock)
    ).first()
