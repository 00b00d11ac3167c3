"""Batched consumption (common.batching) against the real RabbitMQ and PostgreSQL."""

import pytest
from eventlet.event import Event
from eventlet.queue import LightQueue
from kombu import Connection
from nameko.standalone.events import event_dispatcher
from nameko.standalone.rpc import ServiceRpcProxy
from nameko.testing.utils import get_extension
from sqlalchemy import select

from common import events
from common.batching import BatchEventHandler, batch_event_handler, take_batch
from common.db import DatabaseSession
from common.deadletters import DeadLetterStore
from common.entrypoints import rpc
from common.inbox import InboxClaims
from common.logging import LogContext
from common.testing import wait_for
from tests.integration.support import Base, DeadLetter, Effect, Inbox, kept_letters, registered

pytestmark = pytest.mark.integration

QUEUE = "evt-user_svc-user.registered--batch_svc.on_registered"


class Gate:
    """Holds the first batch until the test opens it; records every batch."""

    opened = None  # an eventlet Event, set per test
    batches: list = []
    poison = "poison"  # the user id whose event fails its batch


class BatchService:
    name = "batch_svc"
    db = DatabaseSession(Base)
    dead_letters = DeadLetterStore(Base, DeadLetter)
    inbox = InboxClaims(Inbox)
    correlation_id = LogContext()

    @batch_event_handler("user_svc", "user.registered")
    def on_registered(self, batch: list[events.UserRegistered]):
        Gate.batches.append([event.user_id for event in batch])
        if len(Gate.batches) == 1:
            Gate.opened.wait()
        for event in batch:
            if self.inbox.claim(self.db, event):
                self.db.add(Effect(event_id=event.event_id, correlation_id=event.user_id))
            self.db.flush()
            if event.user_id == Gate.poison:
                raise RuntimeError("a poison event, on purpose")
        self.db.commit()

    @rpc
    def ping(self):
        return "pong"


@pytest.fixture
def batch_config(config):
    Gate.opened, Gate.batches = Event(), []
    return {**config, "DB_URIS": {**config["DB_URIS"], "batch_svc:Base":
                                  config["DB_URIS"]["consumer_svc:Base"]},
            "max_workers": 2, "RPC_RESERVED_WORKERS": 1, "EVENT_BATCH_MAX": 8}


def publish(config, *user_ids):
    dispatch = event_dispatcher(config)
    sent = [registered(user_id) for user_id in user_ids]
    for event in sent:
        dispatch("user_svc", "user.registered", event.to_payload())
    return sent


def handled(session) -> list[str]:
    session.commit()  # a new snapshot per look
    return sorted(session.scalars(select(Effect.correlation_id)))


def waiting_in_queue(config) -> int:
    with Connection(config["AMQP_URI"]) as conn:
        return conn.default_channel.queue_declare(QUEUE, passive=True).message_count


def test_events_that_wait_are_taken_in_one_batch_and_each_acked(
        container_factory, batch_config, common_db):
    container = container_factory(BatchService, batch_config)
    container.start()
    publish(batch_config, "first")
    wait_for(lambda: Gate.batches == [["first"]], message="the first batch under way")
    later = [f"u{n}" for n in range(12)]
    publish(batch_config, *later)
    # The budget is max_workers - RPC_RESERVED_WORKERS = 1 slot, held: what arrives
    # now waits, up to the prefetch (EVENT_BATCH_MAX) unacked: 7 more, one in the
    # hands of the loop that waits for the slot, 6 in its buffer. RPC still answers.
    buffer = get_extension(container, BatchEventHandler).buffer
    wait_for(lambda: buffer.qsize() == 6,
             message="the prefetch of 8 delivered")
    with ServiceRpcProxy("batch_svc", batch_config, timeout=5) as service:
        assert service.ping() == "pong"
    assert len(Gate.batches) == 1
    Gate.opened.send()
    wait_for(lambda: handled(common_db) == sorted(["first", *later]), message="all handled")
    sizes = [len(batch) for batch in Gate.batches]
    assert sum(sizes) == 13 and max(sizes) <= 8  # EVENT_BATCH_MAX
    assert len(sizes) <= 4, f"12 waiting events took {len(sizes) - 1} batches: {sizes}"
    container.stop()  # anything not acked goes back to the queue
    assert waiting_in_queue(batch_config) == 0


def test_a_failed_batch_is_rerun_one_by_one_and_only_the_bad_event_is_dead_lettered(
        container_factory, batch_config, common_db):
    container_factory(BatchService, batch_config).start()
    publish(batch_config, "first")
    wait_for(lambda: Gate.batches == [["first"]], message="the first batch under way")
    publish(batch_config, "a", "b", Gate.poison, "c", "d")
    Gate.opened.send()
    wait_for(lambda: handled(common_db) == ["a", "b", "c", "d", "first"],
             message="the good events handled")
    found = wait_for(lambda: (letters := kept_letters(common_db))["count"] == 1 and letters,
                     message="the poison event dead-lettered")
    (letter,) = found["messages"]
    assert letter["queue"] == QUEUE and letter["attempts"] == 3  # EVENT_MAX_ATTEMPTS
    # After the failed batch, each event ran in a batch of its own.
    failed = next(n for n, batch in enumerate(Gate.batches) if Gate.poison in batch
                  and len(batch) > 1)
    assert all(len(batch) == 1 for batch in Gate.batches[failed + 1:])
    assert handled(common_db).count("a") == 1


def test_a_batch_takes_what_is_buffered_up_to_its_limit():
    buffer = LightQueue()
    for n in range(5):
        buffer.put(n)
    assert take_batch(buffer, "first", 4) == ["first", 0, 1, 2]
    assert take_batch(buffer, "next", 4) == ["next", 3, 4]
    assert take_batch(buffer, "alone", 4) == ["alone"]
