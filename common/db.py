"""Database plumbing shared by the services.

Each service declares its own `Base` in models.py and `db = DatabaseSession(Base)` on
its nameko class; nameko-sqlalchemy finds the URL under `DB_URIS["<service>:Base"]`.

Round trips are the cost that matters (issue 14), so:

* no `pool_pre_ping`: a `SELECT 1` before every checkout was a fifth of all statements.
  A connection the server closed (a PostgreSQL restart, `pg_terminate_backend`) has
  already said so on its socket: the server sends a FATAL message and closes it, so
  the socket of an idle pooled connection is readable. `_drop_if_server_closed` looks
  at that socket at checkout (a `select()` with no wait: a system call, no round trip)
  and has the pool open a fresh connection instead. A connection that dies between the
  checkout and its first statement fails that statement; SQLAlchemy then invalidates
  the whole pool (every older connection is replaced at its next checkout), event
  handlers retry through their retry queues, and an RPC's caller gets a 503 (the
  gateway maps a remote OperationalError so) and retries with its idempotency key.
* the worker pool holds `max_workers` connections: each worker holds at most one at a
  time, so none waits for a connection and none is opened and closed per use.
* `insert` is PostgreSQL's INSERT whose ON CONFLICT DO NOTHING SQLAlchemy can cache.
* `one_statement`: a unit of work that is a single statement (a read, or a CTE that
  claims the inbox and writes the effects at once) runs without BEGIN and COMMIT, which
  psycopg2 sends as round trips of their own: one round trip instead of three.
"""

from __future__ import annotations

import contextlib
import logging
import uuid
from datetime import UTC, datetime

import nameko_sqlalchemy
import psycopg2.extensions
from eventlet import patcher
from sqlalchemy import create_engine, event
from sqlalchemy.dialects.postgresql import dml as pg_dml
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DisconnectionError, SQLAlchemyError
from sqlalchemy.orm import Session
from sqlalchemy.sql.visitors import InternalTraversal

log = logging.getLogger(__name__)

# The blocking select(): with a zero timeout it never blocks, and eventlet's green one
# would switch to the hub for nothing.
_select = patcher.original("select").select

# Background threads (outbox relay, metrics sampling) each use one connection at a time.
BACKGROUND_POOL = {"pool_size": 1, "max_overflow": 1}


def worker_pool(max_workers: int) -> dict:
    """Pool options for a service's worker engine: one connection per worker slot.

    A worker holds at most one connection at a time (its session's), so `max_workers`
    connections never make a worker wait; none overflow, so a leak shows up as a
    30 s pool timeout instead of a PostgreSQL out of connection slots.
    """
    return {"pool_size": max_workers, "max_overflow": 0}


def _drop_if_server_closed(dbapi_connection, connection_record, connection_proxy):
    """Pool "checkout" hook: refuse a connection the server has closed (see module doc).

    An idle connection has nothing to read unless the server wrote to it; what it
    writes unasked is, in practice, its goodbye. A rare harmless message (a NOTICE)
    only costs a reconnect.
    """
    if dbapi_connection.closed:
        raise DisconnectionError("connection closed")
    try:
        readable, _, _ = _select([dbapi_connection.fileno()], [], [], 0)
    except (OSError, ValueError) as exc:
        raise DisconnectionError(f"connection unusable: {exc}") from exc
    if readable:
        raise DisconnectionError("the server closed an idle pooled connection")


def watch_disconnects(engine: Engine) -> Engine:
    """Install the checkout check on `engine`; returns it."""
    event.listen(engine, "checkout", _drop_if_server_closed)
    return engine


