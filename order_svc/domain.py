"""Order rules of order_svc: the state machine and pricing, no nameko, no SQLAlchemy.

    PENDING -> RESERVED -> CONFIRMED -> SHIPPED -> DELIVERED
       \\_________\\___________\\___> CANCELLED (out_of_stock, payment_declined,
                                              customer_request, expired)

An order only moves forward: a late or duplicate event that would move it back (an
inventory.reserved after the payment already confirmed it) changes nothing, and a
CANCELLED order stays cancelled. Payment can confirm a PENDING order directly, since
payment_svc may hear inventory.reserved before order_svc does.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime

import pycountry

from common import cursors

PENDING, RESERVED, CONFIRMED = "PENDING", "RESERVED", "CONFIRMED"
PROCESSING = "PROCESSING"  # a shipment's first status
SHIPPED, DELIVERED, CANCELLED = "SHIPPED", "DELIVERED", "CANCELLED"
STATUSES = (PENDING, RESERVED, CONFIRMED, SHIPPED, DELIVERED, CANCELLED)
RANK = {PENDING: 0, RESERVED: 1, CONFIRMED: 2, SHIPPED: 3, DELIVERED: 4}
FINAL = (DELIVERED, CANCELLED)

OUT_OF_STOCK, PAYMENT_DECLINED = "out_of_stock", "payment_declined"
CUSTOMER_REQUEST, EXPIRED = "customer_request", "expired"

MAX_LINES, MAX_QUANTITY = 50, 1000
LIST_LIMIT_MAX = 100


class OrderRuleError(ValueError):
    """Input an order cannot be made of; `details` names what is wrong."""

    def __init__(self, message: str, details: dict):
        super().__init__(message)
        self.details = details


class PricesMoved(ValueError):
    """The client's expected total is not today's; `details` holds today's prices."""

    def __init__(self, details: dict):
        super().__init__("prices changed since the cart was priced")
        self.details = details


@dataclass(frozen=True)
class Transition:
    previous: str
    status: str
    reason: str | None = None
    # Out of stock: ({sku, requested, available}, ...), carried into order.cancelled.
    shortages: tuple[dict, ...] = ()


def cancellable(status: str) -> bool:
    """Before shipping, an order can still be called off."""
    return status in (PENDING, RESERVED, CONFIRMED)


def move(current: str, target: str, reason: str | None = None) -> Transition | None:
    """The transition from `current` to `target`, or None if it would not be forward."""
    if current in (CANCELLED, target):
        return None
    if target == CANCELLED:
        return Transition(current, CANCELLED, reason) if cancellable(current) else None
    if RANK[target] <= RANK[current]:
        return None
    return Transition(current, target, reason)


def out_of_stock(current: str, shortages) -> Transition | None:
    """inventory.failed's verdict: cancelled (out_of_stock) with the lines it could not
    hold, each {sku, requested, available} (the event's shortages, only those keys)."""
    transition = move(current, CANCELLED, OUT_OF_STOCK)
    if transition is None:
        return None
    lines = tuple({"sku": s["sku"], "requested": s["requested"], "available": s["available"]}
                  for s in shortages or ())
    return replace(transition, shortages=lines)


def on_inventory_released(current: str, reason: str) -> Transition | None:
    """A hold released by the expiry sweep cancels an unpaid order; others were ours."""
    if reason == EXPIRED and current in (PENDING, RESERVED):
        return move(current, CANCELLED, EXPIRED)
    return None


def past_deadline(current: str) -> Transition | None:
    """The deadline timer's verdict on a stuck order."""
    return move(current, CANCELLED, EXPIRED) if current in (PENDING, RESERVED) else None


# ---- placing an order ---------------------------------------------------------------

def order_lines(items) -> list[tuple[str, int]]:
    """[(sku, quantity)] in first-seen order, duplicates merged; or OrderRuleError."""
    if not isinstance(items, list) or not 1 <= len(items) <= MAX_LINES:
        raise OrderRuleError(f"an order has 1 to {MAX_LINES} lines", {"field": "items"})
    merged: dict[str, int] = {}
    for n, item in enumerate(items):
        sku = item.get("sku") if isinstance(item, Mapping) else None
        quantity = item.get("quantity") if isinstance(item, Mapping) else None
        if not isinstance(sku, str) or not sku:
            raise OrderRuleError("each line needs a sku", {"field": f"items.{n}.sku"})
        if type(quantity) is not int or not 1 <= quantity <= MAX_QUANTITY:
            raise OrderRuleError(f"quantity must be 1 to {MAX_QUANTITY}",
                                 {"field": f"items.{n}.quantity"})
        merged[sku] = merged.get(sku, 0) + quantity
    if any(q > MAX_QUANTITY for q in merged.values()):
        raise OrderRuleError(f"at most {MAX_QUANTITY} of one sku", {"field": "items"})
    return list(merged.items())


def check_payment_token(token) -> str:
    if not isinstance(token, str) or not 1 <= len(token) <= 64:
        raise OrderRuleError("payment token must be 1 to 64 characters",
                             {"field": "payment.token"})
    return token


@dataclass(frozen=True)
class PricedLine:
    sku: str
    name: str
    quantity: int
    unit_price_cents: int

    @property
    def line_total_cents(self) -> int:
        return self.quantity * self.unit_price_cents


