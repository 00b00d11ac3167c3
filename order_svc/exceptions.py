"""Errors order_svc raises across RPC; the gateway maps them by their base class."""

from common.errors import (
    Conflict,
    IdempotencyConflict,
    NotFound,
    PriceChanged,
    ValidationError,
    remote,
)


@remote
class InvalidOrder(ValidationError):
    """The order's lines or payment are not acceptable (unknown skus named in details)."""


@remote
class OrderNotFound(NotFound):
    """No such order (or not one of the caller's)."""


@remote
class OrderNotCancellable(Conflict):
    """The order has shipped, been delivered or is already cancelled."""


@remote
class IdempotencyKeyReused(IdempotencyConflict):
    """This Idempotency-Key was used with another request body."""


@remote
class PricesChanged(PriceChanged):
    """`expected_total_cents` is not what the lines cost today: details `{total_cents,
    items: [{sku, unit_price_cents}]}` (today's prices); no order is made."""
