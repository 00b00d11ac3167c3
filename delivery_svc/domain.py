"""Shipping rules of delivery_svc (simulated): pure functions, no nameko, no SQLAlchemy.

A shipment is created PROCESSING when its order is confirmed, SHIPPED after
DELIVERY_SHIP_AFTER_S, DELIVERED after DELIVERY_DELIVER_AFTER_S more. The schedule is
stored with the shipment, and a timer moves whatever is due, so a restart loses and
repeats nothing.

A customer's cancel of a confirmed order is decided here, before order_svc accepts it
(`cancel_shipment`, an RPC): under the shipment's row lock a PROCESSING parcel is
CANCELLED (or, with no shipment yet, a CANCELLED tombstone is left, so a late
order.confirmed ships nothing) and delivery.cancelled is announced; a parcel that left
(SHIPPED, DELIVERED) makes the cancel a 409. The ship step moves a shipment only if it
is still PROCESSING, so exactly one of them wins: never a cancelled order whose parcel
left. order.cancelled, for orders cancelled before they were confirmed, leaves the same
tombstone; it still recalls a SHIPPED parcel (RECALLED) if one ever meets it, which the
invariant checker reports.
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


def can_stop(status: str | None) -> bool:
    """Whether a parcel in `status` (None: no shipment yet) can still be stopped."""
    return status in (None, PROCESSING, CANCELLED)


def ship_at(confirmed_at: datetime, after_s: float) -> datetime:
    return confirmed_at + timedelta(seconds=after_s)


def carrier_for(order_id: str) -> str:
    """The same order always goes with the same carrier."""
    return CARRIERS[hashlib.sha256(order_id.encode()).digest()[0] % len(CARRIERS)]


def tracking_number(carrier: str) -> str:
    return f"{carrier[:3].upper()}{secrets.randbelow(10**12):012d}"
