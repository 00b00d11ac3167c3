"""The live stream: the hub's fan-out and replay, the broker feed's wiring, and
GET /events/stream (auth, headers, framing, heartbeat, Last-Event-ID, disconnects).

The app's hub has no broker feed here (conftest's `hub`): tests publish into it.
"""

from __future__ import annotations

import time
from dataclasses import replace

import eventlet
import pytest
from nameko.events import get_event_exchange

from common import events
from common.testing import order_event
from gateway import stream as stream_module
from gateway.stream import BrokerFeed, EventHub, StreamEvent
from tests.unit.gateway.support import bearer, error_of

ANN = "11111111-1111-4111-8111-111111111111"  # the make_token fixture's subject
BOB = "22222222-2222-4222-8222-222222222222"
ORDER_ID = "33333333-3333-4333-8333-333333333333"
CONNECTED = b": connected\nretry: 3000\n\n"
HEARTBEAT = b": heartbeat\n\n"


def message(event_id: str, user_id: str = ANN, status: str = "RESERVED") -> StreamEvent:
    return StreamEvent.create(event_id, user_id, "order.status",
                              {"order_id": ORDER_ID, "status": status, "reason": None})


def status_changed(user_id: str = ANN, status: str = "CONFIRMED", **extra) -> dict:
    """The order.* event announcing `status` (its snapshot carries much more)."""
    return order_event(events.ORDER_TRANSITIONS[status], order_id=ORDER_ID, user_id=user_id,
                       status=status, previous_status="RESERVED", **extra).to_payload()


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


def drain(sub) -> list[str]:
    """The ids queued on a subscription right now."""
    ids = []
    while (item := sub.next(0)) is not None:
        ids.append(item.id)
    return ids


# --- EventHub ---------------------------------------------------------------------


def test_a_message_reaches_only_its_users_streams():
    hub = EventHub()
    ann_1, ann_2, bob = hub.subscribe(ANN), hub.subscribe(ANN.upper()), hub.subscribe(BOB)
    assert hub.publish(message("e-1")) == 2
    assert drain(ann_1) == ["e-1"] and drain(ann_2) == ["e-1"]
    assert drain(bob) == []
    assert hub.publish(message("e-2", user_id=BOB)) == 1
    assert (drain(ann_1), drain(bob)) == ([], ["e-2"])


def test_a_reconnect_replays_what_came_after_last_event_id():
    hub = EventHub()
    for n in range(1, 5):
        hub.publish(message(f"e-{n}"))
    hub.publish(message("b-1", user_id=BOB))
    sub = hub.subscribe(ANN, last_event_id="e-2")
    assert [m.id for m in sub.replay] == ["e-3", "e-4"]
    assert hub.subscribe(ANN, last_event_id="e-4").replay == []
    hub.publish(message("e-5"))
    assert drain(sub) == ["e-5"]


@pytest.mark.parametrize("last_event_id", [None, "", "never-seen", "b-1"])
def test_an_unknown_last_event_id_replays_nothing_but_new_messages_flow(last_event_id):
    hub = EventHub()
    hub.publish(message("e-1"))
    hub.publish(message("b-1", user_id=BOB))  # another user's id is unknown for ann
    sub = hub.subscribe(ANN, last_event_id=last_event_id)
    assert sub.replay == []
    hub.publish(message("e-2"))
    assert drain(sub) == ["e-2"]


def test_the_buffer_keeps_the_last_n_messages():
    hub = EventHub(buffer_size=3)
    for n in range(1, 6):
        hub.publish(message(f"e-{n}"))
    assert hub.subscribe(ANN, last_event_id="e-1").replay == []  # pushed out
    assert [m.id for m in hub.subscribe(ANN, last_event_id="e-3").replay] == ["e-4", "e-5"]


