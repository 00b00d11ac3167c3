"""Event contracts: the envelope and the whole catalogue of DESIGN.md, declared once.

Every event is a frozen dataclass. `to_payload()` gives the JSON envelope that goes
on the wire; `parse(payload)` validates a received one back into its class (raising
`InvalidEvent`, which the consumer dead-letters at once: retrying cannot fix it).

    event = OrderCreated(order_id=..., ..., correlation_id=request_id)
    outbox.add(session, event)
"""

from __future__ import annotations

import dataclasses
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import ClassVar

import pydantic
from typing_extensions import TypedDict


def utc_now_iso() -> str:
    return datetime.now(UTC).isoformat()


class InvalidEvent(ValueError):
    """A payload that is not a valid event of the catalogue."""


@dataclass(frozen=True, kw_only=True)
class Event:
    """The envelope every event shares."""

    SOURCE: ClassVar[str]
    TYPE: ClassVar[str]
    VERSION: ClassVar[int] = 1

    event_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    occurred_at: str = field(default_factory=utc_now_iso)
    correlation_id: str | None = None

    @property
    def event_type(self) -> str:
        return self.TYPE

    @property
    def version(self) -> int:
        return self.VERSION

    def to_payload(self) -> dict:
        """The JSON-able envelope: event_type and version first, then the fields."""
        return {"event_type": self.TYPE, "version": self.VERSION,
                **dataclasses.asdict(self)}


CATALOGUE: dict[str, type[Event]] = {}
_adapters: dict[str, pydantic.TypeAdapter] = {}


def contract(source: str, event_type: str, version: int = 1):
    """Class decorator: declare an event of `source` with type `event_type`."""

    def register(cls):
        cls = dataclass(frozen=True, kw_only=True)(cls)
        cls.SOURCE, cls.TYPE, cls.VERSION = source, event_type, version
        if event_type in CATALOGUE:
            raise ValueError(f"event type declared twice: {event_type}")
        CATALOGUE[event_type] = cls
        return cls

    return register


def parse(payload) -> Event:
    """Validate a received envelope into its event class, or raise InvalidEvent."""
    if not isinstance(payload, dict):
        raise InvalidEvent(f"payload is {type(payload).__name__}, not an object")
    event_type = payload.get("event_type")
    cls = CATALOGUE.get(event_type)
    if cls is None:
        raise InvalidEvent(f"unknown event_type {event_type!r}")
    adapter = _adapters.get(event_type)
    if adapter is None:
        adapter = _adapters[event_type] = pydantic.TypeAdapter(cls)
    fields = {k: v for k, v in payload.items() if k not in ("event_type", "version")}
    try:
        return adapter.validate_python(fields, strict=False)
    except pydantic.ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(map(str, e['loc'])) or '<root>'}: {e['msg']}" for e in exc.errors())
        raise InvalidEvent(f"{event_type}: {problems}") from None


# ---- shared field shapes ---------------------------------------------------------

class OrderLine(TypedDict):
    sku: str
    name: str
    quantity: int
    unit_price_cents: int


class StockLine(TypedDict):
    sku: str
    quantity: int


class Shortage(TypedDict):
    sku: str
    requested: int
    available: int


# ---- the catalogue (DESIGN.md, "Events") -------------------------------------------

class PaymentState(TypedDict):
    status: str
    amount_cents: int | None
    refunded_cents: int


class ShipmentState(TypedDict):
    status: str
    carrier: str | None
    tracking_number: str | None


@dataclass(frozen=True, kw_only=True)
class OrderSnapshot(Event):
    """The order as it is after the transition the event announces: everything its
    consumers need (mails, stock, payment, shipping, the live stream), so none of them
    calls order_svc back. `payment` and `shipment` are null until known;
    `shipping_address` is null when the order has none."""

    order_id: str
    user_id: str
    user_email: str
    status: str
    previous_status: str | None = None
    reason: str | None = None
    items: list[OrderLine]
    total_cents: int
    currency: str
    shipping_address: dict | None = None
    payment: PaymentState | None = None
    shipment: ShipmentState | None = None


