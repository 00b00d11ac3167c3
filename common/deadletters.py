"""List, replay and purge a service's dead-letter queue (admin operations).

Dead letters carry the headers written by common.messaging: what failed
(`x-error`), after how many attempts, and the queue to replay into. Replay sends each
message back to that queue alone with its attempt count reset; the handler's inbox
keeps a replayed message that had in fact been processed from acting twice.
"""

from __future__ import annotations

from kombu.messaging import Producer

from common.broker import connect
from common.messaging import (
    ATTEMPTS_HEADER,
    ERROR_HEADER,
    FAILED_AT_HEADER,
    ORIGINAL_QUEUE_HEADER,
    dead_letter_queue,
)

TIMEOUT_S = 5.0


def _describe(message) -> dict:
    body = message.decode() if message.body else None
    headers = message.headers or {}
    payload = body if isinstance(body, dict) else {}
    return {
        "event_type": payload.get("event_type"),
        "event_id": payload.get("event_id"),
        "error": headers.get(ERROR_HEADER),
        "attempts": headers.get(ATTEMPTS_HEADER),
        "queue": headers.get(ORIGINAL_QUEUE_HEADER) or message.delivery_info.get("routing_key"),
        "failed_at": headers.get(FAILED_AT_HEADER),
        "payload": body,
    }


def inspect(config: dict, service: str, limit: int = 100) -> dict:
    """`{count, messages}`: the queue depth and up to `limit` messages, left in place.

    `config`: AMQP_URI and AMQP_QUEUE_TYPE (the queue is declared if missing)."""
    with connect(config["AMQP_URI"], TIMEOUT_S) as conn:
        channel = conn.channel()
        queue = dead_letter_queue(service, config).bind(channel)
        queue.declare()
        messages = []
        # Unacked gets return to the queue when the channel closes, in order.
        while len(messages) < limit:
            message = queue.get(no_ack=False)
            if message is None:
                break
            messages.append(_describe(message))
        count = queue.queue_declare(passive=True).message_count
        channel.close()
    return {"count": count + len(messages), "messages": messages}


def replay(config: dict, service: str) -> int:
    """Send every dead letter back to its handler's queue; return how many.

    Each publish is mandatory and confirmed before its dead letter is acked: a queue
    that cannot take it (gone, its node down) raises, and the letter stays."""
    replayed = 0
    with connect(config["AMQP_URI"], TIMEOUT_S,
                 transport_options={"confirm_publish": True}) as conn:
        channel = conn.channel()
        queue = dead_letter_queue(service, config).bind(channel)
        queue.declare()
        producer = Producer(channel)
        while (message := queue.get(no_ack=False)) is not None:
            headers = {k: v for k, v in (message.headers or {}).items()
                       if k not in (ATTEMPTS_HEADER, ERROR_HEADER, FAILED_AT_HEADER)}
            target = headers.pop(ORIGINAL_QUEUE_HEADER, None) or \
                message.delivery_info.get("routing_key")
            producer.publish(message.body, exchange="", routing_key=target, headers=headers,
                             content_type=message.content_type,
                             content_encoding=message.content_encoding,
                             delivery_mode=2, message_id=message.properties.get("message_id"),
                             mandatory=True)
            message.ack()
            replayed += 1
    return replayed


def purge(config: dict, service: str) -> int:
    """Drop every dead letter of `service`; return how many."""
    with connect(config["AMQP_URI"], TIMEOUT_S) as conn:
        queue = dead_letter_queue(service, config).bind(conn.channel())
        queue.declare()
        return queue.purge() or 0


class DeadLetterAdmin:
    """The three operations bound to one broker, with a deadline (for the gateway).

    A broker that does not answer within `timeout` raises ServiceUnavailable, so an
    admin page never hangs on it.
    """

    def __init__(self, config: dict, timeout: float = 5.0):
        self.config, self.timeout = config, timeout

    def _bounded(self, operation, *args):
        import eventlet

        from common.errors import ServiceUnavailable

        try:
            with eventlet.Timeout(self.timeout):
                return operation(self.config, *args)
        except (eventlet.Timeout, OSError, ConnectionError) as exc:
            raise ServiceUnavailable("message broker unreachable") from exc

    def inspect(self, service: str, limit: int = 100) -> dict:
        return self._bounded(inspect, service, limit)

    def replay(self, service: str) -> int:
        return self._bounded(replay, service)

    def purge(self, service: str) -> int:
        return self._bounded(purge, service)
