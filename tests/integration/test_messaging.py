"""The dead-lettering event handler against the real RabbitMQ (a vhost per test)."""

import eventlet
import pytest
from eventlet.event import Event
from nameko.rpc import rpc
from nameko.standalone.events import event_dispatcher
from nameko.standalone.rpc import ServiceRpcProxy

from common import events
from common.messaging import event_handler, event_worker_budget
from common.testing import wait_for
from tests.integration.support import (
    Behaviour,
    Consumer,
    effect_count,
    kept_letters,
    registered,
)

pytestmark = pytest.mark.integration


def publish(config, payload, headers=None):
    dispatch = event_dispatcher(config, headers=headers or {})
    dispatch("user_svc", "user.registered", payload)


def dead_letters(session):
    return kept_letters(session)


def test_a_handler_that_always_fails_ends_in_the_dlq_after_n_attempts(
        container_factory, config, common_db):
    Behaviour.mode = "fail_always"
    container_factory(Consumer, config).start()
    event = registered("u1")
    publish(config, event.to_payload())

    found = wait_for(lambda: dead_letters(common_db)["count"] == 1 and dead_letters(common_db),
                     message="the message in the dead-letter queue")
    assert len(Behaviour.calls) == 3
    (letter,) = found["messages"]
    assert letter["event_id"] == event.event_id
    assert letter["event_type"] == "user.registered"
    assert letter["attempts"] == 3
    assert "RuntimeError: handler failed on purpose" in letter["error"]
    assert letter["queue"] == "evt-user_svc-user.registered--consumer_svc.on_registered"
    assert effect_count(common_db) == 0


def test_a_handler_that_fails_once_succeeds_on_its_retry(container_factory, config,
                                                         common_db):
    Behaviour.mode = "fail_once"
    container_factory(Consumer, config).start()
    event = registered("u2")
    publish(config, event.to_payload())

    wait_for(lambda: effect_count(common_db, event.event_id) == 1, message="the effect")
    assert [e.event_id for e in Behaviour.calls] == [event.event_id, event.event_id]
    assert dead_letters(common_db)["count"] == 0


def test_a_non_retryable_error_goes_straight_to_the_dlq(container_factory, config, common_db):
    Behaviour.mode = "non_retryable"
    container_factory(Consumer, config).start()
    publish(config, registered("u3").to_payload())

    letters = wait_for(lambda: dead_letters(common_db)["count"] == 1 and dead_letters(common_db),
                       message="the dead letter")
    assert len(Behaviour.calls) == 1
    assert letters["messages"][0]["attempts"] == 1
    assert "NonRetryable: this can never work" in letters["messages"][0]["error"]


def test_a_malformed_payload_is_dead_lettered_without_calling_the_handler(
        container_factory, config, common_db):
    container_factory(Consumer, config).start()
    publish(config, {"event_type": "user.registered", "user_id": 42})

    letters = wait_for(lambda: dead_letters(common_db)["count"] == 1 and dead_letters(common_db),
                       message="the dead letter")
    assert Behaviour.calls == []
    assert "InvalidEvent" in letters["messages"][0]["error"]


def test_a_dead_letter_is_replayed_to_its_handler_once_fixed(container_factory, config,
                                                            common_db):
    Behaviour.mode = "non_retryable"
    container_factory(Consumer, config).start()
    event = registered("u4")
    publish(config, event.to_payload())
    wait_for(lambda: dead_letters(common_db)["count"] == 1, message="the dead letter")

    Behaviour.mode = "ok"  # the fix is deployed
    with ServiceRpcProxy("consumer_svc", config, timeout=10) as consumer:
        assert consumer.replay_dead_letters() == 1

    wait_for(lambda: effect_count(common_db, event.event_id) == 1, message="the replayed effect")
    assert dead_letters(common_db)["count"] == 0


def test_purge_empties_the_dead_letter_queue(container_factory, config, common_db):
    Behaviour.mode = "non_retryable"
    container_factory(Consumer, config).start()
    for n in range(3):
        publish(config, registered(f"p{n}").to_payload())
    wait_for(lambda: dead_letters(common_db)["count"] == 3, message="three dead letters")

    with ServiceRpcProxy("consumer_svc", config, timeout=10) as consumer:
        assert consumer.purge_dead_letters() == 3
    assert dead_letters(common_db)["count"] == 0