def test_the_buffer_forgets_messages_past_the_ttl():
    clock = Clock()
    hub = EventHub(buffer_ttl_s=300, clock=clock)
    hub.publish(message("e-1"))
    clock.now += 100
    hub.publish(message("e-2"))
    hub.publish(message("e-3"))
    clock.now += 250  # e-1 is 350 s old, e-2 and e-3 250 s
    assert hub.subscribe(ANN, last_event_id="e-1").replay == []
    assert [m.id for m in hub.subscribe(ANN, last_event_id="e-2").replay] == ["e-3"]
    clock.now += 60
    hub.publish(message("b-1", user_id=BOB))  # triggers the sweep of quiet users
    assert ANN.lower() not in hub._buffers


def test_a_redelivered_event_goes_out_once():
    hub = EventHub()
    sub = hub.subscribe(ANN)
    assert hub.publish(message("e-1")) == 1
    assert hub.publish(message("e-1")) == 0
    assert drain(sub) == ["e-1"]


def test_a_stream_that_falls_behind_is_closed_and_dropped():
    hub = EventHub(queue_size=2)
    slow, fast = hub.subscribe(ANN), hub.subscribe(ANN)
    hub.publish(message("e-1"))
    hub.publish(message("e-2"))
    drain(fast)
    hub.publish(message("e-3"))
    assert slow.closed and not fast.closed
    assert slow.next(1) is None
    assert hub.subscriber_count(ANN) == 1
    assert drain(fast) == ["e-3"]


def test_unsubscribe_and_close():
    hub = EventHub()
    sub = hub.subscribe(ANN)
    hub.unsubscribe(sub)
    assert hub.subscriber_count() == 0 and hub.publish(message("e-1")) == 0
    waiting = hub.subscribe(BOB)
    reader = eventlet.spawn(waiting.next, 30)
    eventlet.sleep(0)
    hub.close()
    assert reader.wait() is None  # woken at once, not after 30 s
    assert waiting.closed
    assert hub.subscribe(ANN).closed  # a closed hub opens no new streams


def test_an_order_status_event_becomes_an_order_status_message():
    hub = EventHub()
    sub = hub.subscribe(ANN)
    payload = status_changed(status="CANCELLED", reason="payment_declined")
    assert hub.publish_payload(payload) == 1
    (got,) = [sub.next(0)]
    assert (got.id, got.name) == (payload["event_id"], "order.status")
    assert got.data == {"order_id": ORDER_ID, "status": "CANCELLED",
                        "reason": "payment_declined"}
    assert got.wire == (f"id: {payload['event_id']}\nevent: order.status\ndata: "
                        f'{{"order_id":"{ORDER_ID}","status":"CANCELLED",'
                        f'"reason":"payment_declined"}}\n\n').encode()


@pytest.mark.parametrize("cls", [events.NotificationSent, events.NotificationFailed])
def test_a_notification_event_becomes_a_notification_message(cls):
    hub = EventHub()
    sub = hub.subscribe(ANN)
    payload = cls(notification_id="n-1", user_id=ANN, kind="order_confirmed",
                  channel="email", subject="Your order is confirmed").to_payload()
    assert hub.publish_payload(payload) == 1
    got = sub.next(0)
    assert (got.id, got.name) == (payload["event_id"], "notification")
    assert got.data == {"id": "n-1", "kind": "order_confirmed",
                        "subject": "Your order is confirmed"}


@pytest.mark.parametrize("payload", [
    order_event(events.OrderCreated, order_id=ORDER_ID,
                user_id=ANN).to_payload(),  # an order's birth: not a status change
    events.NotificationSent(notification_id="n-1", user_id=None, kind="welcome",
                            channel="email").to_payload(),  # for nobody
    {**status_changed(), "event_id": "two\nlines"},  # not a valid SSE id
    {**status_changed(), "status": None},  # not a valid event
    {"event_type": "nope"}, "not an object", None,
])
def test_other_or_broken_payloads_are_skipped(payload):
    hub = EventHub()
    sub = hub.subscribe(ANN)
    assert hub.publish_payload(payload) == 0
    assert drain(sub) == []


