"""Dead letters kept in the service's own table, where looking at them changes nothing.

common.messaging sends a message that failed for good to `<service>.dead-letters`, with
what failed (`x-error`), after how many attempts, and the queue it came from. Reading a
queue means taking its messages and giving them back, which raises a quorum queue's
delivery count each time (RabbitMQ 4 drops a message past its delivery limit), so the
`DeadLetterStore` of each service moves them out instead: it consumes the queue into
the service's `dead_letters` table (one row per message, kept once even if delivered
twice), acking each message after its row is committed. Listing reads the table;
replay publishes the rows back to their queues (mandatory, confirmed) and deletes the
ones the broker took, in one transaction; purge deletes them.

    class DeadLetter(DeadLetterMixin, Base): pass                 # models.py
    class MyService(DeadLetterRpc):                               # service.py
        dead_letters = DeadLetterStore(Base, DeadLetter)

`DeadLetterRpc` gives the service `list_dead_letters`, `replay_dead_letters` and
`purge_dead_letters`, which the gateway's /admin/dead-letters calls; replay and purge
take every letter, or with `event_id` the letters of that one event (one per queue that
gave up on it). The handler's inbox
keeps a replayed message that had in fact been handled from acting twice.
"""

from __future__ import annotations

import hashlib
import json
import logging
import random

import eventlet
from kombu import Exchange
from nameko.extensions import DependencyProvider
from sqlalchemy import (
    BigInteger,
    DateTime,
    Identity,
    Integer,
    String,
    Text,
    UniqueConstraint,
    delete,
    func,
    select,
)
from sqlalchemy.dialects.postgresql import JSONB, insert
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Mapped, declared_attr, mapped_column

from common.broker import connect
from common.db import engine_for, utc_now
from common.entrypoints import rpc
from common.logging import set_context
from common.messaging import (
    ATTEMPTS_HEADER,
    ERROR_HEADER,
    FAILED_AT_HEADER,
    ORIGINAL_QUEUE_HEADER,
    dead_letter_queue,
)
from common.publishing import BatchPublisher, OutgoingEvent

log = logging.getLogger(__name__)

PREFETCH = 50
MAX_BACKOFF_S = 5.0
REPLAY_BATCH = 200
# Headers of the failure, not of the message: a replayed message starts afresh.
FAILURE_HEADERS = (ATTEMPTS_HEADER, ERROR_HEADER, FAILED_AT_HEADER, ORIGINAL_QUEUE_HEADER,
                   "x-death", "x-first-death-exchange", "x-first-death-queue",
                   "x-first-death-reason", "x-last-death-exchange", "x-last-death-queue",
                   "x-last-death-reason")
LISTED = ("event_type", "event_id", "error", "attempts", "queue", "failed_at")


class DeadLetterMixin:
    """Columns of a service's `dead_letters` table."""

    __tablename__ = "dead_letters"

    @declared_attr.directive
    def __table_args__(cls):
        # One row per message and queue, however often the broker delivers it.
        return (UniqueConstraint("queue", "message_id", name="uq_dead_letters_message"),)

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    queue: Mapped[str] = mapped_column(String(255))
    message_id: Mapped[str | None] = mapped_column(String(64))
    event_type: Mapped[str | None] = mapped_column(String(64))
    event_id: Mapped[str | None] = mapped_column(String(64))
    error: Mapped[str | None] = mapped_column(Text)
    attempts: Mapped[int | None] = mapped_column(Integer)
    failed_at: Mapped[str | None] = mapped_column(String(40))
    body: Mapped[str] = mapped_column(Text)
    headers: Mapped[dict] = mapped_column(JSONB)
    kept_at = mapped_column(DateTime(timezone=True), default=utc_now)