@contract("order_svc", "order.created", version=2)
class OrderCreated(OrderSnapshot):
    payment_token: str


@contract("order_svc", "order.reserved", version=2)
class OrderReserved(OrderSnapshot):
    pass


@contract("order_svc", "order.confirmed", version=2)
class OrderConfirmed(OrderSnapshot):
    pass


@contract("order_svc", "order.shipped", version=2)
class OrderShipped(OrderSnapshot):
    pass


@contract("order_svc", "order.delivered", version=2)
class OrderDelivered(OrderSnapshot):
    pass


@contract("order_svc", "order.cancelled", version=2)
class OrderCancelled(OrderSnapshot):
    # Optional addition: for reason out_of_stock, the lines inventory_svc could not hold
    # (inventory.failed's), so the mail names them without asking anyone. None otherwise.
    shortages: list[Shortage] | None = None


# Version 2 (the whole snapshot; v1 carried a few fields). What each order status is
# announced by (order.created is the birth, not a transition).
ORDER_TRANSITIONS: dict[str, type[OrderSnapshot]] = {
    "RESERVED": OrderReserved, "CONFIRMED": OrderConfirmed, "SHIPPED": OrderShipped,
    "DELIVERED": OrderDelivered, "CANCELLED": OrderCancelled,
}


@contract("inventory_svc", "inventory.reserved")
class InventoryReserved(Event):
    order_id: str
    reservation_id: str
    items: list[StockLine]
    expires_at: str


@contract("inventory_svc", "inventory.failed")
class InventoryFailed(Event):
    order_id: str
    reason: str
    shortages: list[Shortage]


@contract("inventory_svc", "inventory.released")
class InventoryReleased(Event):
    order_id: str
    reason: str


@dataclass(frozen=True, kw_only=True)
class _PaymentOutcome(Event):
    order_id: str
    payment_id: str
    amount_cents: int
    reason: str | None = None


@contract("payment_svc", "payment.succeeded")
class PaymentSucceeded(_PaymentOutcome):
    pass


@contract("payment_svc", "payment.failed")
class PaymentFailed(_PaymentOutcome):
    pass


@contract("payment_svc", "payment.refunded")
class PaymentRefunded(_PaymentOutcome):
    pass


@dataclass(frozen=True, kw_only=True)
class _DeliveryStep(Event):
    order_id: str
    shipment_id: str
    carrier: str
    tracking_number: str


@contract("delivery_svc", "delivery.shipped")
class DeliveryShipped(_DeliveryStep):
    pass


@contract("delivery_svc", "delivery.delivered")
class DeliveryDelivered(_DeliveryStep):
    pass


@contract("delivery_svc", "delivery.cancelled")
class DeliveryCancelled(Event):
    """The parcel will never leave: delivery_svc stopped it before it shipped, at a
    customer's cancel (order_svc's cancel_order asks first, then cancels the order;
    this event makes sure the order is cancelled even if order_svc fails in between)."""

    order_id: str
    shipment_id: str
    reason: str


@contract("user_svc", "user.registered")
class UserRegistered(Event):
    user_id: str
    email: str
    name: str | None
    # The single-use token of the welcome mail's verification link (None: nothing to
    # verify, e.g. the admin). Optional, so version 1 still parses.
    verification_token: str | None = None


@contract("user_svc", "user.password_reset_requested")
class PasswordResetRequested(Event):
    """Someone asked for a reset of this account's password: mail it the link (ours
    beyond the design's catalogue: the reset mail needs an event to reach notify_svc)."""

    user_id: str
    email: str
    reset_token: str  # single-use, valid PASSWORD_RESET_TTL_S; user_svc keeps its hash


@dataclass(frozen=True, kw_only=True)
class _NotificationOutcome(Event):
    notification_id: str
    user_id: str | None
    kind: str
    channel: str
    # Beyond the design's fields, optional: the live stream shows it to the user.
    subject: str | None = None


@contract("notify_svc", "notification.sent")
class NotificationSent(_NotificationOutcome):
    pass


@contract("notify_svc", "notification.failed")
class NotificationFailed(_NotificationOutcome):
    pass