# --- BrokerFeed ---------------------------------------------------------------------


def test_the_feed_reads_one_shared_stream_bound_like_nameko(config):
    feed = BrokerFeed("memory://", {**config, "STREAM_BUFFER_TTL_S": 300}, lambda p: None)
    queue = feed.queue()
    assert queue.name == "gateway.stream-events" == feed.queue_name
    assert (queue.exclusive, queue.auto_delete, queue.durable) == (False, False, True)
    assert queue.queue_arguments["x-queue-type"] == "stream"
    assert queue.queue_arguments["x-max-age"] == "300s"
    bound = {(b.exchange.name, b.routing_key) for b in queue.bindings}
    assert bound == {("order_svc.events", "order.reserved"),
                     ("order_svc.events", "order.confirmed"),
                     ("order_svc.events", "order.shipped"),
                     ("order_svc.events", "order.delivered"),
                     ("order_svc.events", "order.cancelled"),
                     ("notify_svc.events", "notification.sent"),
                     ("notify_svc.events", "notification.failed"),
                     ("inventory_svc.events", "inventory.reserved"),
                     ("inventory_svc.events", "inventory.released")}
    for b in queue.bindings:
        nameko = get_event_exchange(b.exchange.name.split(".")[0], config)
        assert (b.exchange.type, b.exchange.durable, b.exchange.auto_delete,
                b.exchange.delivery_mode) == (nameko.type, nameko.durable,
                                              nameko.auto_delete, nameko.delivery_mode)


def test_the_feed_starts_a_ttl_back_and_reads_on_after_the_last_event_it_saw(config):
    from datetime import UTC, datetime, timedelta

    got = []
    feed = BrokerFeed("memory://", {**config, "STREAM_BUFFER_TTL_S": 300}, got.append)
    start = feed.queue().consumer_arguments["x-stream-offset"]
    assert abs(start - (datetime.now(UTC) - timedelta(seconds=300))) < timedelta(seconds=5)

    class Delivered:
        headers = {"x-stream-offset": 41}
        acked = False

        def decode(self):
            return {"event_type": "x"}

        def ack(self):
            self.acked = True

    message = Delivered()
    feed._on_message(message)
    assert got == [{"event_type": "x"}] and message.acked
    # After a reconnect (a new connection, another node): from the next offset on.
    assert feed.queue().consumer_arguments["x-stream-offset"] == 42


def test_the_feed_reconnects_with_growing_backoff(config, monkeypatch):
    monkeypatch.setattr(stream_module, "MIN_BACKOFF_S", 0.01)
    monkeypatch.setattr(stream_module, "MAX_BACKOFF_S", 0.04)
    sleeps = []
    real_sleep = eventlet.sleep
    monkeypatch.setattr(stream_module.eventlet, "sleep",
                        lambda s=0: (sleeps.append(s), real_sleep(0))[1])
    feed = BrokerFeed("memory://", config, lambda payload: None)
    attempts = []

    def consume():
        attempts.append(1)
        if len(attempts) == 5:
            feed._running = False
            return
        raise ConnectionRefusedError("broker down")

    feed._consume = consume
    feed._running = True
    feed._run()  # returns once _consume stops it: no exception escapes
    assert len(attempts) == 5
    bases = [0.01, 0.02, 0.04, 0.04]  # doubling, capped; each with +-20 % jitter
    assert all(0.8 * b <= s <= 1.2 * b for s, b in zip(sleeps, bases, strict=True)), sleeps


def test_a_bad_message_does_not_stop_the_feed(config):
    got = []
    feed = BrokerFeed("memory://", config, got.append)

    class Broken:
        headers: dict = {}

        def decode(self):
            raise ValueError("not json")

    class Good:
        headers: dict = {}

        def decode(self):
            return {"event_type": "x"}

    feed._on_message(Broken())
    feed._on_message(Good())
    assert got == [{"event_type": "x"}]
    failing = BrokerFeed("memory://", config, lambda payload: 1 / 0)
    failing._on_message(Good())  # logged, not raised


