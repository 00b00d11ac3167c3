"""payment_svc's tables: payments, charge intents, cancelled orders, outbox and inbox.

The database enforces what money must never do: one payment per order, ever (a
UNIQUE order id, so two workers cannot both start a charge), a positive amount, and
never more refunded than captured (CHECKs).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, CheckConstraint, DateTime, Index, Integer, String, Text, Uuid
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from common.db import new_id, utc_now
from common.deadletters import DeadLetterMixin
from common.inbox import InboxMixin
from common.outbox import OutboxMixin


class Base(DeclarativeBase):
    pass


class Payment(Base):
    """The order's one charge: PENDING while the provider is asked, then settled."""

    __tablename__ = "payments"

    id: Mapped[str] = mapped_column(Uuid(as_uuid=False), primary_key=True, default=new_id)
    order_id: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[str] = mapped_column(String(64))
    amount_cents: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    status: Mapped[str] = mapped_column(String(16))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    refunded_cents: Mapped[int] = mapped_column(BigInteger, default=0)
    failure_reason: Mapped[str | None] = mapped_column(String(64))
    provider_ref: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utc_now)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utc_now,
                                                 onupdate=utc_now)

    __table_args__ = (
        CheckConstraint("amount_cents > 0", name="amount_positive"),
        CheckConstraint("refunded_cents >= 0 AND refunded_cents <= amount_cents",
                        name="refund_within_capture"),
        CheckConstraint("status IN ('PENDING', 'CAPTURED', 'FAILED', 'REFUNDED')",
                        name="known_status"),
        CheckConstraint("attempts >= 0", name="attempts_not_negative"),
        # The admin list: newest first, keyset-paged on (created_at, id).
        Index("ix_payments_created", "created_at", "id"),
    )


class ChargeIntent(Base):
    """What order.created says to charge; inventory.reserved carries no amount or token."""

    __tablename__ = "charge_intents"

    order_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[str] = mapped_column(String(64))
    amount_cents: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    payment_token: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utc_now)

    __table_args__ = (CheckConstraint("amount_cents > 0", name="intent_amount_positive"),)


class CancelledOrder(Base):
    """A tombstone: the order is off, so it is never charged again and a capture is undone."""

    __tablename__ = "cancelled_orders"

    order_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    reason: Mapped[str] = mapped_column(String(64))
    cancelled_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utc_now)


class DeadLetter(DeadLetterMixin, Base):
    """Messages that failed for good, kept out of the broker (common.deadletters)."""


class Outbox(OutboxMixin, Base):
    pass


class Inbox(InboxMixin, Base):
    pass