# Field -> longest length; name, line1, city, postal_code and country are required.
ADDRESS_FIELDS = {"name": 100, "line1": 200, "line2": 200, "city": 100, "postal_code": 20,
                  "country": 2, "phone": 30}
ADDRESS_REQUIRED = ("name", "line1", "city", "postal_code", "country")
COUNTRIES = frozenset(country.alpha_2 for country in pycountry.countries)
PHONE = re.compile(r"\+?[0-9][0-9 ()./-]{4,29}")


def shipping_address(value) -> dict | None:
    """The address to ship to, checked and trimmed, every field present (null when not
    given), country an ISO 3166-1 alpha-2 code in capitals; None for no address."""
    if value is None:
        return None
    if not isinstance(value, Mapping):
        raise OrderRuleError("shipping_address must be an object",
                             {"field": "shipping_address"})
    for key in value:
        if key not in ADDRESS_FIELDS:
            raise OrderRuleError(f"shipping_address has no field {key!r}",
                                 {"field": f"shipping_address.{key}"})
    address = {}
    for field, longest in ADDRESS_FIELDS.items():
        text = value.get(field)
        where = {"field": f"shipping_address.{field}"}
        if text is None and field not in ADDRESS_REQUIRED:
            address[field] = None
            continue
        if not isinstance(text, str) or not text.strip() or not text.isprintable():
            raise OrderRuleError(f"shipping_address.{field} is required: some text", where)
        if len(text.strip()) > longest:
            raise OrderRuleError(f"shipping_address.{field} is at most {longest} characters",
                                 where)
        address[field] = text.strip()
    address["country"] = address["country"].upper()
    if address["country"] not in COUNTRIES:
        raise OrderRuleError("shipping_address.country must be an ISO 3166-1 alpha-2 code "
                             "(DE, FR, US, ...)", {"field": "shipping_address.country"})
    if address["phone"] is not None and not PHONE.fullmatch(address["phone"]):
        raise OrderRuleError("shipping_address.phone must be digits, spaces and + ( ) - . /",
                             {"field": "shipping_address.phone"})
    return address


def check_expected_total(priced: list[PricedLine], total_cents: int,
                         expected_total_cents: int | None) -> None:
    """Nothing if the client expected `total_cents` (or named no total); else
    PricesMoved with today's total and unit prices, for it to show and ask again."""
    if expected_total_cents is None:
        return
    if type(expected_total_cents) is not int or expected_total_cents < 0:
        raise OrderRuleError("expected_total_cents must be a whole number of cents, 0 or "
                             "more", {"field": "expected_total_cents"})
    if expected_total_cents == total_cents:
        return
    raise PricesMoved({"total_cents": total_cents,
                       "items": [{"sku": line.sku, "unit_price_cents": line.unit_price_cents}
                                 for line in priced]})


def price(lines: Iterable[tuple[str, int]], products: Mapping[str, Mapping]
          ) -> tuple[list[PricedLine], int, str]:
    """Snapshot name and price of each line: (lines, total_cents, currency)."""
    lines = list(lines)
    unknown = [sku for sku, _ in lines if sku not in products]
    if unknown:
        raise OrderRuleError(f"unknown sku: {', '.join(unknown)}", {"unknown_skus": unknown})
    currencies = {products[sku]["currency"] for sku, _ in lines}
    if len(currencies) > 1:
        raise OrderRuleError("all lines of an order must share one currency",
                             {"currencies": sorted(currencies)})
    priced = [PricedLine(sku, products[sku]["name"], quantity, products[sku]["price_cents"])
              for sku, quantity in lines]
    return priced, sum(line.line_total_cents for line in priced), currencies.pop()


def fingerprint(lines: Iterable[tuple[str, int]], payment_token: str,
                address: dict | None = None) -> str:
    """What an Idempotency-Key is bound to: the lines, the payment and the address
    (left out when there is none: keys of orders made before addresses still match)."""
    request = {"items": sorted(lines), "payment_token": payment_token}
    if address is not None:
        request["shipping_address"] = address
    canonical = json.dumps(request, separators=(",", ":"), sort_keys=True)
    return hashlib.sha256(canonical.encode()).hexdigest()


# ---- listing ------------------------------------------------------------------------

def check_limit(limit) -> int:
    if type(limit) is not int or not 1 <= limit <= LIST_LIMIT_MAX:
        raise OrderRuleError(f"limit must be 1 to {LIST_LIMIT_MAX}", {"field": "limit"})
    return limit


def check_status_filter(status) -> str | None:
    """A list's `status` filter: one of STATUSES, or None for every status."""
    if status is None:
        return None
    if status not in STATUSES:
        raise OrderRuleError(f"status must be one of {', '.join(STATUSES)}",
                             {"field": "status"})
    return status


def list_position(cursor) -> tuple[datetime, str]:
    """(created_at, order id) of a list cursor (common.cursors); OrderRuleError naming
    the field for one this API did not give out."""
    try:
        return cursors.decode_position(cursor)
    except cursors.InvalidCursor as exc:
        raise OrderRuleError(str(exc), {"field": "cursor"}) from None
