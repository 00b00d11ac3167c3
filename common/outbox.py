"""Transactional outbox: state changes and the events they cause commit together.

An entrypoint adds `Outbox.of(event)` to the same session as its effects (or inserts
the row through the session with a Core INSERT) and commits once; the `OutboxRelay`
(declared on the service) publishes unpublished rows to the service's nameko event
exchange in batches. A batch is one database transaction with one statement, which
marks the oldest unpublished rows published and returns them; they are then published
as one confirmed batch (one broker round trip, see common.publishing), then the
database transaction commits. A failed publish rolls back: the rows stay unpublished;
a message the broker returned or nacked keeps its row unpublished, the rest commit.
A crash between commit and publish leaves the row unpublished, so the next relay
(this process after restart, or another process of the service) sends it: events are
delivered at least once, and consumers dedupe by `event_id` (common.inbox).

    class Outbox(OutboxMixin, Base): pass           # models.py
    relay = OutboxRelay(Base, Outbox)               # service.py
    self.db.add(Outbox.of(events.UserRegistered(...)))
"""

from __future__ import annotations

import json
import logging
import time
from datetime import datetime, timedelta

import eventlet
from eventlet.event import Event as Signal
from nameko.events import get_event_exchange
from nameko.extensions import DependencyProvider
from sqlalchemy import (
    BigInteger,
    DateTime,
    Identity,
    Index,
    String,
    Text,
    bindparam,
    cast,
    delete,
    event,
    func,
    select,
    text,
    update,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.orm import Mapped, Session, declared_attr, mapped_column
from sqlalchemy.orm.session import ORMExecuteState

from common.db import engine_for, utc_now
from common.events import Event
from common.logging import CORRELATION_KEY, set_context
from common.publishing import BatchPublisher, OutgoingEvent

log = logging.getLogger(__name__)

# A relay that cannot reach the broker or the database waits, then tries again.
MAX_BACKOFF_S = 5.0
# The longest an event the broker keeps refusing waits between tries (RefusedRows).
MAX_REFUSED_WAIT_S = 30.0


class OutboxMixin:
    """Columns of a service's `outbox` table."""

    __tablename__ = "outbox"

    @declared_attr.directive
    def __table_args__(cls):
        # A new Index per model: one Index object cannot belong to two tables.
        return (Index("ix_outbox_unpublished", "id",
                      postgresql_where=text("published_at IS NULL")),)

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    event_id: Mapped[str] = mapped_column(String(36), unique=True)
    source: Mapped[str] = mapped_column(String(64))
    event_type: Mapped[str] = mapped_column(String(64))
    payload: Mapped[dict] = mapped_column(JSONB)
    correlation_id: Mapped[str | None] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utc_now)
    published_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    @classmethod
    def of(cls, event: Event):
        """The outbox row that will publish `event`."""
        return cls(event_id=event.event_id, source=event.SOURCE, event_type=event.TYPE,
                   payload=event.to_payload(), correlation_id=event.correlation_id)


# The columns `rows_of_arrays` fills, in its order.
ARRAY_COLUMNS = ("event_id", "source", "event_type", "payload", "correlation_id", "created_at")


def rows_of_arrays(table):
    """`SELECT ... FROM unnest(<arrays>)`: outbox rows (ARRAY_COLUMNS, created_at from the
    `now` parameter) of the arrays `arrays_of(events)` gives, for
    `insert(outbox).from_select(ARRAY_COLUMNS, rows_of_arrays(outbox))` in a CTE. Any
    number of events is one statement shape (a multi-row VALUES has no cache key in
    SQLAlchemy: it would be compiled on every call)."""
    c = table.c
    rows = func.unnest(*[bindparam(name, type_=ARRAY(type_)) for name, type_ in (
        ("event_ids", c.event_id.type), ("sources", c.source.type),
        ("event_types", c.event_type.type), ("payloads", Text()),
        ("correlation_ids", c.correlation_id.type))]
    ).table_valued("event_id", "source", "event_type", "payload", "correlation_id"
                   ).render_derived(name="emitted")
    return select(rows.c.event_id, rows.c.source, rows.c.event_type,
                  cast(rows.c.payload, JSONB), rows.c.correlation_id,
                  bindparam("now", type_=c.created_at.type))


def arrays_of(emitted: list[Event]) -> dict:
    """The parameters of `rows_of_arrays` for `emitted` (besides `now`)."""
    return {"event_ids": [e.event_id for e in emitted], "sources": [e.SOURCE for e in emitted],
            "event_types": [e.TYPE for e in emitted],
            "payloads": [json.dumps(e.to_payload()) for e in emitted],
            "correlation_ids": [e.correlation_id for e in emitted]}


