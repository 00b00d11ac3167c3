"""inventory_svc: the catalog, stock levels and per-order reservations.

    n.rpc.inventory_svc.list_products(limit=5)
    n.rpc.inventory_svc.restock(sku="TEA-SENCHA", quantity=10)
"""

from __future__ import annotations

import logging
from functools import partial

from nameko.dependency_providers import Config
from nameko.timer import timer
from sqlalchemy import select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import joinedload

from common import cursors, deadletters, events
from common.db import DatabaseSession, one_statement, utc_now
from common.entrypoints import rpc
from common.errors import field_checker
from common.inbox import InboxClaims
from common.logging import LogContext
from common.messaging import event_handler
from common.metrics import Metrics
from common.outbox import OutboxRelay
from inventory_svc import domain, reservations, saga_store, store
from inventory_svc.exceptions import DuplicateSku, InvalidProductInput, ProductNotFound
from inventory_svc.models import Base, DeadLetter, Inbox, Outbox, Product, Reservation, Stock

log = logging.getLogger(__name__)

# nameko reads a timer's interval when the class is defined, before config exists;
# the sweep runs this often and asks config only for what to release.
SWEEP_INTERVAL_S = 1.0
SWEEP_BATCH = 200


# A domain check's complaint becomes a 400 naming the field.
checked = field_checker(InvalidProductInput)


# A catalog or stock cursor: the last SKU of the page, checked as a SKU.
SKU_CURSOR = partial(cursors.decode_key, check=domain.check_sku)


# What update_product may change, each with its rule.
PRODUCT_CHANGES = {"name": domain.check_name, "description": domain.check_description,
                   "price_cents": domain.check_price, "category": domain.check_category,
                   "image_url": domain.check_image_url, "active": domain.check_active}


