"""delivery_svc's tables: shipments with their schedule, outbox and inbox."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, Index, String, Uuid, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from common.db import new_id, utc_now
from common.deadletters import DeadLetterMixin
from common.inbox import InboxMixin
from common.outbox import OutboxMixin


class Base(DeclarativeBase):
    pass


class Shipment(Base):
    __tablename__ = "shipments"

    id: Mapped[str] = mapped_column(Uuid(as_uuid=False), primary_key=True, default=new_id)
    order_id: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[str | None] = mapped_column(String(64))
    # The request that placed the order: shipping steps stay correlated with it.
    correlation_id: Mapped[str | None] = mapped_column(String(255))
    status: Mapped[str] = mapped_column(String(16))
    carrier: Mapped[str | None] = mapped_column(String(32))
    tracking_number: Mapped[str | None] = mapped_column(String(64))
    # Where the parcel goes: the order's shipping address as order.confirmed carried it
    # (null for an order placed without one).
    ship_to: Mapped[dict | None] = mapped_column(JSONB(none_as_null=True))
    # When the timer moves it next: ship_at while PROCESSING, deliver_at while SHIPPED.
    due_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    shipped_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    delivered_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utc_now)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utc_now,
                                                 onupdate=utc_now)

    __table_args__ = (
        Index("ix_shipments_due", "due_at",
              postgresql_where=text("status IN ('PROCESSING', 'SHIPPED')")),
    )

    def to_dict(self) -> dict:
        return {"id": self.id, "order_id": self.order_id, "status": self.status,
                "carrier": self.carrier, "tracking_number": self.tracking_number,
                "shipped_at": self.shipped_at.isoformat() if self.shipped_at else None,
                "delivered_at": self.delivered_at.isoformat() if self.delivered_at else None}


class DeadLetter(DeadLetterMixin, Base):
    """Messages that failed for good, kept out of the broker (common.deadletters)."""


class Outbox(OutboxMixin, Base):
    pass


class Inbox(InboxMixin, Base):
    pass