def take_batch_statement(table, batch_size: int):
    """`UPDATE outbox SET published_at = now() WHERE id IN (SELECT id ... WHERE
    published_at IS NULL ORDER BY id LIMIT n FOR UPDATE SKIP LOCKED) RETURNING ...`.

    SKIP LOCKED: several relays of one service share the work without sending a row
    twice at the same time. The row lock holds until the caller's transaction ends.
    """
    # Rows the broker refused lately wait out their backoff (RefusedRows); an array
    # parameter, so that any number of them is one statement shape.
    held = bindparam("held", type_=ARRAY(table.c.id.type))
    oldest = (select(table.c.id).where(table.c.published_at.is_(None),
                                       table.c.id != func.all(held))
              .order_by(table.c.id).limit(batch_size).with_for_update(skip_locked=True))
    return (update(table).where(table.c.id.in_(oldest)).values(published_at=func.now())
            .returning(table.c.id, table.c.event_id, table.c.source, table.c.event_type,
                       table.c.payload, table.c.correlation_id))


def publish_pending(connection, model, publisher: BatchPublisher, config: dict,
                    batch_size: int, refusals: RefusedRows | None = None) -> int:
    """Mark up to `batch_size` unpublished rows published, oldest first, and publish
    them as one batch; return how many the broker took. One statement, one confirmed
    batch (a second statement when the broker refused some).

    `connection`: a Connection or Session in a transaction, which the caller commits
    after this returns, or rolls back if it raises (the publish failed: the rows stay
    unpublished). `refusals`: the rows the broker refused lately, left out until their
    backoff is over, and told of what it refuses now.
    """
    table = model.__table__
    now = time.monotonic()
    held = refusals.held(now) if refusals is not None else []
    rows = connection.execute(take_batch_statement(table, batch_size), {"held": held}).all()
    if not rows:
        return 0
    # RETURNING follows no order: events leave oldest first.
    refused = publisher.publish_batch([_outgoing(row, config)
                                       for row in sorted(rows, key=_row_id)])
    if refused:
        # The broker returned or nacked these (no queue could take them): they stay
        # unpublished, and the next batch sends them again.
        log.warning("broker did not take %d of %d events (%s), keeping them to send "
                    "again", len(refused), len(rows), ", ".join(sorted(
                        {row.event_type for row in rows if row.event_id in refused})))
        connection.execute(update(table).where(table.c.event_id.in_(sorted(refused)))
                           .values(published_at=None))
    if refusals is not None:
        refusals.settle([row.id for row in rows if row.event_id in refused],
                        [row.id for row in rows if row.event_id not in refused], now)
    return len(rows) - len(refused)


class RefusedRows:
    """Outbox rows the broker refused, and when each may be tried again.

    A refused event is tried again after 1 s, then 2, 4, ... up to MAX_REFUSED_WAIT_S:
    the other events of the service go on meanwhile (a queue that refuses for long
    would otherwise head every batch), and a nack for a message that reached some of
    its queues is not resent to them with every batch. In memory, per relay: another
    process of the service, or a restart, tries it at once.
    """

    def __init__(self):
        self._rows: dict[int, tuple[int, float]] = {}  # row id -> (refusals, due)

    def held(self, now: float) -> list[int]:
        return [row_id for row_id, (_, due) in self._rows.items() if due > now]

    def settle(self, refused: list[int], taken: list[int], now: float) -> None:
        for row_id in taken:
            self._rows.pop(row_id, None)
        for row_id in refused:
            count = self._rows.get(row_id, (0, 0.0))[0] + 1
            self._rows[row_id] = (count, now + min(2.0 ** (count - 1), MAX_REFUSED_WAIT_S))


def _row_id(row) -> int:
    return row.id


def _outgoing(row, config: dict) -> OutgoingEvent:
    headers = {"nameko.call_id_stack": [f"{row.source}.outbox.{row.event_id}"]}
    if row.correlation_id:
        headers[f"nameko.{CORRELATION_KEY}"] = row.correlation_id
    return OutgoingEvent(row.payload, get_event_exchange(row.source, config),
                         row.event_type, headers, row.event_id)


