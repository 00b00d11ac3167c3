"""Transactional outbox and inbox against the real RabbitMQ and PostgreSQL."""

from urllib.parse import urlparse

import pytest
from nameko.amqp.publish import Publisher
from nameko.standalone.rpc import ServiceRpcProxy
from sqlalchemy import select

from common.db import DatabaseSession
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
