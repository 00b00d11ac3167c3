"""The live stream's engine: one broker feed per gateway process, fanned out per user.

    hub = EventHub.from_config(config)   # create_app builds it (tests pass their own)
    hub.start()                          # server.py at start-up; else the first stream
    sub = hub.subscribe(user_id, last_event_id)
    ... sub.replay, then sub.next(timeout) until sub.closed ...
    hub.unsubscribe(sub)

BrokerFeed is one green thread reading `gateway.stream-events`, a RabbitMQ stream (an
append-only log that readers do not consume: each keeps its own offset) bound to
`order_svc.events` (the transitions: `order.reserved`, `order.confirmed`,
`order.shipped`, `order.delivered`, `order.cancelled`) and `notify_svc.events`
(`notification.sent`, `notification.failed`), and to inventory_svc's stock events for
the catalog cache's listener (gateway.catalog). The exchanges are declared exactly as
nameko declares them (`nameko.events.get_event_exchange`), so it does not matter who
comes up first. Every gateway process reads the whole stream, so every process sees
every event (a broadcast), whichever process a user's stream is on; the stream keeps
about STREAM_BUFFER_TTL_S of events. A process starts reading that far back, so its
replay buffers hold what every other process's hold, and a client reconnecting with
`Last-Event-ID` to another gateway replica gets what it missed there too. When the
broker goes away the feed logs, waits (growing backoff with jitter, at most
MAX_BACKOFF_S) and reconnects, reading on from the offset after the last event it
saw: events published meanwhile are not lost to it. It never takes the gateway down.

EventHub turns each event into an SSE message for the event's `user_id` and hands it to
that user's subscriptions only (one per open stream). It also keeps, per user, a ring
buffer of the last `buffer_size` messages (no older than `buffer_ttl_s`), so a client
that reconnects with `Last-Event-ID` gets what it missed: see EventHub.subscribe.
Everything runs in green threads of one process: no locks are needed because nothing
here yields between reading and changing the hub's state.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import logging
import random
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import eventlet
from amqp.exceptions import PreconditionFailed
from eventlet.event import Event as Signal
from eventlet.queue import Empty, Full, LightQueue
from kombu import Queue, binding
from nameko.events import get_event_exchange

from common import events
from common.broker import connect

log = logging.getLogger(__name__)

# What the stream listens to: (source service, event type) pairs.
# The order events that announce a new status (order.created is the order's birth: the
# POST /orders answer already said PENDING).
ORDER_STATUS_EVENTS = tuple(events.ORDER_TRANSITIONS.values())
SUBSCRIBED = (
    *(("order_svc", announce.TYPE) for announce in ORDER_STATUS_EVENTS),
    ("notify_svc", events.NotificationSent.TYPE),
    ("notify_svc", events.NotificationFailed.TYPE),
    # Not streamed: they tell gateway.catalog that `available` changed.
    ("inventory_svc", events.InventoryReserved.TYPE),
    ("inventory_svc", events.InventoryReleased.TYPE),
)
STREAM_QUEUE = "gateway.stream-events"
# Retention works on whole segments: small ones, so that the age limit takes hold.
STREAM_SEGMENT_BYTES = 1_000_000
STREAM_MAX_BYTES = 200_000_000
FEED_PREFETCH = 500  # a stream is read with a prefetch window (and acks, which only credit)

DEFAULT_BUFFER_SIZE = 100  # messages kept per user for Last-Event-ID replays
DEFAULT_BUFFER_TTL_S = 300.0  # ... and for at most this long
DEFAULT_QUEUE_SIZE = 1000  # undelivered messages per open stream before it is dropped
SWEEP_EVERY_S = 60.0  # how often buffers of users gone quiet are forgotten

MIN_BACKOFF_S = 0.5
MAX_BACKOFF_S = 10.0
AMQP_HEARTBEAT_S = 30
DRAIN_TIMEOUT_S = 1.0
# Reading the backlog at start: this long without a message means it has all been read.
CATCH_UP_IDLE_S = 0.2

# An SSE id must be one line; ours are uuid4s, anything odd is refused, not escaped.
MAX_ID_LENGTH = 128

_CLOSED = object()  # wakes a subscription's reader when the subscription is closed


@dataclass(frozen=True)
class StreamEvent:
    """One SSE message for one user; `wire` is its encoding, built once for all streams."""

    id: str
    user_id: str
    name: str
    data: dict
    at: float = 0.0  # monotonic time it reached the hub
    wire: bytes = field(default=b"", repr=False, compare=False)

    @classmethod
    def create(cls, id: str, user_id: str, name: str, data: dict, at: float = 0.0
               ) -> StreamEvent:
        body = json.dumps(data, separators=(",", ":"), ensure_ascii=False)
        wire = f"id: {id}\nevent: {name}\ndata: {body}\n\n".encode()
        return cls(id=id, user_id=normal_user_id(user_id), name=name, data=data, at=at,
                   wire=wire)


def normal_user_id(user_id: str) -> str:
    return str(user_id).strip().lower()


def _valid_id(value: str | None) -> bool:
    return bool(value) and len(value) <= MAX_ID_LENGTH and value.isprintable()


def event_age_s(occurred_at: str | None) -> float:
    """Seconds since an event's `occurred_at` (ISO 8601); 0 when unknown or ahead."""
    try:
        when = datetime.fromisoformat(occurred_at)
    except (TypeError, ValueError):
        return 0.0
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (datetime.now(UTC) - when).total_seconds())