def test_a_hub_from_config_starts_its_feed_once(config, monkeypatch):
    started = []
    monkeypatch.setattr(BrokerFeed, "start", lambda self: started.append(self))
    hub = EventHub.from_config(config)
    assert hub.start() is True
    assert hub.start() is False
    assert len(started) == 1 and started[0].amqp_uri == config["AMQP_URI"]
    monkeypatch.setattr(BrokerFeed, "stop", lambda self: started.remove(self))
    hub.close()
    assert started == []


# --- GET /events/stream -------------------------------------------------------------


@pytest.fixture
def open_stream(client, config):
    """`open_stream(headers=..., query=...)` -> (response, iterator of chunks)."""
    config["STREAM_HEARTBEAT_S"] = 0.05
    opened = []

    def open_(headers=None, query=""):
        response = client.get("/events/stream" + query, headers=headers or {},
                              buffered=False)
        opened.append(response)
        return response, iter(response.response)

    yield open_
    for response in opened:
        response.close()


def next_message(chunks) -> bytes:
    """The next chunk that is not a heartbeat."""
    while (chunk := next(chunks)) == HEARTBEAT:
        pass
    return chunk


def test_the_stream_answers_event_stream_headers_and_connects(open_stream, make_token, hub,
                                                              app):
    environs, inner = [], app.wsgi_app

    def recording(environ, start_response):
        environs.append(environ)
        return inner(environ, start_response)

    app.wsgi_app = recording
    response, chunks = open_stream(bearer(make_token()))
    assert response.status_code == 200
    assert response.mimetype == "text/event-stream"
    assert response.headers["Cache-Control"] == "no-cache"
    assert response.headers["X-Accel-Buffering"] == "no"
    assert response.headers["X-Request-ID"]
    assert "Content-Length" not in response.headers
    # What eventlet.wsgi reads after the app returns: write every chunk at once.
    assert environs[0]["eventlet.minimum_write_chunk_size"] == 0
    assert next(chunks) == CONNECTED
    assert hub.subscriber_count(ANN) == 1


def test_each_user_gets_their_own_messages_only(open_stream, make_token, hub):
    _, ann = open_stream(bearer(make_token()))
    _, bob = open_stream(bearer(make_token(subject=BOB)))
    assert next(ann) == next(bob) == CONNECTED
    hub.publish(message("b-1", user_id=BOB))
    hub.publish(message("e-1", status="RESERVED"))
    hub.publish(message("e-2", status="CONFIRMED"))
    assert next_message(ann) == message("e-1", status="RESERVED").wire
    assert next_message(ann) == message("e-2", status="CONFIRMED").wire
    assert next_message(bob) == message("b-1", user_id=BOB).wire
    assert next(bob) == HEARTBEAT  # nothing else for bob


def test_a_heartbeat_comment_when_nothing_happens(open_stream, make_token, config):
    config["STREAM_HEARTBEAT_S"] = 0.2
    _, chunks = open_stream(bearer(make_token()))
    assert next(chunks) == CONNECTED
    started = time.monotonic()
    assert next(chunks) == HEARTBEAT
    assert next(chunks) == HEARTBEAT
    assert 0.35 <= time.monotonic() - started < 2


@pytest.mark.parametrize("how", ["header", "query"])
def test_last_event_id_replays_what_was_missed(open_stream, make_token, hub, how):
    for n in range(1, 4):
        hub.publish(message(f"e-{n}"))
    headers, query = bearer(make_token()), ""
    if how == "header":
        headers["Last-Event-ID"] = "e-1"
    else:
        query = "?last_event_id=e-1"
    _, chunks = open_stream(headers, query)
    assert next(chunks) == CONNECTED
    assert next(chunks) == message("e-2").wire
    assert next(chunks) == message("e-3").wire
    hub.publish(message("e-4"))
    assert next_message(chunks) == message("e-4").wire


