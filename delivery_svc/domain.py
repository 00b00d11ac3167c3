"""Shipping rules of delivery_svc (simulated): pure functions, no nameko, no SQLAlchemy.

A shipment is created PROCESSING when its order is confirmed, SHIPPED after
DELIVERY_SHIP_AFTER_S, DELIVERED after DELIVERY_DELIVER_AFTER_S more. The schedule is
stored with the shipment, and a timer moves whatever is due, so a restart loses and
repeats nothing.

A cancel that reaches a PROCESSING shipment cancels it. One that races the ship step
and finds the parcel SHIPPED recalls it (RECALLED: intercepted, returned to the
warehouse, never delivered); the order is already cancelled, refunded and restocked,
so the books stay balanced. A cancel that finds no shipment leaves a CANCELLED
tombstone, so a late order.confirmed ships nothing.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta
from enum import Enum

PROCESSING, SHIPPED, DELIVERED = "PROCESSING", "SHIPPED", "DELIVERED"
CANCELLED, RECALLED = "CANCELLED", "RECALLED"
CARRIERS = ("DHL", "UPS", "FedEx", "USPS")


class Action(Enum):
    CANCEL = "cancel"
    RECALL = "recall"
    TOMBSTONE = "tombstone"
    NOTHING = "nothing"


def on_cancelled(status: str | None) -> Action:
    """What order.cancelled does to a shipment in `status` (None: none yet)."""
    return {None: Action.TOMBSTONE, PROCESSING: Action.CANCEL,
            SHIPPED: Action.RECALL}.get(status, Action.NOTHING)


def ship_at(confirmed_at: datetime, after_s: float) -> datetime:
    return confirmed_at + timedelta(seconds=after_s)


def carrier_for(order_id: str) -> str:
    """The same order always goes with the same carrier."""
    return CARRIERS[hashlib.sha256(order_id.encode()).digest()[0] % len(CARRIERS)]


def tracking_number(carrier: str) -> str:
    return f"{carrier[:3].upper()}{secrets.randbelow(10**12):012d}"