class DatabaseSession(nameko_sqlalchemy.DatabaseSession):
    """nameko-sqlalchemy's per-worker session on a pool sized to the worker count,
    whose dead connections are replaced at checkout without a round trip.

    Objects stay readable after commit (`expire_on_commit=False`): entrypoints commit,
    then serialise what they wrote.
    """

    def __init__(self, declarative_base, session_options=None, engine_options=None):
        super().__init__(
            declarative_base,
            session_options={"expire_on_commit": False, **(session_options or {})},
            engine_options=engine_options,
        )
        self._engine_overrides = engine_options or {}

    def setup(self):
        self.engine_options = {**worker_pool(self.container.max_workers),
                               **self._engine_overrides}
        super().setup()
        watch_disconnects(self.engine)

    def worker_teardown(self, worker_ctx):
        # Closing rolls back; on a connection the database just dropped (a restart)
        # that raises, and nameko kills the whole service for an error in a teardown.
        session = self.sessions.pop(worker_ctx, None)
        if session is None:
            return
        try:
            session.close()
        except SQLAlchemyError as exc:
            log.warning("database connection lost while closing a session: %s", exc)
            with contextlib.suppress(SQLAlchemyError):
                session.invalidate()


def engine_for(config: dict, service: str, declarative_base) -> Engine:
    """An engine on the same URL the service's DatabaseSession uses, for a background
    thread (one connection, one spare)."""
    url = config["DB_URIS"][f"{service}:{declarative_base.__name__}"]
    return watch_disconnects(create_engine(url, **BACKGROUND_POOL))


class _OnConflictDoNothing(pg_dml.OnConflictDoNothing):
    """ON CONFLICT DO NOTHING with a cache key: its target (a constraint name, or the
    index columns and predicate) is all that shapes its SQL."""

    _traverse_internals = [
        ("constraint_target", InternalTraversal.dp_string),
        ("inferred_target_elements", InternalTraversal.dp_multi_list),
        ("inferred_target_whereclause", InternalTraversal.dp_clauseelement),
    ]


class Insert(pg_dml.Insert):
    """PostgreSQL's INSERT, cacheable.

    SQLAlchemy 2.0's `postgresql.Insert` sets `inherit_cache = False` (its ON CONFLICT
    clauses have no cache key), so every such statement, with or without ON CONFLICT,
    is compiled again on every execution. This one takes its cache key from the plain
    INSERT's (which covers the ON CONFLICT clause as a child element) and builds a
    cacheable ON CONFLICT DO NOTHING. `on_conflict_do_update` still works, uncached
    (its clause has no key, so the whole statement gets none).
    """

    inherit_cache = True

    def on_conflict_do_nothing(self, constraint=None, index_elements=None, index_where=None):
        statement = super().on_conflict_do_nothing(constraint, index_elements, index_where)
        # super() returned a fresh copy (generative): replacing its clause is safe.
        statement._post_values_clause = _OnConflictDoNothing(
            constraint, index_elements, index_where)
        return statement


@contextlib.contextmanager
def one_statement(session: Session):
    """Run the session's next statement(s) each as its own transaction (autocommit).

        with one_statement(self.db):
            row = self.db.execute(statement).first()   # no BEGIN, no COMMIT
        self.db.commit()                               # costs nothing now

    Only for work that is ONE statement (PostgreSQL makes a statement atomic on its
    own), or reads that need no consistent view across statements. Use it before the
    session's transaction has sent anything: the connection's autocommit flag is turned
    on for the block (psycopg2 then sends no BEGIN) and off again after it, which sends
    nothing to the server either.
    """
    dbapi_connection = session.connection().connection.dbapi_connection
    if dbapi_connection.status != psycopg2.extensions.STATUS_READY:
        raise RuntimeError("one_statement() inside a transaction already under way")
    dbapi_connection.autocommit = True
    try:
        yield
    finally:
        dbapi_connection.autocommit = False


def insert(table) -> Insert:
    """`sqlalchemy.dialects.postgresql.insert`, but cached after its first compile."""
    return Insert(table)


def utc_now() -> datetime:
    return datetime.now(UTC)


def new_id() -> str:
    return str(uuid.uuid4())