def test_one_dead_letter_is_replayed_or_purged_and_the_others_stay(container_factory, config,
                                                                   common_db):
    Behaviour.mode = "non_retryable"
    container_factory(Consumer, config).start()
    fixed, dropped, kept = (registered(f"one{n}") for n in range(3))
    for event in (fixed, dropped, kept):
        publish(config, event.to_payload())
    wait_for(lambda: dead_letters(common_db)["count"] == 3, message="three dead letters")

    Behaviour.mode = "ok"
    with ServiceRpcProxy("consumer_svc", config, timeout=10) as consumer:
        assert consumer.replay_dead_letters(event_id=fixed.event_id) == 1
        assert consumer.purge_dead_letters(event_id=dropped.event_id) == 1
        assert consumer.replay_dead_letters(event_id=dropped.event_id) == 0
        assert consumer.purge_dead_letters(event_id="no-such-event") == 0

    wait_for(lambda: effect_count(common_db, fixed.event_id) == 1, message="the replayed effect")
    left = dead_letters(common_db)
    assert [m["event_id"] for m in left["messages"]] == [kept.event_id]
    assert effect_count(common_db) == 1  # the purged one never reached the handler


def test_the_correlation_id_travels_from_the_envelope_into_the_worker(
        container_factory, config, common_db):
    container_factory(Consumer, config).start()
    event = registered("u5", correlation_id="req-abc")
    publish(config, event.to_payload())

    wait_for(lambda: effect_count(common_db, event.event_id) == 1, message="the effect")
    from tests.integration.support import Effect
    assert common_db.query(Effect).one().correlation_id == "req-abc"


class Gate:
    """Holds the busy service's handlers until the test opens it."""

    opened = None  # eventlet Event, set per test
    running = 0
    handled: list = []


class BusyService:
    """A service whose event handlers are all stuck, and which must still answer RPC."""

    name = "busy_svc"

    @event_handler("user_svc", "user.registered")
    def on_registered(self, event: events.UserRegistered):
        Gate.running += 1
        try:
            Gate.opened.wait()
        finally:
            Gate.running -= 1
        Gate.handled.append(event.event_id)

    @rpc
    def ping(self):
        return Gate.running


def test_an_rpc_is_answered_while_the_event_handlers_take_every_slot_they_may(
        container_factory, config, common_db):
    Gate.opened, Gate.running, Gate.handled = Event(), 0, []
    config = {**config, "max_workers": 4, "RPC_RESERVED_WORKERS": 1}
    container_factory(BusyService, config).start()
    sent = [registered(f"busy-{n}") for n in range(12)]
    for event in sent:
        publish(config, event.to_payload())
    wait_for(lambda: Gate.running == 3, message="the event budget (4 - 1) taken")

    with ServiceRpcProxy("busy_svc", config, timeout=5) as busy:
        # nameko's one pool would have given all four slots to events: no answer
        assert busy.ping() == 3
        eventlet.sleep(0.1)
        assert busy.ping() == 3  # the budget holds: no fourth handler slipped in

    Gate.opened.send()
    wait_for(lambda: len(Gate.handled) == len(sent), message="every event handled")
    assert sorted(Gate.handled) == sorted(e.event_id for e in sent)
    assert dead_letters(common_db)["count"] == 0


def test_the_event_budget_leaves_the_reserved_slots_and_at_least_one():
    assert event_worker_budget(10, 3) == 7
    assert event_worker_budget(4, 1) == 3
    assert event_worker_budget(2, 5) == 1


def test_dead_letters_leave_the_broker_for_the_table_and_looking_changes_nothing(
        container_factory, config, common_db):
    from common.broker import connect
    from common.messaging import dead_letter_queue

    Behaviour.mode = "non_retryable"
    container_factory(Consumer, config).start()
    event = registered("u-kept")
    publish(config, event.to_payload())
    first = wait_for(lambda: dead_letters(common_db)["count"] == 1 and dead_letters(common_db),
                     message="the dead letter kept")
    with ServiceRpcProxy("consumer_svc", config, timeout=10) as consumer:
        for _ in range(3):
            assert consumer.list_dead_letters() == first
    assert dead_letters(common_db) == first
    with connect(config["AMQP_URI"], 5) as conn:
        queue = dead_letter_queue("consumer_svc", config).name
        assert conn.channel().queue_declare(queue, passive=True).message_count == 0
