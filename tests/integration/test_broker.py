"""The broker's side against a real RabbitMQ: confirmed, mandatory batches; queue
types and their migration (common.publishing, common.queues)."""

import uuid

import pytest
from kombu import Exchange, Queue

from common import queues
from common.broker import UNROUTED_QUEUE, connect, queue_arguments, unrouted_topology
from common.publishing import BatchPublisher, OutgoingEvent


def outgoing(exchange: Exchange, routing_key: str) -> OutgoingEvent:
    return OutgoingEvent({"n": 1}, exchange, routing_key, {}, str(uuid.uuid4()))


def declare(config, *entities):
    with connect(config["AMQP_URI"], 5) as conn:
        channel = conn.channel()
        for entity in entities:
            entity.bind(channel).declare()


def depth(config, name: str) -> int:
    with connect(config["AMQP_URI"], 5) as conn:
        return conn.channel().queue_declare(name, passive=True).message_count


@pytest.fixture
def publisher(config):
    publisher = BatchPublisher(config, timeout=5)
    yield publisher
    publisher.close()


def test_a_batch_reports_what_no_queue_took_and_delivers_the_rest(config, publisher):
    events = Exchange("shop_svc.events", type="topic", durable=True)
    other = Exchange("shop.other", type="topic", durable=True)  # no policy, no binding
    bound = Queue("shop-bound", exchange=events, routing_key="order.created", durable=True,
                  queue_arguments=queue_arguments(config))
    # A queue that exists and is bound, but takes nothing: the broker nacks. (Classic:
    # a quorum queue applies its length limit only after the fact.)
    full = Queue("shop-full", exchange=events, routing_key="order.cancelled", durable=True,
                 queue_arguments={"x-queue-type": "classic", "x-max-length": 0,
                                  "x-overflow": "reject-publish"})
    declare(config, events, other, bound, full)
    delivered = outgoing(events, "order.created")
    nobody = outgoing(events, "order.expired")  # no binding: the alternate exchange
    returned = outgoing(other, "x")
    nacked = outgoing(events, "order.cancelled")

    refused = publisher.publish_batch([delivered, nobody, returned, nacked])

    assert refused == {returned.message_id, nacked.message_id}
    assert depth(config, "shop-bound") == 1
    assert depth(config, UNROUTED_QUEUE) == 1
    # The channel goes on: the next batch counts its own confirms.
    assert publisher.publish_batch([outgoing(events, "order.created")]) == set()
    assert depth(config, "shop-bound") == 2


def test_every_durable_queue_has_the_configured_type(config, rabbit_config):
    from common.messaging import dead_letter_queue, retry_queue

    declare(config, dead_letter_queue("shop_svc", config),
            retry_queue("shop_svc--x", 100, config))
    api = queues.ManagementApi({**config, "AMQP_URI": rabbit_config["AMQP_URI"]})
    kinds = {q["name"]: q["type"] for q in api.queues()}
    assert kinds["shop_svc.dead-letters"] == "quorum"
    assert kinds["shop_svc--x.retry.100ms"] == "quorum"
    assert kinds[UNROUTED_QUEUE] == "quorum"


def test_migration_moves_a_classic_queue_to_quorum_with_its_messages_and_bindings(config):
    classic = {**config, "AMQP_QUEUE_TYPE": "classic"}
    events = Exchange("shop_svc.events", type="topic", durable=True)
    old = Queue("shop-orders", exchange=events, routing_key="order.created", durable=True,
                queue_arguments=queue_arguments(classic, {
                    "x-dead-letter-exchange": "shop_svc.dlx"}))
    declare(config, events, old)
    publisher = BatchPublisher(config, timeout=5)
    try:
        assert publisher.publish_batch([outgoing(events, "order.created")
                                        for _ in range(3)]) == set()
        assert [q["name"] for q in queues.mismatched(config)] == ["shop-orders"]

        assert queues.migrate_types(config) == ["shop-orders"]

        assert queues.mismatched(config) == []
        (moved,) = [q for q in queues.ManagementApi(config).queues()
                    if q["name"] == "shop-orders"]
        assert moved["type"] == "quorum"
        assert moved["arguments"]["x-dead-letter-exchange"] == "shop_svc.dlx"
        # What the services declare still matches it (an inequivalent argument would be
        # PRECONDITION_FAILED, and the service would not start).
        declare(config, Queue("shop-orders", exchange=events, routing_key="order.created",
                              durable=True, queue_arguments=queue_arguments(config, {
                                  "x-dead-letter-exchange": "shop_svc.dlx"})))
        assert depth(config, "shop-orders") == 3
        # The binding came back: a new event reaches the migrated queue.
        assert publisher.publish_batch([outgoing(events, "order.created")]) == set()
        assert depth(config, "shop-orders") == 4
    finally:
        publisher.close()


def test_migration_refuses_a_queue_that_has_a_consumer(config):
    classic = {**config, "AMQP_QUEUE_TYPE": "classic"}
    busy = Queue("shop-busy", durable=True, queue_arguments=queue_arguments(classic))
    declare(config, busy)
    with connect(config["AMQP_URI"], 5) as conn, conn.Consumer(
            [busy], callbacks=[lambda body, message: None]), pytest.raises(
                queues.QueueInUse, match="shop-busy"):
        queues.migrate_types(config)
    assert [q["name"] for q in queues.mismatched(config)] == ["shop-busy"]


def test_the_services_queues_redeclare_after_a_move_to_quorum_and_back(config):
    from common.messaging import dead_letter_queue, event_queue, retry_queue

    events = Exchange("shop_svc.events", type="topic", durable=True)

    def declared(cfg):
        return [event_queue("shop-evt", events, "order.created", "shop_svc", cfg),
                retry_queue("shop-evt", 250, cfg), dead_letter_queue("shop_svc", cfg),
                *unrouted_topology(cfg)]

    classic = {**config, "AMQP_QUEUE_TYPE": "classic"}
    queues.setup(classic)  # the vhost was prepared for quorum: its unrouted queue moves
    declare(classic, events, *declared(classic))
    assert queues.mismatched(classic) == []
    queues.setup(config)  # to quorum, every queue the services declared
    declare(config, *declared(config))
    assert queues.mismatched(config) == []
