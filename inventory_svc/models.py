"""inventory_svc's tables: the catalog, stock levels, reservations, outbox and inbox.

The database itself enforces invariant 1: `0 <= reserved <= on_hand` is a CHECK
constraint, so no code path, however wrong, can oversell.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Computed,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    Uuid,
    text,
)
from sqlalchemy.dialects.postgresql import TSVECTOR
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from common.db import new_id, utc_now
from common.deadletters import DeadLetterMixin
from common.inbox import InboxMixin
from common.outbox import OutboxMixin

SEARCH_DOCUMENT = ("to_tsvector('english'::regconfig, "
                   "coalesce(name, '') || ' ' || coalesce(description, ''))")


class Base(DeclarativeBase):
    pass


class Product(Base):
    __tablename__ = "products"

    sku: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str | None] = mapped_column(Text)
    price_cents: Mapped[int] = mapped_column(Integer)
    currency: Mapped[str] = mapped_column(String(3), default="USD")
    category: Mapped[str | None] = mapped_column(String(40))
    image_url: Mapped[str | None] = mapped_column(String(500))
    # An archived product (False) is neither listed nor orderable; its stock and the
    # orders that hold it stay as they are.
    active: Mapped[bool] = mapped_column(Boolean, default=True, server_default=text("true"))
    # Kept by PostgreSQL itself from name and description (english stemming: "teas"
    # finds "tea"), so no writer can forget it; GIN-indexed for GET /products?q=.
    search: Mapped[str] = mapped_column(
        TSVECTOR, Computed(SEARCH_DOCUMENT, persisted=True), deferred=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utc_now)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utc_now,
                                                 onupdate=utc_now)
    stock: Mapped[Stock] = relationship(lazy="joined", innerjoin=True)

    __table_args__ = (
        CheckConstraint("price_cents > 0", name="price_positive"),
        Index("ix_products_search", "search", postgresql_using="gin"),
        # The storefront's listings: the active products of one category.
        Index("ix_products_active_category", "active", "category"),
    )


class Stock(Base):
    """Stock of one sku, in its own row so that reservations lock only this."""

    __tablename__ = "stock"

    sku: Mapped[str] = mapped_column(ForeignKey("products.sku", ondelete="CASCADE"),
                                     primary_key=True)
    # bigint, and on_hand capped at domain.MAX_ON_HAND by restock: no sum reaches 500.
    on_hand: Mapped[int] = mapped_column(BigInteger, default=0)
    reserved: Mapped[int] = mapped_column(BigInteger, default=0)
    # Every unit ever put on the shelf (opening stock + restocks): invariant 2 says
    # on_hand + units in live confirmed orders == received, once the system is quiet.
    received: Mapped[int] = mapped_column(BigInteger, default=0)

    __table_args__ = (
        CheckConstraint("reserved >= 0 AND reserved <= on_hand", name="no_oversell"),
    )

    @property
    def available(self) -> int:
        return self.on_hand - self.reserved

    def to_dict(self) -> dict:
        return {"sku": self.sku, "on_hand": self.on_hand, "reserved": self.reserved,
                "available": self.available}

    def audit_dict(self) -> dict:
        """to_dict plus `received`, for the invariant checker."""
        return {**self.to_dict(), "received": self.received}


class Reservation(Base):
    """What one order holds (or held). One per order, ever: the order id is unique."""

    __tablename__ = "reservations"

    id: Mapped[str] = mapped_column(Uuid(as_uuid=False), primary_key=True, default=new_id)
    order_id: Mapped[str] = mapped_column(String(64), unique=True)
    status: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str | None] = mapped_column(String(64))
    expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utc_now)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utc_now,
                                                 onupdate=utc_now)
    lines: Mapped[list[ReservationLine]] = relationship(
        lazy="selectin", cascade="all, delete-orphan", order_by="ReservationLine.sku")

    # The expiry sweep reads only holds, oldest first.
    __table_args__ = (Index("ix_reservations_held_expiry", "expires_at",
                            postgresql_where=text("status = 'HELD'")),)


class ReservationLine(Base):
    __tablename__ = "reservation_lines"

    reservation_id: Mapped[str] = mapped_column(
        ForeignKey("reservations.id", ondelete="CASCADE"), primary_key=True)
    sku: Mapped[str] = mapped_column(String(64), primary_key=True)
    quantity: Mapped[int] = mapped_column(Integer)

    __table_args__ = (CheckConstraint("quantity > 0", name="quantity_positive"),)


class DeadLetter(DeadLetterMixin, Base):
    """Messages that failed for good, kept out of the broker (common.deadletters)."""


class Outbox(OutboxMixin, Base):
    pass


class Inbox(InboxMixin, Base):
    pass
