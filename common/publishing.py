"""Publishing a batch of events with one broker round trip.

The outbox relay used nameko's `Publisher` with publisher confirms: each event took a
producer from the pool, a publish and a wait for its confirm, so a batch of n events
cost n round trips. `BatchPublisher` keeps one channel in AMQP transaction mode
(`tx.select`) and publishes the whole batch, then `tx.commit`s it: RabbitMQ answers
`commit-ok` once every message of the batch is routed (and, for durable queues,
persisted), the same guarantee a confirm gives, for one round trip per batch.

    publisher = BatchPublisher(config)
    publisher.publish_batch([OutgoingEvent(payload, exchange, routing_key, headers, id)])
    publisher.close()

Messages are what nameko's own Publisher sends (kombu's serializer, persistent delivery
mode), so nameko consumers cannot tell the difference. Any failure (broker gone, a
commit not answered within `timeout`) raises and drops the connection: the caller
keeps its rows unpublished and retries, and the next batch reconnects.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass

import eventlet
from kombu import Connection, Exchange, Producer
from nameko.constants import (
    AMQP_SSL_CONFIG_KEY,
    DEFAULT_SERIALIZER,
    PERSISTENT,
    SERIALIZER_CONFIG_KEY,
)


class PublishTimeout(Exception):
    """The broker did not commit a batch in time."""


@dataclass(frozen=True)
class OutgoingEvent:
    """One message of a batch."""

    payload: dict
    exchange: Exchange
    routing_key: str
    headers: dict
    message_id: str


class BatchPublisher:
    """One kept connection and channel, in transaction mode, used by one green thread."""

    def __init__(self, config: dict, timeout: float = 10.0):
        self.amqp_uri = config["AMQP_URI"]
        self.ssl = config.get(AMQP_SSL_CONFIG_KEY)  # read as nameko's Publisher reads them
        self.serializer = config.get(SERIALIZER_CONFIG_KEY, DEFAULT_SERIALIZER)
        self.timeout = timeout
        self._connection: Connection | None = None
        self._producer: Producer | None = None

    def publish_batch(self, batch: list[OutgoingEvent]) -> None:
        """Publish every event of `batch`, then commit them all; raise on any failure."""
        if not batch:
            return
        try:
            with eventlet.Timeout(self.timeout, PublishTimeout("batch not committed in time")):
                producer = self._ready_producer()
                for event in batch:
                    producer.publish(
                        event.payload, exchange=event.exchange, routing_key=event.routing_key,
                        headers=event.headers, message_id=event.message_id,
                        delivery_mode=PERSISTENT, serializer=self.serializer,
                        declare=[event.exchange], retry=False)
                producer.channel.tx_commit()
        except BaseException:
            self.close()  # a half-sent transaction is rolled back with its channel
            raise

    def close(self) -> None:
        """Drop the connection (the next batch opens a new one)."""
        connection, self._connection, self._producer = self._connection, None, None
        if connection is not None:
            with contextlib.suppress(Exception):
                connection.release()

    def _ready_producer(self) -> Producer:
        if self._producer is None:
            connection = Connection(self.amqp_uri, ssl=self.ssl,
                                    connect_timeout=self.timeout)
            connection.ensure_connection(max_retries=0)  # fail now; the caller backs off
            channel = connection.channel()
            channel.tx_select()
            self._connection, self._producer = connection, Producer(channel)
        return self._producer