class OutboxRelay(DependencyProvider):
    """Publishes the service's outbox in a background thread of the container.

    Woken after every worker that wrote outbox rows (the usual case: the row was just
    committed by this process), then lingering `OUTBOX_LINGER_MS` so that the commits
    of concurrent workers share one batch; and polling every `OUTBOX_POLL_INTERVAL_S`
    for rows written by a process that died. Survives broker and database outages by
    waiting and retrying.
    """

    def __init__(self, declarative_base, model):
        self.declarative_base = declarative_base
        self.model = model
        self._wake = Signal()
        self._running = False
        self._inserted = False
        self.refusals = RefusedRows()

    def setup(self):
        # Wake after a worker only if it wrote outbox rows (reads and idle timers
        # would otherwise each cost the relay a database round trip): ORM adds, and
        # Core INSERTs run through a session.
        event.listen(self.model, "after_insert", self._note_insert)
        event.listen(Session, "do_orm_execute", self._note_core_insert)
        config = self.container.config
        self.poll_interval = float(config.get("OUTBOX_POLL_INTERVAL_S", 1.0))
        self.linger = float(config.get("OUTBOX_LINGER_MS", 5)) / 1000
        self.batch_size = int(config.get("OUTBOX_BATCH_SIZE", 100))
        self.retention = timedelta(seconds=float(config.get("OUTBOX_RETENTION_S", 604800)))
        self.engine = engine_for(config, self.container.service_name, self.declarative_base)
        # A broker outage surfaces here at once and the relay backs off; the rows stay
        # unpublished meanwhile, so nothing is lost.
        self.publisher = BatchPublisher(config)

    def start(self):
        self._running = True
        self._thread = self.container.spawn_managed_thread(self._run)

    def stop(self):
        self._unlisten()
        self._running = False
        self.wake()
        thread = getattr(self, "_thread", None)
        if thread is not None:
            thread.wait()
        self.publisher.close()
        self.engine.dispose()

    def kill(self):
        self._unlisten()
        self._running = False
        thread = getattr(self, "_thread", None)
        if thread is not None:
            thread.kill()
        self.publisher.close()
        self.engine.dispose()

    def wake(self):
        if not self._wake.ready():
            self._wake.send(True)

    def get_dependency(self, worker_ctx):
        return self

    def _unlisten(self):
        if event.contains(self.model, "after_insert", self._note_insert):
            event.remove(self.model, "after_insert", self._note_insert)
        if event.contains(Session, "do_orm_execute", self._note_core_insert):
            event.remove(Session, "do_orm_execute", self._note_core_insert)

    def _note_insert(self, mapper, connection, target):
        self._inserted = True

    def _note_core_insert(self, state: ORMExecuteState):
        # By name: insert(Outbox).table is an annotated copy of the model's table.
        if state.is_insert and state.statement.table.name == OutboxMixin.__tablename__:
            self._inserted = True

    def worker_teardown(self, worker_ctx):
        # The worker has committed (or given up) by now: the relay will see its rows.
        if self._inserted:
            self._inserted = False
            self.wake()

    def _run(self):
        set_context(service=self.container.service_name, entrypoint="outbox_relay")
        backoff = 0.1
        last_cleanup = utc_now()
        while self._running:
            try:
                with self.engine.begin() as conn:
                    published = publish_pending(conn, self.model, self.publisher,
                                                self.container.config, self.batch_size,
                                                self.refusals)
                backoff = 0.1
            except Exception as exc:  # broker or database down: wait, keep the rows
                log.warning("outbox relay cannot publish yet: %s", exc)
                eventlet.sleep(backoff)
                backoff = min(backoff * 2, MAX_BACKOFF_S)
                continue
            if published == self.batch_size:
                continue  # there may be more; a short batch was all there was (a commit
                # that lands meanwhile wakes us again below, so looking once more would
                # only cost an empty transaction per wake)
            if utc_now() - last_cleanup > timedelta(minutes=1):
                last_cleanup = utc_now()
                self._cleanup()
            with eventlet.Timeout(self.poll_interval, False):
                self._wake.wait()
            if self._wake.ready() and self.linger > 0:
                # Woken by a commit: its neighbours are committing too. Wakes during
                # the linger are served by this batch, so the signal is reset after.
                eventlet.sleep(self.linger)
            self._wake = Signal()

    def _cleanup(self):
        """Forget rows published longer ago than the retention period."""
        try:
            with self.engine.begin() as conn:
                conn.execute(delete(self.model).where(
                    self.model.published_at < utc_now() - self.retention))
        except Exception as exc:
            log.warning("outbox cleanup failed: %s", exc)
