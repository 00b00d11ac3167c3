"""Stock rules of inventory_svc: pure functions, no nameko, no SQLAlchemy.

A reservation belongs to one order and moves HELD -> COMMITTED (order confirmed) or
HELD -> RELEASED (order cancelled) or HELD -> EXPIRED (never paid in time); FAILED
records an order that could not be reserved. Events can arrive in any order and more
than once; `on_confirmed` and `on_cancelled` say what each one does in every state,
so every path converges and nothing is done twice.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import Enum

HELD, COMMITTED, RELEASED, EXPIRED, FAILED = "HELD", "COMMITTED", "RELEASED", "EXPIRED", "FAILED"
# The reason of a reservation row written for an order cancelled before it was created:
# the late order.created finds it and reserves nothing.
TOMBSTONE_REASON = "cancelled_before_created"
OUT_OF_STOCK = "out_of_stock"

SKU_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
CURRENCY_PATTERN = re.compile(r"^[A-Z]{3}$")
MAX_QUANTITY = 1_000_000_000
# The most units one SKU may have on hand: a restock past it is refused (400), so no
# running sum (on_hand, reserved, received: bigint) ever leaves its column's range.
MAX_ON_HAND = 1_000_000_000_000
MAX_PRICE_CENTS = 1_000_000_000
LIST_LIMIT_MAX = 100


class InvalidOrderLines(ValueError):
    """An order.created whose lines no retry can make valid."""


@dataclass(frozen=True)
class Level:
    on_hand: int
    reserved: int

    @property
    def available(self) -> int:
        return self.on_hand - self.reserved


def merge_lines(items: Iterable[Mapping]) -> dict[str, int]:
    """Quantity wanted per sku, in sku order (the order rows are locked in)."""
    wanted: dict[str, int] = {}
    for item in items:
        quantity = item["quantity"]
        if not isinstance(quantity, int) or quantity <= 0 or quantity > MAX_QUANTITY:
            raise InvalidOrderLines(f"bad quantity {quantity!r} for {item['sku']!r}")
        wanted[item["sku"]] = wanted.get(item["sku"], 0) + quantity
    if not wanted:
        raise InvalidOrderLines("an order without lines")
    return dict(sorted(wanted.items()))


def shortages(wanted: Mapping[str, int], levels: Mapping[str, Level]) -> list[dict]:
    """The lines that cannot be held; empty when all of them can (all or none)."""
    short = []
    for sku, quantity in wanted.items():
        available = levels[sku].available if sku in levels else 0
        if quantity > available:
            short.append({"sku": sku, "requested": quantity, "available": max(available, 0)})
    return short


class Action(Enum):
    COMMIT = "commit"          # held units leave the shelf: on_hand and reserved drop
    COMMIT_DIRECT = "commit_direct"  # the hold expired: take from what is available now
    RELEASE = "release"        # held units return to available: reserved drops
    RESTOCK = "restock"        # committed units go back on the shelf: on_hand rises
    TOMBSTONE = "tombstone"    # nothing yet: remember the cancel for the late create
    RETRY = "retry"            # too early: the reservation is not there yet
    NOTHING = "nothing"


def on_confirmed(status: str | None) -> Action:
    """What order.confirmed does to a reservation in `status` (None: no reservation)."""
    return {None: Action.RETRY, HELD: Action.COMMIT, EXPIRED: Action.COMMIT_DIRECT}.get(
        status, Action.NOTHING)


def on_cancelled(status: str | None) -> Action:
    """What order.cancelled does to a reservation in `status` (None: no reservation)."""
    return {None: Action.TOMBSTONE, HELD: Action.RELEASE, COMMITTED: Action.RESTOCK}.get(
        status, Action.NOTHING)


def hold_expiry(now: datetime, ttl_s: float) -> datetime:
    return now + timedelta(seconds=ttl_s)


# ---- catalog input ------------------------------------------------------------------

def check_sku(sku) -> str:
    if not isinstance(sku, str) or not SKU_PATTERN.match(sku):
        raise ValueError("sku must be 1-64 letters, digits, '.', '_' or '-'")
    return sku


def check_price(price_cents) -> int:
    if type(price_cents) is not int or not 0 < price_cents <= MAX_PRICE_CENTS:
        raise ValueError(f"price_cents must be an integer from 1 to {MAX_PRICE_CENTS}")
    return price_cents


def check_quantity(quantity, minimum: int = 1) -> int:
    if type(quantity) is not int or not minimum <= quantity <= MAX_QUANTITY:
        raise ValueError(f"must be an integer from {minimum} to {MAX_QUANTITY}")
    return quantity


def check_currency(currency) -> str:
    if not isinstance(currency, str) or not CURRENCY_PATTERN.match(currency):
        raise ValueError("currency must be three capital letters (ISO 4217)")
    return currency


def check_name(name) -> str:
    if not isinstance(name, str) or not name.strip() or len(name) > 200:
        raise ValueError("name must be 1 to 200 characters")
    return name.strip()


def check_description(description) -> str | None:
    if description is not None and (not isinstance(description, str)
                                    or len(description) > 2000):
        raise ValueError("description must be at most 2000 characters")
    return description


def check_limit(limit) -> int:
    if type(limit) is not int or not 1 <= limit <= LIST_LIMIT_MAX:
        raise ValueError(f"limit must be an integer from 1 to {LIST_LIMIT_MAX}")
    return limit


# ---- catalog: categories, images, search and order of a listing -----------------------

CATEGORY_PATTERN = re.compile(r"^[a-z0-9][a-z0-9-]{0,39}$")
MAX_IMAGE_URL = 500
IMAGE_URL_PATTERN = re.compile(r"^(https?://\S+|/[^/\s]\S*)$")
# A search is words, not a query language: at most this many, each cut to this length.
MAX_SEARCH_WORDS, MAX_SEARCH_WORD = 8, 40
SEARCH_WORD = re.compile(r"\w+")
# name: A→Z; price: cheapest first; -price: dearest first; newest: last added first.
# Ties are broken by sku, so a page boundary is one exact position.
SORTS = ("sku", "name", "price", "-price", "newest")


def check_category(category) -> str | None:
    """A category slug (`tea`, `brewing-gear`) or None for none."""
    if category is not None and (not isinstance(category, str)
                                 or not CATEGORY_PATTERN.fullmatch(category)):
        raise ValueError("category must be 1-40 lowercase letters, digits or '-', "
                         "starting with a letter or digit")
    return category


def check_image_url(image_url) -> str | None:
    """An http(s) URL or a path on this site ('/static/...'), or None for none.

    Anything else (javascript:, data:, a protocol-relative '//host') is refused: the
    storefront puts it in an <img src>, and nothing from another origin sneaks in by
    a scheme nobody meant to allow."""
    if image_url is not None and (not isinstance(image_url, str)
                                  or len(image_url) > MAX_IMAGE_URL
                                  or not IMAGE_URL_PATTERN.fullmatch(image_url)):
        raise ValueError(f"image_url must be an http(s) URL or a path starting with '/', "
                         f"at most {MAX_IMAGE_URL} characters, without spaces")
    return image_url


def check_active(active) -> bool:
    if type(active) is not bool:
        raise ValueError("active must be true or false")
    return active


def check_sort(sort) -> str:
    if sort not in SORTS:
        raise ValueError(f"sort must be one of {', '.join(SORTS[1:])}")
    return sort


def search_words(q) -> list[str]:
    """The words of a search box, lower-cased, for a prefix full-text match: 'Earl gr'
    finds 'Earl Grey'. Punctuation separates words and is dropped, so nothing a
    shopper types can be read as query syntax; [] when there is nothing to look for."""
    if q is None:
        return []
    if not isinstance(q, str) or len(q) > 200:
        raise ValueError("q must be at most 200 characters")
    words = [w[:MAX_SEARCH_WORD] for w in SEARCH_WORD.findall(q.lower().replace("_", " "))]
    return list(dict.fromkeys(words))[:MAX_SEARCH_WORDS]


def listing_position(sort: str, product: Mapping) -> str:
    """Where a listing in `sort` order stands after `product` (a product_dict with
    `created_at`): the key its cursor carries. The sku alone for the sku order, as
    before sorts existed, so cursors given out then still work."""
    if sort == "sku":
        return product["sku"]
    value = {"name": product["name"], "price": product["price_cents"],
             "-price": product["price_cents"], "newest": product["created_at"]}[sort]
    return f"{sort}|{product['sku']}|{value}"


def parse_listing_position(sort: str, key: str) -> tuple[object, str]:
    """The position `listing_position` wrote for this sort: (value, sku), the value
    typed as the sort compares it (the sku itself, a str name, an int price, an aware
    datetime). ValueError for a key of another sort or a malformed one."""
    if sort == "sku":
        return check_sku(key), key
    written_sort, sku, value = key.split("|", 2)
    if written_sort != sort:
        raise ValueError("cursor of another sort order")
    if sort in ("price", "-price"):
        value = int(value)
    elif sort == "newest":
        value = datetime.fromisoformat(value)
        if value.tzinfo is None:
            raise ValueError("cursor time without its offset")
    return value, check_sku(sku)