def test_an_unknown_last_event_id_replays_nothing(open_stream, make_token, hub):
    hub.publish(message("e-1"))
    _, chunks = open_stream({**bearer(make_token()), "Last-Event-ID": "gone-long-ago"})
    assert next(chunks) == CONNECTED
    assert next(chunks) == HEARTBEAT
    hub.publish(message("e-2"))
    assert next_message(chunks) == message("e-2").wire


def test_the_token_may_come_as_a_query_parameter(open_stream, make_token, hub):
    response, chunks = open_stream(query=f"?access_token={make_token()}")
    assert response.status_code == 200
    assert next(chunks) == CONNECTED
    hub.publish(message("e-1"))
    assert next_message(chunks) == message("e-1").wire


def _assert_401(response):
    assert response.status_code == 401, response.data
    assert error_of(response)["code"] == "unauthorized"
    assert response.headers["WWW-Authenticate"] == "Bearer"


@pytest.mark.parametrize(("headers", "query"), [
    ({}, ""),
    ({}, "?access_token="),
    ({}, "?access_token=not-a-jwt"),
    ({}, "?access_token=a+b"),
    ({"Authorization": "Bearer nope"}, ""),
    ({"Authorization": "Basic YWxhZGRpbjpvcGVuc2VzYW1l"}, ""),
])
def test_no_valid_token_is_a_401(client, hub, headers, query):
    _assert_401(client.get("/events/stream" + query, headers=headers))
    assert hub.subscriber_count() == 0


def test_a_header_wins_over_the_query_parameter(client, make_token):
    response = client.get(f"/events/stream?access_token={make_token()}",
                          headers={"Authorization": "Bearer nope"})
    _assert_401(response)


def test_an_expired_or_foreign_token_is_a_401(client, make_token, settings):
    expired = make_token(now=int(time.time()) - 10_000)
    _assert_401(client.get(f"/events/stream?access_token={expired}"))
    forged = make_token(token_settings=replace(settings, secret="another-secret-" * 3))
    _assert_401(client.get("/events/stream", headers=bearer(forged)))


@pytest.mark.parametrize("role", ["client", "admin"])
def test_api_clients_have_no_stream(client, make_token, hub, role):
    response = client.get("/events/stream",
                          headers=bearer(make_token(role=role, kind="client")))
    assert response.status_code == 403
    assert error_of(response)["code"] == "forbidden"


def test_an_admin_user_gets_their_own_stream(open_stream, make_token, hub):
    _, chunks = open_stream(bearer(make_token(role="admin", subject=BOB)))
    assert next(chunks) == CONNECTED
    hub.publish(message("e-1"))  # ann's
    hub.publish(message("b-1", user_id=BOB))
    assert next_message(chunks) == message("b-1", user_id=BOB).wire


def test_a_closed_connection_removes_the_subscription(open_stream, make_token, hub):
    response, chunks = open_stream(bearer(make_token()))
    assert next(chunks) == CONNECTED
    assert hub.subscriber_count(ANN) == 1
    response.close()  # what the server does when a write to a gone client fails
    assert hub.subscriber_count() == 0
    assert hub.publish(message("e-1")) == 0


def test_a_response_never_started_subscribes_nobody(client, make_token, hub):
    response = client.get("/events/stream", headers=bearer(make_token()), buffered=False)
    response.close()
    assert hub.subscriber_count() == 0


def test_the_stream_ends_when_the_token_expires(open_stream, make_token, settings):
    # Issued so that it expires in about a second.
    token = make_token(now=int(time.time()) - settings.access_ttl_s + 1)
    _, chunks = open_stream(bearer(token))
    assert next(chunks) == CONNECTED
    rest = list(chunks)  # ends by itself
    assert rest[-1] == b": token expired\n\n"
    assert set(rest[:-1]) <= {HEARTBEAT}


