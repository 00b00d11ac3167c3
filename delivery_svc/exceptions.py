"""Errors delivery_svc raises across RPC; the gateway maps them by their base class."""

from common.errors import NotFound, remote


@remote
class ShipmentNotFound(NotFound):
    """No shipment for this order."""
