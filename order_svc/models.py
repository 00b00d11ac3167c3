"""order_svc's tables: orders with their lines (price snapshot) and timeline."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Identity,
    Index,
    Integer,
    String,
    UniqueConstraint,
    Uuid,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from common.db import new_id, utc_now
from common.deadletters import DeadLetterMixin
from common.inbox import InboxMixin
from common.outbox import OutboxMixin


class Base(DeclarativeBase):
    pass


class Order(Base):
    __tablename__ = "orders"

    id: Mapped[str] = mapped_column(Uuid(as_uuid=False), primary_key=True, default=new_id)
    user_id: Mapped[str] = mapped_column(String(64))
    user_email: Mapped[str] = mapped_column(String(254))
    status: Mapped[str] = mapped_column(String(16))
    cancel_reason: Mapped[str | None] = mapped_column(String(32))
    total_cents: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    # Where it ships: a snapshot of the address given at checkout (domain.shipping_address),
    # or null for an order placed without one.
    shipping_address: Mapped[dict | None] = mapped_column(JSONB)
    # Idempotency: the key is unique per user and bound to the request's fingerprint;
    # a replay gets the first answer again, word for word.
    idempotency_key: Mapped[str | None] = mapped_column(String(255))
    request_fingerprint: Mapped[str] = mapped_column(String(64))
    first_response: Mapped[dict | None] = mapped_column(JSONB)
    # What order_svc has heard of the payment (payment_svc owns the payment itself).
    payment_status: Mapped[str | None] = mapped_column(String(16))
    payment_amount_cents: Mapped[int | None] = mapped_column(BigInteger)
    refunded_cents: Mapped[int] = mapped_column(BigInteger, default=0)
    # What order_svc has heard of the shipment (delivery_svc owns it).
    shipment_status: Mapped[str | None] = mapped_column(String(16))
    carrier: Mapped[str | None] = mapped_column(String(32))
    tracking_number: Mapped[str | None] = mapped_column(String(64))
    deadline_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utc_now)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utc_now,
                                                 onupdate=utc_now)
    # Loaded when asked for: joined to the saga's lock (store.locked_order, every order.*
    # event carries the lines), one query per page for lists.
    items: Mapped[list[OrderItem]] = relationship(
        lazy="select", cascade="all, delete-orphan", order_by="OrderItem.line_no")

    __table_args__ = (
        UniqueConstraint("user_id", "idempotency_key", name="one_order_per_key"),
        Index("ix_orders_user_newest", "user_id", "created_at", "id"),
        Index("ix_orders_newest", "created_at", "id"),
        # The deadline timer reads only orders still waiting.
        Index("ix_orders_waiting_deadline", "deadline_at",
              postgresql_where=text("status IN ('PENDING', 'RESERVED')")),
        CheckConstraint("total_cents >= 0", name="total_not_negative"),
    )


class OrderItem(Base):
    """A line with the product's name and price as they were when the order was placed."""

    __tablename__ = "order_items"

    order_id: Mapped[str] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"),
                                          primary_key=True)
    line_no: Mapped[int] = mapped_column(Integer, primary_key=True)
    sku: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(200))
    quantity: Mapped[int] = mapped_column(Integer)
    unit_price_cents: Mapped[int] = mapped_column(BigInteger)


class TimelineEntry(Base):
    """An event that touched the order, in the order order_svc saw them."""

    __tablename__ = "order_timeline"

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    order_id: Mapped[str] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"),
                                          index=True)
    type: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utc_now)
    data: Mapped[dict] = mapped_column(JSONB)


class DeadLetter(DeadLetterMixin, Base):
    """Messages that failed for good, kept out of the broker (common.deadletters)."""


class Outbox(OutboxMixin, Base):
    pass


class Inbox(InboxMixin, Base):
    pass