def to_stream_event(event: events.Event, at: float = 0.0) -> StreamEvent | None:
    """The SSE message an event becomes, or None when it is not for the stream.

    an order transition (`order.reserved`, ... `order.cancelled`) -> `order.status`
    {order_id, status, reason};
    `notification.sent` / `notification.failed` (email) -> `notification` {id, kind, subject}.
    The SSE id is the event's event_id.
    """
    if not _valid_id(event.event_id):
        return None
    if isinstance(event, ORDER_STATUS_EVENTS):
        name = "order.status"
        data = {"order_id": event.order_id, "status": event.status, "reason": event.reason}
    elif isinstance(event, events.NotificationSent | events.NotificationFailed):
        if event.channel != "email":  # the SMS twin of a mail would say the same twice
            return None
        name = "notification"
        data = {"id": event.notification_id, "kind": event.kind, "subject": event.subject}
    else:
        return None
    if not event.user_id:  # a notification for no user (an admin alert, say)
        return None
    return StreamEvent.create(event.event_id, event.user_id, name, data, at)


class Subscription:
    """One open stream: what to replay first, then a bounded queue of new messages."""

    def __init__(self, user_id: str, replay: list[StreamEvent], queue_size: int,
                 closed: bool = False, session: str | None = None):
        self.user_id = user_id
        self.session = session  # the token's `sid`: a revoked session ends the stream
        self.replay = replay
        self.closed = closed
        self._queue: LightQueue = LightQueue(queue_size)

    def deliver(self, event: StreamEvent) -> bool:
        """Queue `event`; a reader too slow to keep up is closed (it may reconnect)."""
        if self.closed:
            return False
        try:
            self._queue.put_nowait(event)
            return True
        except Full:
            log.warning("stream of user %s fell %s messages behind: closing it",
                        self.user_id, self._queue.maxsize)
            self.close()
            return False

    def close(self) -> None:
        """End the stream: its reader wakes up and stops."""
        self.closed = True
        # A full queue: the reader is not waiting, it finds `closed` at its next look.
        with contextlib.suppress(Full):
            self._queue.put_nowait(_CLOSED)

    def next(self, timeout: float) -> StreamEvent | None:
        """The next message, or None after `timeout` seconds or once closed."""
        if self.closed:
            return None
        try:
            item = self._queue.get(timeout=max(timeout, 0))
        except Empty:
            return None
        return None if item is _CLOSED or self.closed else item