def letter_row(body: bytes, headers: dict, properties: dict, routing_key: str) -> dict:
    """The `dead_letters` row of a dead-lettered message (pure)."""
    text = body.decode("utf-8", "replace") if isinstance(body, bytes) else str(body)
    try:
        payload = json.loads(text)
    except ValueError:
        payload = None
    payload = payload if isinstance(payload, dict) else {}
    attempts = headers.get(ATTEMPTS_HEADER)
    # Every message of ours has an id; one without gets its body's digest, so that the
    # (queue, message_id) key keeps it once too.
    message_id = properties.get("message_id") or payload.get("event_id") or \
        "sha256:" + hashlib.sha256(text.encode()).hexdigest()[:56]
    return {"queue": headers.get(ORIGINAL_QUEUE_HEADER) or routing_key,
            "message_id": message_id,
            "event_type": payload.get("event_type"), "event_id": payload.get("event_id"),
            "error": headers.get(ERROR_HEADER),
            "attempts": int(attempts) if attempts is not None else None,
            "failed_at": headers.get(FAILED_AT_HEADER), "body": text,
            # JSON-safe (an AMQP header may hold a timestamp).
            "headers": json.loads(json.dumps(
                {k: v for k, v in headers.items() if k not in FAILURE_HEADERS},
                default=str))}


def keep(connection, model, row: dict) -> None:
    """Insert a dead letter's row unless that message is kept already."""
    connection.execute(insert(model).values(**row, kept_at=utc_now())
                       .on_conflict_do_nothing(constraint="uq_dead_letters_message"))


def page(connection, model, limit: int = 100) -> dict:
    """`{count, messages}`: how many are kept, and the oldest `limit` of them."""
    count = connection.scalar(select(func.count()).select_from(model))
    rows = connection.execute(select(model.__table__).order_by(model.id).limit(limit)).all()
    return {"count": count, "messages": [{k: getattr(r, k) for k in LISTED} for r in rows]}


def replay(connection, model, publisher: BatchPublisher, batch: int = REPLAY_BATCH,
           event_id: str | None = None) -> int:
    """Publish kept letters (every one, or those of `event_id`) back to their queues,
    oldest first; return how many the broker took. A letter the broker refused stays
    kept.

    Each batch is deleted (RETURNING its rows) before it is published, in the caller's
    transaction: a letter that fails again at once and comes back meanwhile waits for
    that transaction and is then kept anew, instead of meeting its old row (ON CONFLICT
    DO NOTHING) and vanishing when the old row is deleted after the publish.
    """
    table = model.__table__
    replayed = 0
    last_id = 0
    while True:
        oldest = (select(table.c.id).where(table.c.id > last_id, *_of_event(table, event_id))
                  .order_by(table.c.id).limit(batch).with_for_update(skip_locked=True))
        rows = sorted(connection.execute(delete(table).where(table.c.id.in_(oldest))
                                         .returning(*table.c)).all(), key=_row_id)
        if not rows:
            return replayed
        last_id = rows[-1].id
        refused = publisher.publish_batch([_outgoing(row) for row in rows])
        kept_again = [row._asdict() for row in rows if _message_id(row) in refused]
        if kept_again:
            connection.execute(insert(table).values(kept_again)
                               .on_conflict_do_nothing(constraint="uq_dead_letters_message"))
        replayed += len(rows) - len(kept_again)


def _row_id(row) -> int:
    return row.id


def purge(connection, model, event_id: str | None = None) -> int:
    """Delete every kept letter (or those of `event_id`); return how many."""
    table = model.__table__
    return connection.execute(delete(table).where(*_of_event(table, event_id))).rowcount or 0


def _of_event(table, event_id: str | None) -> tuple:
    """The WHERE clauses that keep one event's letters (none: every letter)."""
    return () if event_id is None else (table.c.event_id == event_id,)


def _message_id(row) -> str:
    return row.message_id or f"dead-letter-{row.id}"


def _outgoing(row) -> OutgoingEvent:
    try:
        payload = json.loads(row.body)
    except ValueError:
        payload = row.body
    # The default exchange: back to the one queue that failed it, no other consumer.
    return OutgoingEvent(payload, Exchange(""), row.queue, dict(row.headers or {}),
                         _message_id(row))


