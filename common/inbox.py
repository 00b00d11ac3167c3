"""Inbox: an idempotent consumer records `(event_id, handler)` with its effects.

    inbox = InboxClaims(Inbox)                    # on the service (Inbox: its model)
    if not self.inbox.claim(self.db, event):      # key: this entrypoint's method name
        return                      # seen before: acknowledged, nothing done again
    ... effects ...
    self.db.commit()                # effects and the inbox row, one transaction

Two deliveries of one event racing each other: the second INSERT waits on the first
one's unique key and then finds the conflict, so exactly one does the work.

The claim is one statement built once per inbox model, with bound parameters, on
`common.db.insert` (SQLAlchemy 2.0's own PostgreSQL INSERT has no cache key and was
compiled again on every claim): after the first claim, SQLAlchemy neither builds nor
compiles it again.
"""

from __future__ import annotations

from datetime import datetime
from functools import cache

from nameko.extensions import DependencyProvider
from sqlalchemy import DateTime, String, bindparam
from sqlalchemy.orm import Mapped, Session, mapped_column

from common.db import insert, utc_now
from common.events import Event


class InboxMixin:
    """Columns of a service's `inbox` table."""

    __tablename__ = "inbox"

    event_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    handler: Mapped[str] = mapped_column(String(128), primary_key=True)
    event_type: Mapped[str] = mapped_column(String(64))
    processed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utc_now)


@cache
def claim_statement(model):
    """`INSERT INTO inbox ... ON CONFLICT DO NOTHING RETURNING event_id` for `model`,
    parameters event_id, handler, event_type, processed_at (built once, cached)."""
    table = model.__table__
    return (insert(table)
            .values({name: bindparam(name) for name in
                     ("event_id", "handler", "event_type", "processed_at")})
            .on_conflict_do_nothing(index_elements=[table.c.event_id, table.c.handler])
            .returning(table.c.event_id))


def claim(session: Session, model, event: Event, handler: str) -> bool:
    """Record that `handler` processes `event`; False if it already did."""
    return InboxClaim(model, handler).claim(session, event)


class InboxClaim:
    """`claim` bound to one model and one handler name: what a service's worker gets."""

    def __init__(self, model, handler: str):
        self.model, self.handler = model, handler

    def claim(self, session: Session, event: Event) -> bool:
        """Record that this handler processes `event`; False if it already did."""
        return session.execute(claim_statement(self.model), self.params(event)).first() \
            is not None

    def params(self, event: Event, now: datetime | None = None) -> dict:
        """The parameters of `claim_statement(self.model)` for `event` (processed at
        `now`, default the current time), for a statement that folds the claim in as a
        CTE (one round trip for claim and effects)."""
        return {"event_id": event.event_id, "handler": self.handler,
                "event_type": event.TYPE, "processed_at": now or utc_now()}


class InboxClaims(DependencyProvider):
    """The inbox of a service, keyed by the running entrypoint's method name.

        inbox = InboxClaims(Inbox)                   # on the nameko class
        if self.inbox.claim(self.db, event): ...     # in an event handler

    The handler name is taken from the worker's entrypoint, never written by hand, so a
    typo cannot fork one handler's history in two. worker_factory tests hand in an
    `InboxClaim(model, "<handler>")`.
    """

    def __init__(self, model):
        self.model = model

    def get_dependency(self, worker_ctx) -> InboxClaim:
        return InboxClaim(self.model, worker_ctx.entrypoint.method_name)
