"""/products/*: the catalog, read by anyone, written and restocked by admins.

inventory_svc owns products and stock; these views validate input and shape answers.
A sku in the path that no product could have (see schemas.SKU) is a 404 without
asking the service. Reads are answered from gateway.catalog's short-lived cache when
it has them; writes through this process empty it.
"""

from __future__ import annotations

from collections.abc import Callable

from flask import Blueprint, Response, current_app, request

from common.errors import NotFound
from gateway import rpc
from gateway.auth import require_auth
from gateway.body import json_body
from gateway.routes import pick, query_args
from gateway.schemas import (
    SKU,
    CreateProductRequest,
    ProductListQuery,
    RestockRequest,
    UpdateProductRequest,
)
from gateway.state import state

bp = Blueprint("products", __name__, url_prefix="/products")
# Not under /products/: "categories" is a valid sku.
categories_bp = Blueprint("categories", __name__, url_prefix="/categories")
# The admin's catalog: archived products too, never cached.
admin_bp = Blueprint("admin_products", __name__, url_prefix="/admin/products")

PRODUCT_FIELDS = ("sku", "name", "description", "price_cents", "currency", "available",
                  "category", "image_url")
# What an admin's write answers: the product and whether it is listed (archived or not).
WRITTEN_FIELDS = (*PRODUCT_FIELDS, "active")
STOCK_FIELDS = ("sku", "on_hand", "reserved", "available")


def path_sku(sku: str) -> str:
    """The sku of a URL path, or NotFound when it is not a sku at all."""
    if SKU.fullmatch(sku) is None:
        raise NotFound("no such product")
    return sku


def cached(read: Callable[[], dict]) -> Response:
    """This request's answer from the catalog cache, or `read()` (then kept)."""
    catalog = state().catalog
    body = catalog.get(request.full_path)
    if body is not None:
        return current_app.response_class(body, mimetype=current_app.json.mimetype)
    generation = catalog.generation
    response = current_app.json.response(read())
    catalog.put(request.full_path, response.get_data(), generation)
    return response


def page_of_products(query: ProductListQuery, fields: tuple[str, ...], **listing) -> dict:
    """The page `query` asks for, each product shaped to `fields`: {items, next_cursor}."""
    page = rpc.call("inventory_svc", "list_products", limit=query.limit, cursor=query.cursor,
                    q=query.q, category=query.category, sort=query.sort or "sku", **listing)
    return {"items": [pick(product, fields) for product in page.get("items") or []],
            "next_cursor": page.get("next_cursor")}


def changed(answer):
    """A write went through: drop this process's cached catalog answers."""
    state().catalog.invalidate()
    return answer


@bp.get("")
def list_products():
    """A page of the catalog: {items: [product], next_cursor} (`?limit=1..100&cursor=`,
    `q=` words of name or description, `category=`, `sort=name|price|-price|newest`).
    Archived products are not listed."""
    query = query_args(ProductListQuery)
    return cached(lambda: page_of_products(query, PRODUCT_FIELDS))


@categories_bp.get("")
def list_categories():
    """The categories that have products: {items: [{category, products}]}, A to Z."""
    return cached(lambda: {"items": [
        pick(item, ("category", "products"))
        for item in rpc.call("inventory_svc", "list_categories").get("items") or []]})


@bp.get("/<sku>")
def get_product(sku: str):
    """One product {sku, name, description, price_cents, currency, available, category,
    image_url}; 404 for an unknown or archived one."""
    sku = path_sku(sku)
    return cached(lambda: pick(rpc.call("inventory_svc", "get_product", sku=sku),
                               PRODUCT_FIELDS))


@bp.post("")
@require_auth(role="admin", scope="catalog:write")
def create_product():
    """Add a product with its initial stock: 201 the product, Location; 409 duplicate sku."""
    body = json_body(CreateProductRequest)
    product = rpc.call("inventory_svc", "create_product", **body.model_dump())
    return changed((pick(product, WRITTEN_FIELDS), 201, {"Location": f"/products/{body.sku}"}))


@bp.patch("/<sku>")
@require_auth(role="admin", scope="catalog:write")
def update_product(sku: str):
    """Change the fields sent (only those): 200 the product with `active`;
    `active: false` archives it, `true` brings it back."""
    sku = path_sku(sku)
    changes = json_body(UpdateProductRequest).model_dump(exclude_unset=True)
    product = rpc.call("inventory_svc", "update_product", sku=sku, **changes)
    return changed(pick(product, WRITTEN_FIELDS))


@bp.post("/<sku>/restock")
@require_auth(role="admin", scope="inventory:write")
def restock(sku: str):
    """Add `quantity` units on hand: 200 {sku, on_hand, reserved, available}."""
    sku = path_sku(sku)
    body = json_body(RestockRequest)
    stock = rpc.call("inventory_svc", "restock", sku=sku, quantity=body.quantity)
    return changed(pick(stock, STOCK_FIELDS))


@admin_bp.get("")
@require_auth(role="admin", scope="catalog:write")
def list_all_products():
    """The admin's catalog, archived products too: {items: [product with `active`],
    next_cursor}; the same `?q=&category=&sort=&limit=&cursor=` as GET /products."""
    return page_of_products(query_args(ProductListQuery), WRITTEN_FIELDS,
                            include_archived=True)


@admin_bp.get("/<sku>")
@require_auth(role="admin", scope="catalog:write")
def get_any_product(sku: str):
    """One product, archived or not, with `active`; 404 for an unknown sku."""
    sku = path_sku(sku)
    return pick(rpc.call("inventory_svc", "get_product", sku=sku, include_archived=True),
                WRITTEN_FIELDS)
