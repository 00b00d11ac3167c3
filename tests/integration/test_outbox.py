"""Transactional outbox and inbox against the real RabbitMQ and PostgreSQL."""

from urllib.parse import urlparse

import eventlet
import pytest
from nameko.amqp.publish import Publisher
from nameko.rpc import rpc
from nameko.standalone.rpc import ServiceRpcProxy
from sqlalchemy import create_engine, event, select, text

from common.db import DatabaseSession, insert
from common.outbox import OutboxRelay, publish_pending
from common.publishing import BatchPublisher
from common.testing import TcpProxy, wait_for
from tests.integration.support import (
    Base,
    Behaviour,
    Consumer,
    Effect,
    Emitter,
    Outbox,
    effect_count,
    registered,
)

pytestmark = pytest.mark.integration


class RelayOnly:
    """A service process that only relays its outbox (what a restarted one does first)."""

    name = "emitter_svc"
    db = DatabaseSession(Base)
    relay = OutboxRelay(Base, Outbox)


def commit_outbox_row(session, event):
    """What an entrypoint leaves behind when its process dies right after COMMIT."""
    session.add(Outbox.of(event))
    session.commit()


def unpublished(session):
    session.expire_all()
    return session.scalars(select(Outbox).where(Outbox.published_at.is_(None))).all()


def test_an_event_committed_before_a_crash_is_delivered_by_the_next_relay(
        container_factory, config, common_db):
    container_factory(Consumer, config).start()
    event = registered("crash-1", correlation_id="req-crash")
    commit_outbox_row(common_db, event)  # ... and the process died before publishing

    container_factory(RelayOnly, config).start()  # restarted

    wait_for(lambda: effect_count(common_db, event.event_id) == 1, message="delivery")
    assert unpublished(common_db) == []
    assert common_db.scalars(select(Effect.correlation_id)).one() == "req-crash"


def test_an_entrypoint_commit_wakes_the_relay_at_once(container_factory, config, common_db):
    # With a 30 s poll, only the wake after the worker explains a prompt delivery.
    config = {**config, "OUTBOX_POLL_INTERVAL_S": 30}
    container_factory(Consumer, config).start()
    container_factory(Emitter, config).start()
    with ServiceRpcProxy("emitter_svc", config, timeout=5) as emitter:
        emitter.register("u-wake")  # the relay's first idle wait starts now
        event_id = emitter.register("u-wake-2")

    wait_for(lambda: effect_count(common_db, event_id) == 1, timeout=5, message="delivery")


def test_a_crash_after_publish_before_marking_sends_again_and_is_handled_once(
        container_factory, config, common_db):
    container_factory(Consumer, config).start()
    event = registered("dup-1")
    commit_outbox_row(common_db, event)
    publisher = BatchPublisher(config)
    publish_pending(common_db, Outbox, publisher, config, batch_size=10)
    publisher.close()
    common_db.rollback()  # the relay died before its UPDATE committed
    wait_for(lambda: effect_count(common_db, event.event_id) == 1, message="first delivery")

    container_factory(RelayOnly, config).start()  # publishes the row again

    wait_for(lambda: len(Behaviour.calls) == 2, message="the second delivery")
    wait_for(lambda: not unpublished(common_db), message="the row marked published")
    assert effect_count(common_db, event.event_id) == 1


def test_a_duplicate_event_is_handled_once(container_factory, config, common_db):
    container_factory(Consumer, config).start()
    event = registered("dup-2")
    publisher = Publisher(config["AMQP_URI"])
    from nameko.events import get_event_exchange
    exchange = get_event_exchange("user_svc", config)
    for _ in range(3):
        publisher.publish(event.to_payload(), exchange=exchange,
                          routing_key="user.registered", declare=[exchange])

    wait_for(lambda: len(Behaviour.calls) == 3, message="three deliveries")
    assert effect_count(common_db, event.event_id) == 1


def test_the_relay_waits_out_a_broker_outage_and_then_delivers(
        container_factory, config, common_db, caplog):
    container_factory(Consumer, config).start()
    amqp = urlparse(config["AMQP_URI"])
    with TcpProxy(amqp.hostname, amqp.port or 5672).start() as proxy:
        _outage(container_factory, config, common_db, caplog, amqp, proxy)