class EventHub:
    """Per-process fan-out of stream events to their users' open streams, with replay."""

    def __init__(self, feed_factory: Callable[[EventHub], BrokerFeed] | None = None, *,
                 buffer_size: int = DEFAULT_BUFFER_SIZE,
                 buffer_ttl_s: float = DEFAULT_BUFFER_TTL_S,
                 queue_size: int = DEFAULT_QUEUE_SIZE,
                 clock: Callable[[], float] = time.monotonic):
        self.buffer_size = buffer_size
        self.buffer_ttl_s = buffer_ttl_s
        self.queue_size = queue_size
        self.clock = clock
        self._feed_factory = feed_factory
        self.feed: BrokerFeed | None = None
        self._subscribers: dict[str, set[Subscription]] = {}
        self._buffers: dict[str, deque[StreamEvent]] = {}
        self._last_sweep = clock()
        self.closed = False
        # Called with every event off the feed, streamed or not (see add_listener).
        self._listeners: list[Callable[[events.Event], object]] = []

    @classmethod
    def from_config(cls, config: dict) -> EventHub:
        """A hub fed from RabbitMQ (`AMQP_URI`), buffers sized by STREAM_BUFFER_SIZE and
        STREAM_BUFFER_TTL_S (optional keys); the feed starts on `start()`."""
        return cls(lambda hub: BrokerFeed(config["AMQP_URI"], config, hub.publish_payload),
                   buffer_size=int(config.get("STREAM_BUFFER_SIZE", DEFAULT_BUFFER_SIZE)),
                   buffer_ttl_s=float(config.get("STREAM_BUFFER_TTL_S",
                                                 DEFAULT_BUFFER_TTL_S)))

    # --- the feed ---------------------------------------------------------------

    def start(self) -> bool:
        """Start the broker feed if there is one and it is not running; True if it was
        started by this call."""
        if self.closed or self._feed_factory is None or self.feed is not None:
            return False
        self.feed = self._feed_factory(self)
        self.feed.start()
        return True

    def wait_ready(self, timeout: float) -> bool:
        """Wait up to `timeout` s for the feed to have read the stream's backlog (at
        once if it has before, or if there is no feed)."""
        return self.feed is None or self.feed.wait_ready(timeout)

    def close(self) -> None:
        """Stop the feed and end every open stream; later subscriptions start closed."""
        self.closed = True
        if self.feed is not None:
            self.feed.stop()
        for subs in list(self._subscribers.values()):
            for sub in list(subs):
                sub.close()

    # --- streams ----------------------------------------------------------------

    def subscribe(self, user_id: str, last_event_id: str | None = None,
                  session: str | None = None) -> Subscription:
        """Open a stream for `user_id`; its `replay` is what the client missed.

        With `last_event_id` (the client's `Last-Event-ID`) still in the user's buffer,
        `replay` holds the buffered messages after it, oldest first. An id that is
        unknown (never seen here, pushed out of the buffer, older than the TTL, or from
        another gateway process's buffer) replays nothing: the stream carries only what
        is new from now on, and the client should re-read state it cares about (GET
        /orders). Without `last_event_id`, nothing is replayed either.
        """
        user_id = normal_user_id(user_id)
        replay = self._replay(user_id, last_event_id) if last_event_id else []
        sub = Subscription(user_id, replay, self.queue_size, closed=self.closed,
                           session=session)
        if not self.closed:
            self._subscribers.setdefault(user_id, set()).add(sub)
        return sub

    def unsubscribe(self, sub: Subscription) -> None:
        sub.closed = True
        subs = self._subscribers.get(sub.user_id)
        if subs is not None:
            subs.discard(sub)
            if not subs:
                del self._subscribers[sub.user_id]

    def close_sessions(self, sessions: set[str]) -> int:
        """End the streams opened with a token of one of `sessions` (revoked)."""
        ended = [sub for subs in self._subscribers.values() for sub in subs
                 if sub.session in sessions]
        for sub in ended:
            sub.close()
        return len(ended)

    def subscriber_count(self, user_id: str | None = None) -> int:
        if user_id is not None:
            return len(self._subscribers.get(normal_user_id(user_id), ()))
        return sum(len(subs) for subs in self._subscribers.values())

    # --- events -----------------------------------------------------------------

    def add_listener(self, listener: Callable[[events.Event], object]) -> None:
        """Also hand every parsed event off the feed to `listener` (it must not block)."""
        self._listeners.append(listener)

    def publish_payload(self, payload) -> int:
        """Feed callback: one event envelope off the wire; how many streams got it."""
        try:
            event = events.parse(payload)
        except events.InvalidEvent as exc:
            log.warning("stream: ignoring an invalid event: %s", exc)
            return 0
        for listener in self._listeners:
            listener(event)
        # Stamped with its own age, not its arrival: the backlog a feed reads at start is
        # as old as it is, and what is past the TTL is not streamed or buffered at all.
        age = event_age_s(event.occurred_at)
        if age > self.buffer_ttl_s:
            return 0
        message = to_stream_event(event, self.clock() - age)
        return 0 if message is None else self.publish(message)

    def publish(self, message: StreamEvent) -> int:
        """Buffer `message` for its user and queue it on each of their open streams.

        A message whose id is already buffered (a redelivered event) is dropped.
        Returns how many streams it was queued on.
        """
        now = self.clock()
        if not message.at:
            message = dataclasses.replace(message, at=now)
        buffer = self._buffer(message.user_id, now)
        if any(kept.id == message.id for kept in buffer):
            return 0
        buffer.append(message)
        delivered = sum(sub.deliver(message)
                        for sub in list(self._subscribers.get(message.user_id, ())))
        for sub in list(self._subscribers.get(message.user_id, ())):
            if sub.closed:  # fell behind: stop fanning out to it
                self.unsubscribe(sub)
        if now - self._last_sweep >= SWEEP_EVERY_S:
            self._sweep(now)
        return delivered

    def _buffer(self, user_id: str, now: float) -> deque[StreamEvent]:
        buffer = self._buffers.get(user_id)
        if buffer is None:
            buffer = self._buffers[user_id] = deque(maxlen=self.buffer_size)
        while buffer and now - buffer[0].at > self.buffer_ttl_s:
            buffer.popleft()
        return buffer

    def _replay(self, user_id: str, last_event_id: str) -> list[StreamEvent]:
        if user_id not in self._buffers:
            return []
        kept = list(self._buffer(user_id, self.clock()))
        for position, message in enumerate(kept):
            if message.id == last_event_id:
                return kept[position + 1:]
        return []

    def _sweep(self, now: float) -> None:
        """Forget the buffers of users whose newest message is past the TTL."""
        self._last_sweep = now
        for user_id in [u for u, b in self._buffers.items()
                        if not b or now - b[-1].at > self.buffer_ttl_s]:
            del self._buffers[user_id]