# Through the module: `nameko run` takes every class named in this module that has
# entrypoints for a service, the mixin too.
class InventoryService(deadletters.DeadLetterRpc):
    name = "inventory_svc"

    db = DatabaseSession(Base)
    relay = OutboxRelay(Base, Outbox)
    dead_letters = deadletters.DeadLetterStore(Base, DeadLetter)
    inbox = InboxClaims(Inbox)
    metrics = Metrics()
    correlation_id = LogContext()
    config = Config()

    def _product(self, sku) -> Product:
        """The product, read afresh (one statement, so it may run on its own)."""
        product = (self.db.get(Product, sku, populate_existing=True)
                   if isinstance(sku, str) else None)
        if product is None:
            raise ProductNotFound(f"no product {sku!r}", {"sku": sku})
        return product

    # ---- catalog (RPC) ---------------------------------------------------------------

    @rpc(expected_exceptions=InvalidProductInput)
    def list_products(self, limit=20, cursor=None, q=None, category=None, sort="sku",
                      include_archived=False):
        """One page of the catalog: {items: [product], next_cursor}.

        q: words of name or description, each matched as a prefix; category: a slug;
        sort: sku (default), name, price, -price, newest; include_archived: the admin's
        view, archived products too. A cursor holds its sort order: used with another,
        it is refused (400)."""
        limit = checked("limit", domain.check_limit, limit)
        sort = checked("sort", domain.check_sort, sort)
        position = partial(cursors.decode_key, check=partial(domain.parse_listing_position, sort))
        listing = store.Listing(
            sort=sort, words=tuple(checked("q", domain.search_words, q)),
            category=checked("category", domain.check_category, category),
            include_archived=include_archived is True,
            after=checked("cursor", position, cursor) if cursor else None)
        with one_statement(self.db):
            page = store.page_of_products(self.db, listing, limit)
        items = [store.product_dict(p) for p in page[:limit]]
        more = len(page) > limit
        return {"items": items, "next_cursor": cursors.encode_key(
            domain.listing_position(sort, items[-1])) if more else None}

    @rpc
    def list_categories(self):
        """The storefront's category filter: {items: [{category, products}]}, A to Z."""
        with one_statement(self.db):
            return {"items": store.categories(self.db)}

    @rpc(expected_exceptions=ProductNotFound)
    def get_product(self, sku, include_archived=False):
        """One product with the units available to order; an archived one is not found
        unless `include_archived` (the admin's view)."""
        with one_statement(self.db):
            product = self._product(sku)
        if not (product.active or include_archived is True):
            raise ProductNotFound(f"no product {sku!r}", {"sku": sku})
        return store.product_dict(product)

    @rpc
    def get_products(self, skus):
        """Many active products in one call (pricing an order): {items, missing}; an
        archived sku is missing, so an order for it is refused like an unknown one."""
        wanted = list(dict.fromkeys(s for s in skus if isinstance(s, str)))
        with one_statement(self.db):
            found = store.products_by_sku(self.db, wanted)
        return {"items": [store.product_dict(found[s]) for s in wanted if s in found],
                "missing": [s for s in wanted if s not in found]}

    @rpc(expected_exceptions=(InvalidProductInput, DuplicateSku))
    def create_product(self, sku, name, price_cents, description=None, currency="USD",
                       stock=0, category=None, image_url=None):
        """Add a product with its opening stock: the product; DuplicateSku."""
        product = Product(
            sku=checked("sku", domain.check_sku, sku),
            name=checked("name", domain.check_name, name),
            description=checked("description", domain.check_description, description),
            price_cents=checked("price_cents", domain.check_price, price_cents),
            currency=checked("currency", domain.check_currency, currency),
            category=checked("category", domain.check_category, category),
            image_url=checked("image_url", domain.check_image_url, image_url), active=True,
            stock=Stock(sku=sku, reserved=0, on_hand=checked(
                "stock", lambda q: domain.check_quantity(q, 0), stock)))
        product.stock.received = product.stock.on_hand
        self.db.add(product)
        try:
            self.db.commit()
        except IntegrityError:
            self.db.rollback()
            raise DuplicateSku(f"a product {sku!r} already exists", {"sku": sku}) from None
        return store.product_dict(product)

    @rpc(expected_exceptions=(InvalidProductInput, ProductNotFound))
    def update_product(self, sku, **changes):
        """Change only the fields given (PRODUCT_CHANGES); `active=False` archives it.
        Archived products can be changed and brought back."""
        unknown = set(changes) - set(PRODUCT_CHANGES)
        if unknown:
            raise InvalidProductInput(f"cannot change {', '.join(sorted(unknown))}",
                                      {"field": sorted(unknown)[0]})
        product = self._product(sku)
        for field, value in changes.items():
            setattr(product, field, checked(field, PRODUCT_CHANGES[field], value))
        self.db.commit()
        return store.product_dict(product)

    @rpc(expected_exceptions=(InvalidProductInput, ProductNotFound))
    def restock(self, sku, quantity):
        """Put `quantity` more units on the shelf: {sku, on_hand, reserved, available}."""
        quantity = checked("quantity", domain.check_quantity, quantity)
        stock = store.add_to_on_hand(self.db, sku, quantity, domain.MAX_ON_HAND) \
            if isinstance(sku, str) else None
        if stock is None:
            self._product(sku)  # ProductNotFound, or else the ceiling was in the way
            raise InvalidProductInput(
                f"quantity: on_hand would pass {domain.MAX_ON_HAND}", {"field": "quantity"})
        self.db.commit()
        return stock.to_dict()

    @rpc(expected_exceptions=ProductNotFound)
    def get_stock(self, sku):
        """{sku, on_hand, reserved, available} of one product."""
        with one_statement(self.db):
            return self._product(sku).stock.to_dict()

    @rpc(expected_exceptions=InvalidProductInput)
    def list_stock(self, limit=100, cursor=None):
        """Stock of every sku with `received` (for the invariant checker): {items, next_cursor}."""
        limit = checked("limit", domain.check_limit, limit)
        after = checked("cursor", SKU_CURSOR, cursor) if cursor else None
        with one_statement(self.db):
            page = store.page_of_stock(self.db, limit, after)
        more, page = len(page) > limit, page[:limit]
        return {"items": [s.audit_dict() for s in page],
                "next_cursor": cursors.encode_key(page[-1].sku) if more else None}

    @rpc
    def get_reservation(self, order_id):
        """The order's reservation, or None: {order_id, status, reason, expires_at, lines}."""
        if not isinstance(order_id, str):
            return None
        with one_statement(self.db):
            found = self.db.scalars(
                select(Reservation).where(Reservation.order_id == order_id)
                .options(joinedload(Reservation.lines))
                .execution_options(populate_existing=True)).unique().first()
        return reservations.describe(found) if found else None

    @rpc
    def health(self):
        """`{"status": "ok"}` when this service and its database answer."""
        with one_statement(self.db):
            self.db.execute(text("SELECT 1"))
        return {"status": "ok", "service": self.name}

    # ---- the order saga (events) -----------------------------------------------------

    @event_handler("order_svc", "order.created", non_retryable=(domain.InvalidOrderLines,))
    def reserve_stock(self, event: events.OrderCreated):
        """Hold every line or none: inventory.reserved or inventory.failed."""
        ttl = float(self.config["RESERVATION_TTL_S"])
        reservations.reserve(self.db, self.inbox, event, ttl, utc_now())
        self.db.commit()

    @event_handler("order_svc", "order.confirmed")
    def commit_stock(self, event: events.OrderConfirmed):
        """The order is paid: its held units leave the shelf."""
        reservations.commit(self.db, self.inbox, event, utc_now())
        self.db.commit()

    @event_handler("order_svc", "order.cancelled")
    def release_stock(self, event: events.OrderCancelled):
        """The order is off: release its hold or restock what it took."""
        reservations.cancel(self.db, self.inbox, event, utc_now())
        self.db.commit()

    @timer(interval=SWEEP_INTERVAL_S)
    def expire_holds(self):
        """Release holds never paid within RESERVATION_TTL_S: inventory.released(expired)."""
        now = utc_now()
        with one_statement(self.db):  # most sweeps find nothing: one cheap look
            if not saga_store.any_due(self.db, now):
                return
        reservations.expire_due(self.db, now, SWEEP_BATCH, self.correlation_id)
        self.db.commit()