def _outage(container_factory, config, common_db, caplog, amqp, proxy):
    relay_config = {**config, "AMQP_URI": config["AMQP_URI"].replace(
        f"{amqp.hostname}:{amqp.port or 5672}", f"127.0.0.1:{proxy.port}")}
    container_factory(RelayOnly, relay_config).start()
    first = registered("before-outage")
    commit_outbox_row(common_db, first)
    wait_for(lambda: effect_count(common_db, first.event_id) == 1, message="first delivery")

    proxy.cut()
    during = registered("during-outage")
    commit_outbox_row(common_db, during)
    # The relay tries, fails and backs off; the row stays unpublished meanwhile.
    wait_for(lambda: "outbox relay cannot publish yet" in caplog.text,
             message="a failed publish attempt")
    assert [row.event_id for row in unpublished(common_db)] == [during.event_id]
    assert effect_count(common_db, during.event_id) == 0

    proxy.restore()
    wait_for(lambda: effect_count(common_db, during.event_id) == 1, timeout=20,
             message="delivery after the outage")
    assert unpublished(common_db) == []


class CoreEmitter:
    """Writes its outbox row with a Core INSERT through the session (no ORM object)."""

    name = "emitter_svc"
    db = DatabaseSession(Base)
    relay = OutboxRelay(Base, Outbox)

    @rpc
    def register(self, user_id):
        event = registered(user_id)
        row = Outbox.of(event)
        self.db.execute(insert(Outbox).values(
            event_id=row.event_id, source=row.source, event_type=row.event_type,
            payload=row.payload, correlation_id=None))
        self.db.commit()
        return event.event_id


def test_a_core_insert_into_the_outbox_wakes_the_relay_too(container_factory, config,
                                                           common_db):
    config = {**config, "OUTBOX_POLL_INTERVAL_S": 30}
    container_factory(Consumer, config).start()
    container_factory(CoreEmitter, config).start()
    with ServiceRpcProxy("emitter_svc", config, timeout=5) as emitter:
        emitter.register("core-1")
        event_id = emitter.register("core-2")

    wait_for(lambda: effect_count(common_db, event_id) == 1, timeout=5, message="delivery")


class Recorder:
    """A BatchPublisher stand-in that keeps the batches, or fails them."""

    def __init__(self, fail=False, refuse=()):
        self.batches, self.fail, self.refuse = [], fail, set(refuse)

    def publish_batch(self, batch):
        if self.fail:
            raise ConnectionError("broker gone")
        self.batches.append([event.message_id for event in batch])
        return {event.message_id for event in batch} & self.refuse


def relay_statements(engine):
    seen = []
    event.listen(engine, "after_cursor_execute",
                 lambda conn, cursor, sql, params, context, many: seen.append(sql.split()[0]))
    return seen


def test_a_batch_is_one_statement_oldest_first_and_a_failed_publish_keeps_the_rows(
        config, common_db, common_db_url):
    rows = [registered(f"batch-{n}") for n in range(5)]
    for row in rows:
        commit_outbox_row(common_db, row)
    engine = create_engine(common_db_url)
    statements = relay_statements(engine)
    try:
        with pytest.raises(ConnectionError), engine.begin() as conn:
            publish_pending(conn, Outbox, Recorder(fail=True), config, batch_size=3)
        assert len(unpublished(common_db)) == 5  # rolled back

        recorder = Recorder()
        with engine.begin() as conn:
            assert publish_pending(conn, Outbox, recorder, config, batch_size=3) == 3
        with engine.begin() as conn:
            assert publish_pending(conn, Outbox, recorder, config, batch_size=3) == 2
    finally:
        engine.dispose()

    assert statements == ["UPDATE", "UPDATE", "UPDATE"]  # no SELECT, no second UPDATE
    assert recorder.batches == [[r.event_id for r in rows[:3]], [r.event_id for r in rows[3:]]]
    assert unpublished(common_db) == []


def test_commits_that_land_while_the_relay_lingers_share_one_batch(container_factory, config,
                                                                   common_db):
    config = {**config, "OUTBOX_POLL_INTERVAL_S": 30, "OUTBOX_LINGER_MS": 300}
    container_factory(Consumer, config).start()
    container = container_factory(Emitter, config)
    container.start()
    relay = next(d for d in container.dependencies if isinstance(d, OutboxRelay))
    batches = []
    event.listen(relay.engine, "after_cursor_execute",
                 lambda conn, cursor, sql, params, context, many:
                 sql.startswith("UPDATE") and cursor.rowcount and batches.append(cursor.rowcount))
    proxies = [ServiceRpcProxy("emitter_svc", config, timeout=5) for _ in range(3)]
    callers = [proxy.start() for proxy in proxies]
    try:
        pile = eventlet.GreenPile()
        for n, caller in enumerate(callers):
            pile.spawn(caller.register, f"linger-{n}")
        event_ids = list(pile)
    finally:
        for proxy in proxies:
            proxy.stop()

    wait_for(lambda: all(effect_count(common_db, e) == 1 for e in event_ids),
             message="every delivery")
    assert batches == [3]


