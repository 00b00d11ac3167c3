"""GET /events/stream on the running cluster: each user sees their own orders move,
a reconnect with Last-Event-ID catches up, and hundreds of open streams do not slow
ordinary requests down.

Streams are read line by line in green threads (the test process is eventlet-patched).
"""

from __future__ import annotations

import json
import time
import uuid

import eventlet
import pytest
import requests

from common.testing import wait_for
from tests.e2e.test_orders import place, settled

pytestmark = pytest.mark.e2e

PASSWORD = "correct horse"


class Stream:
    """An open event stream, read in a green thread: `lines` as they come, and
    `events` parsed ({"id", "event", "data"}) at each blank line."""

    def __init__(self, cluster, headers=None, params=None, timeout=10):
        self.response = requests.get(cluster.url + "/events/stream", headers=headers or {},
                                     params=params or {}, stream=True, timeout=(timeout, 60))
        self.lines: list[str] = []
        self.events: list[dict] = []
        self.error: BaseException | None = None
        self._lines = self.response.iter_lines(decode_unicode=True)
        self.reader = None

    def first_line(self) -> str:
        """Read the first line in the caller's thread (a stream must start with it)."""
        line = next(self._lines)
        self.lines.append(line)
        return line

    def follow(self) -> Stream:
        """Read the rest in a green thread."""
        self.reader = eventlet.spawn(self._read)
        return self

    def _read(self) -> None:
        fields: dict[str, str] = {}
        try:
            for line in self._lines:
                self.lines.append(line)
                if line == "":
                    if "data" in fields:
                        self.events.append({"id": fields.get("id"),
                                            "event": fields.get("event", "message"),
                                            "data": json.loads(fields["data"])})
                    fields = {}
                elif not line.startswith(":"):
                    name, _, value = line.partition(":")
                    fields[name] = value[1:] if value.startswith(" ") else value
        except (requests.RequestException, OSError, ValueError, AttributeError) as exc:
            self.error = exc  # closed by the test, or by the server

    def of(self, name: str) -> list[dict]:
        return [e for e in self.events if e["event"] == name]

    def wait_for(self, condition, timeout=30, message="stream events"):
        return wait_for(lambda: condition(self), timeout=timeout, interval=0.05,
                        message=f"{message} (got {self.events})")

    def close(self) -> None:
        # The reader first: closing a reader blocked in a read is a reentrant call.
        if self.reader is not None:
            self.reader.kill()
        self.response.close()


def new_user(cluster) -> str:
    """A freshly registered customer's access token."""
    email = f"s-{uuid.uuid4().hex[:10]}@example.com"
    assert cluster.post("/auth/register", json={"email": email, "password": PASSWORD}
                        ).status_code == 201
    answer = cluster.post("/auth/login", json={"email": email, "password": PASSWORD})
    assert answer.status_code == 200, answer.text
    return answer.json()["access_token"]


