"""Small services that exercise common/ against the real broker and database."""

from __future__ import annotations

from nameko.rpc import rpc
from sqlalchemy import Integer, String, func, select
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from common import events
from common.db import DatabaseSession
from common.deadletters import DeadLetterMixin, DeadLetterRpc, DeadLetterStore
from common.deadletters import page as deadletters_page
from common.inbox import InboxClaims, InboxMixin
from common.logging import LogContext
from common.messaging import NonRetryable, event_handler
from common.outbox import OutboxMixin, OutboxRelay


class Base(DeclarativeBase):
    pass


class Outbox(OutboxMixin, Base):
    pass


class Inbox(InboxMixin, Base):
    pass


class DeadLetter(DeadLetterMixin, Base):
    pass


class Effect(Base):
    """One row per side effect a handler performed."""

    __tablename__ = "effects"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    event_id: Mapped[str] = mapped_column(String(36))
    correlation_id: Mapped[str | None] = mapped_column(String(255))


def registered(user_id: str, correlation_id: str | None = None) -> events.UserRegistered:
    return events.UserRegistered(user_id=user_id, email=f"{user_id}@example.com", name=None,
                                 correlation_id=correlation_id)


class Emitter:
    """Writes events through the outbox, as every service does."""

    name = "emitter_svc"
    db = DatabaseSession(Base)
    relay = OutboxRelay(Base, Outbox)
    correlation_id = LogContext()

    @rpc
    def register(self, user_id):
        event = registered(user_id, self.correlation_id)
        self.db.add(Outbox.of(event))
        self.db.commit()
        return event.event_id


class Behaviour:
    """What the consumer's handler does next: set by each test."""

    mode = "ok"          # ok | fail_always | fail_once | non_retryable
    calls: list = []


class Consumer(DeadLetterRpc):
    """A handler with inbox dedupe, whose failures the test chooses; its dead letters
    kept in the table, as every service keeps them."""

    name = "consumer_svc"
    db = DatabaseSession(Base)
    dead_letters = DeadLetterStore(Base, DeadLetter)
    correlation_id = LogContext()
    inbox = InboxClaims(Inbox)

    @event_handler("user_svc", "user.registered")
    def on_registered(self, event: events.UserRegistered):
        Behaviour.calls.append(event)
        if Behaviour.mode == "fail_always" or (
                Behaviour.mode == "fail_once" and len(Behaviour.calls) == 1):
            raise RuntimeError("handler failed on purpose")
        if Behaviour.mode == "non_retryable":
            raise NonRetryable("this can never work")
        if not self.inbox.claim(self.db, event):
            return
        self.db.add(Effect(event_id=event.event_id, correlation_id=self.correlation_id))
        self.db.commit()


def effect_count(session, event_id: str | None = None) -> int:
    query = select(func.count()).select_from(Effect)
    if event_id:
        query = query.where(Effect.event_id == event_id)
    return session.scalar(query)


def kept_letters(session) -> dict:
    """`{count, messages}` of the dead letters kept in the test database (a fresh look:
    the session's transaction ends first)."""
    session.rollback()
    return deadletters_page(session, DeadLetter)