def test_a_busy_stream_ends_at_expiry_too(open_stream, make_token, settings, hub, config):
    config["STREAM_HEARTBEAT_S"] = 30
    token = make_token(now=int(time.time()) - settings.access_ttl_s + 1)
    _, chunks = open_stream(bearer(token))
    assert next(chunks) == CONNECTED
    started, n = time.monotonic(), 0
    hub.publish(message("e-0"))
    for chunk in chunks:  # a message every 50 ms, never a quiet moment
        if chunk == b": token expired\n\n":
            break
        n += 1
        hub.publish(message(f"e-{n}"))
        eventlet.sleep(0.05)
    else:
        raise AssertionError("the stream ended without saying why")
    assert n > 5 and time.monotonic() - started < 3
    assert list(chunks) == []


def test_closing_the_hub_ends_open_streams(open_stream, make_token, hub, config):
    config["STREAM_HEARTBEAT_S"] = 30
    _, chunks = open_stream(bearer(make_token()))
    assert next(chunks) == CONNECTED
    eventlet.spawn_after(0.05, hub.close)
    started = time.monotonic()
    assert list(chunks) == []
    assert time.monotonic() - started < 5


def test_too_many_open_streams_is_a_503(open_stream, make_token, config, hub):
    config["STREAM_MAX_OPEN"] = 1
    _, chunks = open_stream(bearer(make_token()))
    assert next(chunks) == CONNECTED
    response, _ = open_stream(bearer(make_token(subject=BOB)))
    assert response.status_code == 503
    assert error_of(response)["code"] == "service_unavailable"


def test_the_first_stream_starts_the_feed_and_waits_for_it(open_stream, make_token, hub):
    class Feed:
        started = ready_waited = 0

        def start(self):
            Feed.started += 1

        def wait_ready(self, timeout):
            Feed.ready_waited = timeout
            return True

        def stop(self):
            pass

    hub._feed_factory = lambda _hub: Feed()
    _, chunks = open_stream(bearer(make_token()))
    assert next(chunks) == CONNECTED
    _, more = open_stream(bearer(make_token()))
    assert next(more) == CONNECTED
    assert Feed.started == 1 and Feed.ready_waited > 0
    # The pair of requests share the started feed: one start, a wait for each.


def test_an_sms_twin_of_a_mail_is_not_streamed_twice():
    from common import events
    from gateway.stream import to_stream_event

    def sent(channel):
        return events.NotificationSent(notification_id="n1", user_id="u1", kind="order_shipped",
                                       channel=channel, subject="Order 1a2b3c4d shipped")

    assert to_stream_event(sent("email")).name == "notification"
    assert to_stream_event(sent("sms")) is None


def test_a_sixth_stream_of_one_user_is_a_429_and_a_closed_one_frees_its_slot(
        client, make_token, hub):
    # One account once held 40 streams; the contract allows 5 per user.
    ann, bob = bearer(make_token()), bearer(make_token(
        subject="22222222-2222-4222-8222-222222222222"))
    opened = [client.get("/events/stream", headers=ann, buffered=False) for _ in range(5)]
    assert [response.status_code for response in opened] == [200] * 5
    sixth = client.get("/events/stream", headers=ann, buffered=False)
    assert sixth.status_code == 429 and sixth.json["error"]["code"] == "rate_limited"
    other = client.get("/events/stream", headers=bob, buffered=False)
    assert other.status_code == 200  # the limit is per user
    opened[0].close()  # never started: its slot comes back all the same
    again = client.get("/events/stream", headers=ann, buffered=False)
    assert again.status_code == 200
    for response in (*opened[1:], other, again):
        response.close()
    last = client.get("/events/stream", headers=ann, buffered=False)
    assert last.status_code == 200
    last.close()