def auth(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def streams():
    opened: list[Stream] = []
    yield opened
    for stream in opened:
        stream.close()


def statuses(stream: Stream, order_id: str) -> list[str]:
    return [e["data"]["status"] for e in stream.of("order.status")
            if e["data"]["order_id"] == order_id]


def test_each_user_sees_only_their_own_orders_move(cluster, product, streams):
    ann, bob = new_user(cluster), new_user(cluster)
    # Ann's stream authenticates with the header, Bob's as a browser would (query).
    ann_stream = Stream(cluster, headers=auth(ann))
    bob_stream = Stream(cluster, params={"access_token": bob})
    streams += [ann_stream, bob_stream]
    for stream in (ann_stream, bob_stream):
        assert stream.response.status_code == 200
        assert stream.response.headers["Content-Type"].startswith("text/event-stream")
        assert stream.response.headers["Cache-Control"] == "no-cache"
        assert stream.first_line() == ": connected"
        stream.follow()

    sku = product()
    ann_order = place(cluster, auth(ann), sku).json()["id"]
    bob_order = place(cluster, auth(bob), sku, quantity=2).json()["id"]
    settled(cluster, auth(ann), ann_order, "CONFIRMED")
    settled(cluster, auth(bob), bob_order, "CONFIRMED")

    for stream, own in ((ann_stream, ann_order), (bob_stream, bob_order)):
        stream.wait_for(lambda s, own=own: "CONFIRMED" in statuses(s, own),
                        message=f"order {own} CONFIRMED on its owner's stream")
        seen = statuses(stream, own)
        assert seen[:2] == ["RESERVED", "CONFIRMED"], seen
        assert {e["data"]["order_id"] for e in stream.of("order.status")} == {own}
        for event in stream.of("order.status"):
            assert set(event["data"]) == {"order_id", "status", "reason"}
            assert event["data"]["reason"] is None
        ids = [e["id"] for e in stream.events]
        assert all(ids) and len(set(ids)) == len(ids)
    assert "retry: 3000" in ann_stream.lines


def seen_until_confirmed(cluster, product, streams) -> tuple[str, str, dict]:
    """A new user's order followed on a stream until CONFIRMED, then the stream closed:
    (token, order id, its RESERVED event, the one a reconnect names as last seen)."""
    token = new_user(cluster)
    first = Stream(cluster, headers=auth(token))
    streams.append(first)
    assert first.first_line() == ": connected"
    first.follow()
    order = place(cluster, auth(token), product()).json()["id"]
    first.wait_for(lambda s: "CONFIRMED" in statuses(s, order), message="CONFIRMED")
    reserved = next(e for e in first.of("order.status") if e["data"]["status"] == "RESERVED")
    first.close()
    return token, order, reserved


def assert_caught_up(gateway, streams, token, order, reserved) -> None:
    again = Stream(gateway, headers={**auth(token), "Last-Event-ID": reserved["id"]})
    streams.append(again)
    assert again.first_line() == ": connected"
    again.follow()
    again.wait_for(lambda s: statuses(s, order)[:1] == ["CONFIRMED"],
                   message="the missed CONFIRMED replayed")
    assert reserved["id"] not in [e["id"] for e in again.events]


def test_a_reconnect_with_last_event_id_catches_up(cluster, product, streams):
    assert_caught_up(cluster, streams, *seen_until_confirmed(cluster, product, streams))


def test_a_reconnect_to_another_gateway_replica_catches_up_too(cluster, product, streams,
                                                              tmp_path):
    # Every gateway reads the one RabbitMQ stream, from STREAM_BUFFER_TTL_S back when it
    # starts: a replica started after the events still replays them.
    from tests.e2e.test_ratelimits import Gateway

    seen = seen_until_confirmed(cluster, product, streams)
    replica = Gateway(cluster, tmp_path, "gateway-replica").start()
    try:
        assert_caught_up(replica, streams, *seen)
    finally:
        replica.process.stop()


def test_a_stream_needs_a_valid_token(cluster, customer):
    for kwargs in ({}, {"params": {"access_token": "not-a-token"}},
                   {"headers": {"Authorization": "Bearer nope"}}):
        answer = cluster.get("/events/stream", **kwargs)
        assert answer.status_code == 401, answer.text
        assert answer.json()["error"]["code"] == "unauthorized"


def test_200_open_streams_while_get_products_still_answers_promptly(cluster, customer,
                                                                    streams):
    # 40 users with 5 streams each: the most one user may hold (STREAM_MAX_PER_USER).
    users = [auth(new_user(cluster)) for _ in range(40)]

    def open_one(n):
        headers = users[n % 40]
        token = headers["Authorization"].split()[1]
        stream = (Stream(cluster, headers=headers) if n % 2
                  else Stream(cluster, params={"access_token": token}))
        streams.append(stream)
        return stream.response.status_code, stream.first_line()

    pool = eventlet.GreenPool(200)
    opened = list(pool.imap(open_one, range(200)))
    assert opened == [(200, ": connected")] * 200

    timings = []
    for _ in range(20):
        started = time.monotonic()
        answer = cluster.get("/products")
        timings.append(time.monotonic() - started)
        assert answer.status_code == 200, answer.text
    assert max(timings) < 1.0, timings

    for stream in streams:
        stream.close()
    streams.clear()
    assert cluster.processes["gateway"].popen.poll() is None, cluster.logs()
    assert cluster.get("/health").status_code == 200
    assert cluster.get("/products").status_code == 200
    after = Stream(cluster, headers=customer)
    streams.append(after)
    assert after.first_line() == ": connected"


def test_a_sixth_stream_of_one_user_is_a_429(cluster, customer, streams):
    for _ in range(5):
        streams.append(Stream(cluster, headers=customer))
        assert streams[-1].first_line() == ": connected"
    answer = cluster.get("/events/stream", headers=customer)
    assert answer.status_code == 429 and answer.json()["error"]["code"] == "rate_limited"
    # The server learns that a client went away at its next write (a heartbeat, every
    # STREAM_HEARTBEAT_S): only then is the slot free again.
    streams.pop().close()
    wait_for(lambda: (opened := Stream(cluster, headers=customer)).response.status_code == 200
             and streams.append(opened) is None, timeout=40, interval=1,
             message="a freed slot")