def service_connections_config(config):
    """`config` whose services' connections carry an application_name of their own."""
    return {**config, "DB_URIS": {key: f"{url}?application_name={SERVICE_APP}"
                                  for key, url in config["DB_URIS"].items()}}


SERVICE_APP = "plumbing_test_services"


def terminate_service_connections(common_db_url) -> int:
    """What a PostgreSQL restart does to the services' pooled connections, done to
    these services' only (as superuser); returns how many backends were ended."""
    admin = create_engine(common_db_url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            # In the select list, the terminate runs on the filtered rows only.
            ended = [pid for pid, done in conn.execute(text(
                "SELECT pid, pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE application_name = :app"), {"app": SERVICE_APP}) if done]
            # Those backends, not every one of the services: a relay or store that
            # reconnects at once opens a new one, which is what services do.
            wait_for(lambda: not conn.scalar(text(
                "SELECT count(*) FROM pg_stat_activity WHERE pid = ANY(:pids)"),
                {"pids": ended}), message="the backends gone")
    finally:
        admin.dispose()
    eventlet.sleep(0.05)  # their goodbyes reach the pooled sockets
    return len(ended)


def test_an_rpc_after_the_database_dropped_every_pooled_connection_succeeds(
        container_factory, config, common_db, common_db_url, caplog):
    config = service_connections_config(config)
    container_factory(Consumer, config).start()
    emitter = container_factory(Emitter, config)
    emitter.start()
    pool = next(d for d in emitter.dependencies if isinstance(d, DatabaseSession)).engine.pool
    assert (pool.size(), pool._max_overflow, pool._pre_ping) == (config["max_workers"], 0,
                                                                   False)
    with ServiceRpcProxy("emitter_svc", config, timeout=10) as proxy:
        before = proxy.register("before-drop")
        wait_for(lambda: effect_count(common_db, before) == 1, message="first delivery")

        # the emitter's worker and relay connections, the consumer's worker connection
        assert terminate_service_connections(common_db_url) >= 3

        after = proxy.register("after-drop")  # a RemoteError here is what we fix

    wait_for(lambda: effect_count(common_db, after) == 1, message="delivery after the drop")
    # handled at its first attempt: the handler's dead connection was replaced, not used
    assert [e.event_id for e in Behaviour.calls].count(after) == 1
    assert "outbox relay cannot publish yet" not in caplog.text
    assert unpublished(common_db) == []


def test_an_event_the_broker_refused_keeps_its_row_and_the_rest_are_marked(
        config, common_db, common_db_url):
    rows = [registered(f"refused-{n}") for n in range(3)]
    for row in rows:
        commit_outbox_row(common_db, row)
    engine = create_engine(common_db_url)
    try:
        with engine.begin() as conn:
            taken = publish_pending(conn, Outbox, Recorder(refuse={rows[1].event_id}),
                                    config, batch_size=10)
    finally:
        engine.dispose()
    assert taken == 2
    assert [r.event_id for r in unpublished(common_db)] == [rows[1].event_id]


def test_a_refused_event_waits_its_backoff_while_the_others_go_on(
        config, common_db, common_db_url):
    from common.outbox import RefusedRows

    rows = [registered(f"held-{n}") for n in range(3)]
    for row in rows:
        commit_outbox_row(common_db, row)
    refusals = RefusedRows()
    stubborn = Recorder(refuse={rows[0].event_id})
    engine = create_engine(common_db_url)
    try:
        with engine.begin() as conn:
            assert publish_pending(conn, Outbox, stubborn, config, 10, refusals) == 2
        commit_outbox_row(common_db, later := registered("held-later"))
        with engine.begin() as conn:  # the refused one is held back: the new one goes
            assert publish_pending(conn, Outbox, stubborn, config, 10, refusals) == 1
    finally:
        engine.dispose()
    assert stubborn.batches == [[r.event_id for r in rows], [later.event_id]]
    assert [r.event_id for r in unpublished(common_db)] == [rows[0].event_id]


def test_refused_rows_wait_longer_each_time_and_are_forgotten_once_taken():
    from common.outbox import MAX_REFUSED_WAIT_S, RefusedRows

    refusals = RefusedRows()
    refusals.settle([7], [], now=100.0)
    assert refusals.held(100.5) == [7] and refusals.held(101.0) == []
    refusals.settle([7], [], now=101.0)
    assert refusals.held(102.9) == [7] and refusals.held(103.0) == []
    for _ in range(10):
        refusals.settle([7], [], now=200.0)
    assert refusals.held(200.0 + MAX_REFUSED_WAIT_S - 0.1) == [7]
    refusals.settle([], [7], now=300.0)
    assert refusals.held(300.0) == []