class BrokerFeed:
    """A green thread consuming the stream's events from RabbitMQ into `on_payload`."""

    def __init__(self, amqp_uri: str, config: dict, on_payload: Callable[[object], object]):
        self.amqp_uri = amqp_uri
        self.config = config
        self.on_payload = on_payload
        self.queue_name: str | None = None
        self.ttl_s = float(config.get("STREAM_BUFFER_TTL_S", DEFAULT_BUFFER_TTL_S))
        self.next_offset: int | None = None
        self._connected_at: str | None = None
        self._inequivalent = False
        self.connected = False
        self._running = False
        self._thread = None
        self._ready = Signal()

    def queue(self) -> Queue:
        """The shared stream, bound to every subscribed event type, read from the offset
        after the last event this feed saw (at first: STREAM_BUFFER_TTL_S ago)."""
        self.queue_name = STREAM_QUEUE
        bindings = [binding(get_event_exchange(source, self.config), routing_key=event_type)
                    for source, event_type in SUBSCRIBED]
        return Queue(STREAM_QUEUE, bindings=bindings, durable=True, exclusive=False,
                     auto_delete=False, queue_arguments={
                         "x-queue-type": "stream", "x-max-age": f"{max(1, int(self.ttl_s))}s",
                         "x-stream-max-segment-size-bytes": STREAM_SEGMENT_BYTES,
                         "x-max-length-bytes": STREAM_MAX_BYTES},
                     consumer_arguments={"x-stream-offset": self.offset()})

    def offset(self):
        """Where the next read starts: the offset after the last event seen, or a time."""
        if self.next_offset is not None:
            return self.next_offset
        return datetime.now(UTC) - timedelta(seconds=self.ttl_s)

    def start(self) -> None:
        if self._thread is None:
            self._running = True
            self._thread = eventlet.spawn(self._run)

    def stop(self) -> None:
        self._running = False
        thread, self._thread = self._thread, None
        if thread is not None:
            thread.kill()
        self.connected = False

    def _caught_up(self) -> None:
        if not self._ready.ready():
            self._ready.send(True)

    def wait_ready(self, timeout: float) -> bool:
        """Whether the feed has read the stream's backlog (at least once) within
        `timeout` seconds: a subscription made before that could not replay what the
        backlog holds."""
        if not self._ready.ready():
            with eventlet.Timeout(timeout, False):
                self._ready.wait()
        return self._ready.ready()

    def _run(self) -> None:
        backoff = MIN_BACKOFF_S
        while self._running:
            try:
                self._consume()
                backoff = MIN_BACKOFF_S
            except Exception as exc:  # whatever happens: wait, reconnect
                if isinstance(exc, PreconditionFailed) and not self._inequivalent:
                    self._inequivalent = True
                    log.warning("stream feed: %s exists with other arguments (%s): using "
                                "it as it is", STREAM_QUEUE, exc)
                was_connected, self.connected = self.connected, False
                if was_connected:
                    backoff = MIN_BACKOFF_S
                log.warning("stream feed: broker connection failed (%s: %s); retrying in "
                            "%.1fs", type(exc).__name__, exc, backoff)
                eventlet.sleep(backoff * random.uniform(0.8, 1.2))
                backoff = min(backoff * 2, MAX_BACKOFF_S)

    def _declared_queue(self) -> Queue:
        """`queue()`, or the same without declaring it once the broker refused our
        arguments for it (another gateway, or an earlier STREAM_BUFFER_TTL_S, made it
        with other ones: its retention stays theirs, logged, and the feed goes on)."""
        queue = self.queue()
        if self._inequivalent:
            queue.no_declare = True
        return queue

    def _consume(self) -> None:
        # Every address once (our loop retries, not kombu's): a reconnect after the
        # node went away reaches another, and reads on from the next offset.
        with connect(self.amqp_uri, 5, heartbeat=AMQP_HEARTBEAT_S) as conn, conn.Consumer(
                queues=[self._declared_queue()], on_message=self._on_message,
                accept=["json"], no_ack=False, prefetch_count=FEED_PREFETCH):
            self.connected = True
            self._connected_at = datetime.now(UTC).isoformat()
            log.info("stream feed: consuming %s from %s", self.queue_name, self.offset())
            last_beat = time.monotonic()
            while self._running:
                idle = DRAIN_TIMEOUT_S if self._ready.ready() else CATCH_UP_IDLE_S
                try:
                    conn.drain_events(timeout=idle)
                except TimeoutError:  # socket.timeout: nothing came, the backlog is read
                    self._caught_up()
                if time.monotonic() - last_beat >= DRAIN_TIMEOUT_S:
                    conn.heartbeat_check()
                    last_beat = time.monotonic()
        self.connected = False

    def _on_message(self, message) -> None:
        offset = (message.headers or {}).get("x-stream-offset")
        if offset is not None:
            self.next_offset = int(offset) + 1
        try:
            payload = message.decode()
        except Exception as exc:  # a bad message is skipped, not fatal
            log.warning("stream feed: undecodable message skipped (%s)", exc)
        else:
            try:
                self.on_payload(payload)
            except Exception:
                log.exception("stream feed: delivering an event failed")
            occurred = payload.get("occurred_at") if isinstance(payload, dict) else None
            if self._connected_at and isinstance(occurred, str) and \
                    occurred >= self._connected_at:
                self._caught_up()  # an event newer than the connection: past the backlog
        if offset is not None:
            message.ack()  # a stream's ack gives credit for the next message, no more
