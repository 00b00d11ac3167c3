"""Statements of delivery_svc, kept out of the entrypoints and the shipping steps.

Round trips are what an order costs (issue 14): the inbox claim rides in each event's
first statement (a CTE on `common.inbox.claim_statement`), a shipment is opened in
one statement, and the sweep moves its whole batch and writes its events in one
statement whose rows come in as arrays (`unnest`), so its shape, and its compiled
form, is the same for 1 row or 200. Fixed-shape statements are built once
(`functools.cache`) with named parameters.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import cache

from sqlalchemy import Text, bindparam, cast, exists, func, select, update
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.engine import Row
from sqlalchemy.orm import Session

from common import events
from common.db import insert, new_id
from common.inbox import InboxClaim, claim_statement
from delivery_svc import domain
from delivery_svc.models import Outbox, Shipment

SHIPMENTS, OUTBOX = Shipment.__table__, Outbox.__table__
OPENED = ("id", "order_id", "user_id", "status", "due_at", "correlation_id", "ship_to",
          "created_at", "updated_at")
# What a move sets, beside updated_at; `was` is the status it moves from.
MOVE = ("status", "carrier", "tracking_number", "shipped_at", "delivered_at", "due_at")


@dataclass(frozen=True)
class Move:
    """One shipment's step: from status `was` to the values of MOVE."""

    shipment_id: str
    was: str
    status: str
    carrier: str | None
    tracking_number: str | None
    shipped_at: datetime | None
    delivered_at: datetime | None
    due_at: datetime | None


@cache
def _open_statement(inbox_model):
    """`WITH claim AS (INSERT INTO inbox ...), opened AS (INSERT INTO shipments (...)
    SELECT <parameters> WHERE EXISTS (claim) ON CONFLICT (order_id) DO NOTHING
    RETURNING id) SELECT <claimed>, <opened>`."""
    claim = claim_statement(inbox_model).cte("claim")
    now = bindparam("now", type_=SHIPMENTS.c.created_at.type)
    row = select(*[now if name in ("created_at", "updated_at")
                   else bindparam(name, type_=SHIPMENTS.c[name].type)
                   for name in OPENED]).where(exists(select(claim.c.event_id)))
    opened = (insert(SHIPMENTS).from_select(OPENED, row)
              .on_conflict_do_nothing(index_elements=[SHIPMENTS.c.order_id])
              .returning(SHIPMENTS.c.id).cte("opened"))
    return select(exists(select(claim.c.event_id)).label("claimed"),
                  exists(select(opened.c.id)).label("opened"))


def open_once(session: Session, inbox: InboxClaim, event: events.Event, status: str,
              due_at: datetime | None, now: datetime) -> Row:
    """Claim the event and insert the order's shipment in `status`, in one statement:
    (claimed, opened); opened is false when the event was handled before or the order
    has a shipment (or a tombstone) already."""
    return session.execute(_open_statement(inbox.model), {
        **inbox.params(event, now), "id": new_id(), "order_id": event.order_id,
        "user_id": event.user_id, "status": status, "due_at": due_at,
        "correlation_id": event.correlation_id,
        "ship_to": getattr(event, "shipping_address", None), "now": now}).one()


def locked_shipment(session: Session, order_id: str) -> Shipment:
    """The order's shipment, locked (a statement of its own: it sees every shipment
    committed before it started)."""
    return session.scalars(select(Shipment).where(Shipment.order_id == order_id)
                           .with_for_update()).one()


def due(session: Session, now: datetime, limit: int) -> list[Row]:
    """Up to `limit` shipments due to move, longest due first; no locks (the move
    is a compare-and-set on the status)."""
    return list(session.execute(
        select(SHIPMENTS.c.id, SHIPMENTS.c.order_id, SHIPMENTS.c.status,
               SHIPMENTS.c.carrier, SHIPMENTS.c.tracking_number,
               SHIPMENTS.c.correlation_id)
        .where(SHIPMENTS.c.status.in_((domain.PROCESSING, domain.SHIPPED)),
               SHIPMENTS.c.due_at <= now)
        .order_by(SHIPMENTS.c.due_at).limit(limit)))


def _array(name: str, column):
    return bindparam(name, type_=ARRAY(column.type))


@cache
def _move_statement():
    """Move every shipment of the arrays still in its `was` status (rows another
    sweeper holds are skipped, the rest locked in id order), and insert the events
    of the ones moved: `WITH locked AS (SELECT ... FOR UPDATE SKIP LOCKED), moved AS
    (UPDATE shipments ... RETURNING id) INSERT INTO outbox SELECT ... JOIN moved`."""
    c = SHIPMENTS.c
    moves = func.unnest(_array("ids", c.id), _array("was", c.status),
                        *[_array(name, c[name]) for name in MOVE]
                        ).table_valued("id", "was", *MOVE).render_derived(name="move")
    locked = (select(c.id).where(c.id.in_(select(moves.c.id))).order_by(c.id)
              .with_for_update(skip_locked=True).cte("locked"))
    now = bindparam("now", type_=c.updated_at.type)
    moved = (update(SHIPMENTS)
             .where(c.id == moves.c.id, c.id == locked.c.id, c.status == moves.c.was)
             .values(**{name: moves.c[name] for name in MOVE}, updated_at=now)
             .returning(c.id).cte("moved"))
    o = OUTBOX.c
    emitted = func.unnest(_array("shipment_ids", c.id), _array("event_ids", o.event_id),
                          _array("sources", o.source), _array("event_types", o.event_type),
                          bindparam("payloads", type_=ARRAY(Text())),
                          _array("correlation_ids", o.correlation_id)
                          ).table_valued("shipment_id", "event_id", "source", "event_type",
                                         "payload", "correlation_id"
                                         ).render_derived(name="emitted")
    rows = (select(emitted.c.event_id, emitted.c.source, emitted.c.event_type,
                   cast(emitted.c.payload, JSONB), emitted.c.correlation_id, now)
            .join_from(emitted, moved, moved.c.id == emitted.c.shipment_id))
    return (insert(OUTBOX).from_select(
        ("event_id", "source", "event_type", "payload", "correlation_id", "created_at"), rows)
        .returning(o.event_id))


def move(session: Session, moves: Sequence[Move], emitted: Sequence[events.Event],
         now: datetime) -> set[str]:
    """Apply `moves` (one statement, atomic on its own) and write the event of each
    shipment that moved (`emitted[i]` belongs to `moves[i]`): the event ids written."""
    params = {"ids": [m.shipment_id for m in moves], "was": [m.was for m in moves],
              **{name: [getattr(m, name) for m in moves] for name in MOVE},
              "shipment_ids": [m.shipment_id for m in moves],
              "event_ids": [e.event_id for e in emitted],
              "sources": [e.SOURCE for e in emitted], "event_types": [e.TYPE for e in emitted],
              "payloads": [json.dumps(e.to_payload()) for e in emitted],
              "correlation_ids": [e.correlation_id for e in emitted], "now": now}
    return set(session.scalars(_move_statement(), params))


def tombstone(session: Session, order_id: str, now: datetime) -> str | None:
    """Insert the order's shipment CANCELLED unless it has one: its id, or None."""
    return session.scalar(
        insert(SHIPMENTS).values(id=new_id(), order_id=order_id, status=domain.CANCELLED,
                                    created_at=now, updated_at=now)
        .on_conflict_do_nothing(index_elements=[SHIPMENTS.c.order_id])
        .returning(SHIPMENTS.c.id))