class DeadLetterStore(DependencyProvider):
    """Consumes the service's dead-letter queue into its table (module doc), in a
    background thread of the container, on a connection of its own."""

    def __init__(self, declarative_base, model):
        self.declarative_base = declarative_base
        self.model = model
        self._running = False
        self._thread = None

    def setup(self):
        config = self.container.config
        self.config = config
        self.engine = engine_for(config, self.container.service_name, self.declarative_base)
        self.queue = dead_letter_queue(self.container.service_name, config)

    def start(self):
        self._running = True
        self._thread = self.container.spawn_managed_thread(self._run)

    def stop(self):
        self._running = False
        if self._thread is not None:
            self._thread.kill()
        self.engine.dispose()

    kill = stop

    def get_dependency(self, worker_ctx):
        return self

    def page(self, limit: int = 100) -> dict:
        with self.engine.connect() as conn:
            return page(conn, self.model, limit)

    def count(self) -> int:
        with self.engine.connect() as conn:
            return conn.scalar(select(func.count()).select_from(self.model))

    def replay(self, event_id: str | None = None) -> int:
        publisher = BatchPublisher(self.config)
        try:
            with self.engine.begin() as conn:
                return replay(conn, self.model, publisher, event_id=event_id)
        finally:
            publisher.close()

    def purge(self, event_id: str | None = None) -> int:
        with self.engine.begin() as conn:
            return purge(conn, self.model, event_id)

    def _run(self):
        set_context(service=self.container.service_name, entrypoint="dead_letter_store")
        backoff = 0.2
        while self._running:
            try:
                self._consume()
            except Exception as exc:  # broker or database away: wait, reconnect
                log.warning("dead-letter store: %s: %s; retrying in %.1fs",
                            type(exc).__name__, exc, backoff)
                eventlet.sleep(backoff * random.uniform(0.8, 1.2))
                backoff = min(backoff * 2, MAX_BACKOFF_S)
            else:
                backoff = 0.2

    def _consume(self):
        # on_message: the raw message, never decoded (a body that does not parse must be
        # kept too, not fail the consumer).
        with connect(self.config["AMQP_URI"], 10) as conn, conn.Consumer(
                [self.queue], on_message=self._keep, prefetch_count=PREFETCH, no_ack=False):
            while self._running:
                try:
                    conn.drain_events(timeout=1)
                except TimeoutError:
                    conn.heartbeat_check()

    def _keep(self, message):
        row = letter_row(message.body, message.headers or {}, message.properties,
                         message.delivery_info.get("routing_key", ""))
        backoff = 0.2
        # The message is held (unacked) while the database is away: giving it back
        # would raise its delivery count each time, and a quorum queue with a delivery
        # limit drops a message past it.
        while self._running:
            try:
                with self.engine.begin() as conn:
                    keep(conn, self.model, row)
                break
            except SQLAlchemyError as exc:
                log.warning("dead-letter store: cannot keep a dead letter yet (%s); "
                            "retrying in %.1fs", type(exc).__name__, backoff)
                eventlet.sleep(backoff)
                backoff = min(backoff * 2, MAX_BACKOFF_S)
        else:
            return  # stopping: not acked, it is delivered again to the next process
        message.ack()  # after the commit: a crash in between delivers it again, kept once


class DeadLetterRpc:
    """The RPC methods of a service's dead letters (its `dead_letters` store)."""

    @rpc
    def list_dead_letters(self, limit: int = 100) -> dict:
        """`{count, messages: [{event_type, event_id, error, attempts, queue, failed_at}]}`,
        oldest first, at most `limit` messages."""
        return self.dead_letters.page(max(1, min(int(limit), 1000)))

    @rpc
    def replay_dead_letters(self, event_id: str | None = None) -> int:
        """Send every kept letter (or `event_id`'s only) back to its handler's queue;
        how many were sent (0: none kept, or the broker refused them)."""
        return self.dead_letters.replay(event_id)

    @rpc
    def purge_dead_letters(self, event_id: str | None = None) -> int:
        """Drop every kept letter (or `event_id`'s only); how many."""
        return self.dead_letters.purge(event_id)
