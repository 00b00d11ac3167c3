"""Errors payment_svc raises across RPC; the gateway maps them by their base class."""

from common.errors import ValidationError, remote


@remote
class InvalidPaymentQuery(ValidationError):
    """A bad filter, limit or cursor."""
