"""Publishing a batch of events with one broker round trip, none of them lost unseen.

`BatchPublisher` keeps one channel in publisher-confirm mode, publishes the whole batch
with the `mandatory` flag, then waits for the broker's confirms: one round trip per
batch, not one per event. A message counts as taken only when the broker acked it and
did not return it. It returns a message no queue took (`basic.return`: with our
alternate exchange on every `*.events` exchange, that means a queue that exists but
could not take it, such as a classic queue whose node is down), and nacks one a queue
refused (a quorum queue without a majority, a full queue): AMQP transactions, used
here before, answered `commit-ok` for both, and the event was lost without an error.

    publisher = BatchPublisher(config)
    refused = publisher.publish_batch([OutgoingEvent(payload, exchange, key, headers, id)])
    publisher.close()

`refused` holds the message ids the broker did not take; the caller keeps them to send
again. Messages are what nameko's own Publisher sends (kombu's serializer, persistent
delivery mode), so nameko consumers cannot tell the difference. A broker that is gone,
or confirms not all answered within `timeout`, raises and drops the connection: the
caller keeps the whole batch and retries, and the next batch reconnects (to the next
address of a `;`-separated AMQP_URI when this one is down: common.broker).
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass

import eventlet
from kombu import Exchange, Producer
from nameko.constants import (
    AMQP_SSL_CONFIG_KEY,
    DEFAULT_SERIALIZER,
    PERSISTENT,
    SERIALIZER_CONFIG_KEY,
)

from common.broker import connect


class PublishTimeout(Exception):
    """The broker did not confirm a batch in time."""


@dataclass(frozen=True)
class OutgoingEvent:
    """One message of a batch."""

    payload: dict
    exchange: Exchange
    routing_key: str
    headers: dict
    message_id: str


class BatchPublisher:
    """One kept connection and channel, in confirm mode, used by one green thread."""

    def __init__(self, config: dict, timeout: float = 10.0):
        self.amqp_uri = config["AMQP_URI"]
        self.ssl = config.get(AMQP_SSL_CONFIG_KEY)  # read as nameko's Publisher reads them
        self.serializer = config.get(SERIALIZER_CONFIG_KEY, DEFAULT_SERIALIZER)
        self.timeout = timeout
        self._connection = None
        self._producer: Producer | None = None
        self._confirms: BatchConfirms | None = None

    def publish_batch(self, batch: list[OutgoingEvent]) -> set[str]:
        """Publish every event of `batch` (mandatory) and wait for their confirms.

        Returns the message ids the broker returned or nacked (empty: all taken).
        Raises on a broker failure or a confirm not answered in time: then nothing of
        the batch may be taken as sent.
        """
        if not batch:
            return set()
        try:
            with eventlet.Timeout(self.timeout, PublishTimeout("batch not confirmed in time")):
                producer = self._ready_producer()
                confirms = self._confirms
                confirms.expect([event.message_id for event in batch])
                for event in batch:
                    producer.publish(
                        event.payload, exchange=event.exchange, routing_key=event.routing_key,
                        headers=event.headers, message_id=event.message_id,
                        delivery_mode=PERSISTENT, serializer=self.serializer,
                        declare=[event.exchange], mandatory=True, retry=False)
                while not confirms.complete():
                    self._connection.drain_events(timeout=self.timeout)
                return confirms.refused()
        except BaseException:
            self.close()
            raise

    def close(self) -> None:
        """Drop the connection (the next batch opens a new one)."""
        connection, self._connection, self._producer = self._connection, None, None
        if connection is not None:
            with contextlib.suppress(Exception):
                connection.release()

    def _ready_producer(self) -> Producer:
        if self._producer is None:
            connection = connect(self.amqp_uri, self.timeout, ssl=self.ssl)
            channel = connection.channel()
            channel.confirm_select()
            self._confirms = BatchConfirms(channel)
            self._connection, self._producer = connection, Producer(channel)
        return self._producer


class BatchConfirms:
    """The broker's answers to one batch on a confirm-mode channel.

    Delivery tags count up from 1 for the channel's life; a batch's messages hold the
    next n tags, in publish order. RabbitMQ sends a message's `basic.return` before
    its ack, and may ack or nack several at once (`multiple`).
    """

    def __init__(self, channel):
        self._next_tag = 1
        self._tags: dict[int, str] = {}
        self._pending: set[int] = set()
        self._refused: set[str] = set()
        channel.events["basic_ack"].add(self._on_ack)
        channel.events["basic_nack"].add(self._on_nack)
        channel.events["basic_return"].add(self._on_return)

    def expect(self, message_ids: list[str]) -> None:
        tags = range(self._next_tag, self._next_tag + len(message_ids))
        self._next_tag += len(message_ids)
        self._tags = dict(zip(tags, message_ids, strict=True))
        self._pending = set(tags)
        self._refused = set()

    def complete(self) -> bool:
        return not self._pending

    def refused(self) -> set[str]:
        return set(self._refused)

    def _settled(self, tag: int, multiple: bool) -> set[int]:
        settled = {t for t in self._pending if t <= tag} if multiple else {tag}
        self._pending -= settled
        return settled

    def _on_ack(self, tag, multiple):
        self._settled(tag, multiple)

    def _on_nack(self, tag, multiple):
        self._refused.update(self._tags[t] for t in self._settled(tag, multiple)
                             if t in self._tags)

    def _on_return(self, exc, exchange, routing_key, message):
        message_id = message.properties.get("message_id")
        if message_id is not None:
            self._refused.add(message_id)
