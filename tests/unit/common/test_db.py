"""common.db and common.inbox against a real PostgreSQL: statements compiled once, dead
pooled connections replaced at checkout without a round trip."""

import eventlet
import pytest
from sqlalchemy import create_engine, event, text
from sqlalchemy.dialects import postgresql
from sqlalchemy.engine.interfaces import CacheStats
from sqlalchemy.orm import DeclarativeBase, Session

from common import events, inbox
from common.db import insert, one_statement, watch_disconnects, worker_pool
from common.inbox import InboxMixin
from common.testing import fresh_database, wait_for


class Base(DeclarativeBase):
    pass


class Inbox(InboxMixin, Base):
    pass


@pytest.fixture(scope="module")
def url():
    return fresh_database("common_db", Base.metadata)


@pytest.fixture
def engine(url):
    engine = watch_disconnects(create_engine(url, **worker_pool(2)))
    yield engine
    engine.dispose()


def record_statements(engine) -> list[tuple[str, object]]:
    """(SQL, compiled-cache outcome) of every statement `engine` runs from now on."""
    seen = []

    @event.listens_for(engine, "after_cursor_execute")
    def _seen(conn, cursor, statement, parameters, context, executemany):
        seen.append((statement, context.cache_hit))

    return seen


def registered(user_id):
    return events.UserRegistered(user_id=user_id, email=f"{user_id}@example.com", name=None)


def test_the_stock_postgresql_insert_has_no_cache_key():
    """Why claims were compiled on every call (SQLAlchemy 2.0): if this starts failing,
    SQLAlchemy caches it itself and common.db.Insert can go."""
    stock = postgresql.insert(Inbox).values(event_id="e", handler="h", event_type="t")
    assert stock._generate_cache_key() is None
    assert stock.on_conflict_do_nothing()._generate_cache_key() is None


def test_the_inbox_claim_is_compiled_once_and_still_claims_once(engine):
    statements = record_statements(engine)
    first, second = registered("u1"), registered("u2")
    with Session(engine) as session:
        claims = [inbox.claim(session, Inbox, e, "on_registered")
                  for e in (first, second, first)]
        session.commit()

    assert claims == [True, True, False]
    hits = [hit for sql, hit in statements if sql.startswith("INSERT INTO inbox")]
    # (the stock postgresql.insert gave NO_CACHE_KEY three times: three compiles)
    assert hits == [CacheStats.CACHE_MISS, CacheStats.CACHE_HIT, CacheStats.CACHE_HIT]


def test_on_conflict_targets_that_render_differently_get_different_cache_keys():
    base = insert(Inbox).values(event_id="e", handler="h", event_type="t")
    statements = [
        base.on_conflict_do_nothing(index_elements=["event_id", "handler"]),
        base.on_conflict_do_nothing(index_elements=["event_id"]),
        base.on_conflict_do_nothing(constraint="inbox_pkey"),
        base.on_conflict_do_nothing(),
        base.on_conflict_do_nothing(index_elements=["event_id"], index_where=Inbox.handler == "x"),
        base,
    ]
    keys = [s._generate_cache_key() for s in statements]
    assert all(key is not None for key in keys)
    assert len({k.key for k in keys}) == len(statements)
    # a bound value is a parameter of the key, not part of it
    other = base.on_conflict_do_nothing(index_elements=["event_id"],
                                        index_where=Inbox.handler == "y")._generate_cache_key()
    assert other.key == keys[4].key
    assert other.bindparams[-1].value == "y"


def backend_pid(engine) -> int:
    with engine.connect() as conn:
        return conn.scalar(text("SELECT pg_backend_pid()"))


def terminate(url, pid):
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            assert conn.scalar(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
            wait_for(lambda: not conn.scalar(text(
                "SELECT count(*) FROM pg_stat_activity WHERE pid = :pid"), {"pid": pid}),
                message="the backend gone")
    finally:
        admin.dispose()


def test_a_pooled_connection_the_server_closed_is_replaced_at_checkout(url, engine):
    pid = backend_pid(engine)
    statements = record_statements(engine)
    terminate(url, pid)
    eventlet.sleep(0.05)  # the goodbye reaches our socket

    with Session(engine) as session:
        assert inbox.claim(session, Inbox, registered("after-restart"), "h")
        new_pid = session.scalar(text("SELECT pg_backend_pid()"))
        session.commit()

    assert new_pid != pid
    # no pre-ping: the claim was the first statement the new connection ran
    assert statements[0][0].startswith("INSERT INTO inbox")


def test_a_live_pooled_connection_is_kept_and_not_pinged(url, engine):
    pid = backend_pid(engine)
    statements = record_statements(engine)
    assert backend_pid(engine) == pid
    assert [sql for sql, _ in statements] == ["SELECT pg_backend_pid()"]
    assert engine.pool._pre_ping is False


def claimed(url, event_id) -> int:
    other = create_engine(url)
    try:
        with other.connect() as conn:
            return conn.scalar(text("SELECT count(*) FROM inbox WHERE event_id = :id"),
                               {"id": event_id})
    finally:
        other.dispose()


def test_one_statement_commits_on_its_own_and_the_next_transaction_is_normal(engine, url):
    first, second = events.UserRegistered(user_id="u", email="a@b.c", name=None), \
        events.UserRegistered(user_id="v", email="b@b.c", name=None)
    with Session(engine) as session:
        with one_statement(session):
            assert inbox.claim(session, Inbox, first, "h")
        assert claimed(url, first.event_id) == 1  # committed already: autocommit
        session.commit()
        inbox.claim(session, Inbox, second, "h")   # an ordinary transaction again
        session.rollback()
    assert claimed(url, second.event_id) == 0  # rolled back: it was in a transaction


def test_one_statement_refuses_a_transaction_under_way(engine):
    with Session(engine) as session:
        session.execute(text("SELECT 1"))
        with pytest.raises(RuntimeError, match="under way"), one_statement(session):
            pass
