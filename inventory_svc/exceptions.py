"""Errors inventory_svc raises across RPC; the gateway maps them by their base class."""

from common.errors import Conflict, NotFound, ValidationError, remote


@remote
class ProductNotFound(NotFound):
    """No product with this sku."""


@remote
class DuplicateSku(Conflict):
    """A product with this sku already exists."""


@remote
class InvalidProductInput(ValidationError):
    """A product field, quantity or cursor is not acceptable."""
