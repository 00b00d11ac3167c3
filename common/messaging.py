"""The event handler every service uses: durable, retried, dead-lettered.

Plain nameko acknowledges a message whose handler raised, so the event is lost.
`event_handler` (this module's) instead:

* consumes a durable queue declared with `x-dead-letter-exchange` = `<service>.dlx`;
* hands the method a parsed, typed event (common.events); a payload that does not
  parse is dead-lettered at once, since no retry can fix it;
* on an error, republishes the message (publisher confirms, then ack) to a TTL
  retry queue `<queue>.retry.<ms>ms` that dead-letters back into `<queue>` alone
  when the delay is over; the delay grows with the attempt (EVENT_RETRY_DELAYS_MS);
* counts attempts in its own `x-attempts` header (not `x-death`, which RabbitMQ
  resets and merges), and after EVENT_MAX_ATTEMPTS, or at once for a
  `NonRetryable` error, sends the message to `<service>.dead-letters` with
  `x-error`, `x-attempts` and `x-original-queue` headers (common.deadletters
  lists, replays and purges them).
* consumes on its own AMQP connection and channel (`EventConsumer`), and runs at most
  `max_workers - RPC_RESERVED_WORKERS` handlers at once, so the RPC entrypoints of the
  service always find a free worker: a POST /orders does not queue behind the saga's
  events. nameko 2.14 puts every entrypoint's queue on one channel, with a prefetch
  of `max_workers` per queue, and every message then waits, first come first served,
  for a slot of the one worker pool: an RPC that arrived after a burst of events
  waited for all of them.

    @event_handler("order_svc", "order.created")
    def reserve_stock(self, event: events.OrderCreated): ...
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial

from amqp.exceptions import ConnectionError as AmqpConnectionError
from amqp.exceptions import RecoverableConnectionError
from eventlet.semaphore import Semaphore
from kombu import Exchange, Queue
from kombu.exceptions import OperationalError as KombuOperationalError
from kombu.message import Message
from nameko.constants import HEADER_PREFIX
from nameko.events import SERVICE_POOL, EventHandler
from nameko.exceptions import ContainerBeingKilled
from nameko.extensions import SharedExtension
from nameko.messaging import QueueConsumer

from common import events
from common.broker import connect, queue_arguments
from common.logging import CORRELATION_KEY
from common.publishing import BatchPublisher, OutgoingEvent

log = logging.getLogger(__name__)

ATTEMPTS_HEADER = "x-attempts"
ERROR_HEADER = "x-error"
ORIGINAL_QUEUE_HEADER = "x-original-queue"
FAILED_AT_HEADER = "x-failed-at"
MAX_ERROR_CHARS = 2000

BROKER_ERRORS = (OSError, ConnectionError, AmqpConnectionError, RecoverableConnectionError,
                 KombuOperationalError)

DEFAULT_MAX_ATTEMPTS = 6
# The first retry is quick: most failures are an event overtaking the one it needs.
DEFAULT_RETRY_DELAYS_MS = (250, 1000, 5000, 30000, 120000)
# Worker slots of max_workers that event handlers leave to RPC (and timers).
DEFAULT_RPC_RESERVED_WORKERS = 3


# The default exchange: a message goes to the one queue its routing key names.
DEFAULT_EXCHANGE = Exchange("")


class Undeliverable(Exception):
    """The broker returned or refused a retry or dead letter (no queue took it)."""


class NonRetryable(Exception):
    """Raise (or subclass) in a handler for a failure no retry can fix."""


def dead_letter_exchange(service: str) -> Exchange:
    return Exchange(f"{service}.dlx", type="topic", durable=True)


def dead_letter_queue(service: str, config: dict) -> Queue:
    """The service's one dead-letter queue; routing keys are the original queue names."""
    return Queue(f"{service}.dead-letters", exchange=dead_letter_exchange(service),
                 routing_key="#", durable=True, queue_arguments=queue_arguments(config))


def retry_queue(queue_name: str, delay_ms: int, config: dict) -> Queue:
    """A TTL queue whose expired messages go back to `queue_name` only."""
    return Queue(f"{queue_name}.retry.{delay_ms}ms", durable=True, queue_arguments=(
        queue_arguments(config, {
            "x-message-ttl": delay_ms,
            "x-dead-letter-exchange": "",
            "x-dead-letter-routing-key": queue_name,
        }, dead_letters=True)))


def event_queue(name: str, exchange: Exchange, event_type: str, service: str,
                config: dict) -> Queue:
    """A handler's durable queue, dead-lettering into the service's dead-letter exchange.

    Arguments of an existing queue cannot change (PRECONDITION_FAILED): these are
    declared from the first release on, the type since AMQP_QUEUE_TYPE (common.queues
    moves an older vhost's queues to it)."""
    return Queue(name, exchange=exchange, routing_key=event_type, durable=True,
                 auto_delete=False, exclusive=False, queue_arguments=queue_arguments(
                     config, {"x-dead-letter-exchange": dead_letter_exchange(service).name,
                              "x-dead-letter-routing-key": name}))


def describe_error(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"[:MAX_ERROR_CHARS]


def event_worker_budget(max_workers: int, rpc_reserved: int) -> int:
    """Handlers a service runs at once: what RPC leaves, at least one."""
    return max(1, max_workers - rpc_reserved)


class EventBudget(SharedExtension):
    """The service's event worker budget: `max_workers - RPC_RESERVED_WORKERS` slots,
    one semaphore shared by every event handler of the container, batched or not."""

    def setup(self):
        reserved = int(self.container.config.get(
            "RPC_RESERVED_WORKERS", DEFAULT_RPC_RESERVED_WORKERS))
        self.size = event_worker_budget(self.container.max_workers, reserved)
        self.slots = Semaphore(self.size)


class EventConsumer(QueueConsumer):
    """The event handlers' own connection and channel, and their worker budget.

    A separate shared extension (nameko shares by class), so its own AMQP connection:
    RPC requests never wait behind event deliveries on a socket or a channel. Each event
    queue's prefetch is the budget: every message delivered can be handled as soon as
    a slot frees, and no process hoards more than it can run.
    """

    budget = EventBudget()

    @property
    def prefetch_count(self):
        return self.budget.size


@dataclass(frozen=True)
class Delivery:
    """A message taken from an event queue, its event parsed."""

    event: events.Event
    body: object
    message: Message
    attempt: int  # this delivery's attempt, counted in the x-attempts header
    context_data: dict


class ReliableEventHandler(EventHandler):
    """nameko's EventHandler with retries and a dead-letter queue, on the event
    handlers' own consumer and worker budget (see module doc)."""

    queue_consumer = EventConsumer()

    def __init__(self, source_service, event_type, handler_type=SERVICE_POOL,
                 non_retryable=(), max_attempts=None, retry_delays_ms=None, **kwargs):
        super().__init__(source_service, event_type, handler_type=handler_type,
                         reliable_delivery=True, requeue_on_error=False, **kwargs)
        self.non_retryable = (NonRetryable, events.InvalidEvent, *non_retryable)
        self._max_attempts = max_attempts
        self._retry_delays_ms = retry_delays_ms

    def setup(self):
        super().setup()
        config = self.container.config
        service = self.container.service_name
        self.max_attempts = int(self._max_attempts or config.get(
            "EVENT_MAX_ATTEMPTS", DEFAULT_MAX_ATTEMPTS))
        self.retry_delays_ms = [int(d) for d in (self._retry_delays_ms or config.get(
            "EVENT_RETRY_DELAYS_MS", DEFAULT_RETRY_DELAYS_MS))]
        name = self.queue.name
        self.dlx = dead_letter_exchange(service)
        self.queue = event_queue(name, self.queue.exchange, self.event_type, service, config)
        self.retry_queues = [retry_queue(name, d, config)
                             for d in sorted(set(self.retry_delays_ms))]
        # Mandatory and confirmed: a retry or dead letter no queue took raises, and the
        # original is requeued instead of acked (`_settle`). Our batch publisher, one
        # message at a time: it matches each confirm to its message, where nameko's
        # Publisher, after a basic.return, would take the returned message's ack for
        # the next one's.
        self.publisher = BatchPublisher(config)
        self._publishing = Semaphore(1)
        with connect(config["AMQP_URI"], timeout=10) as conn:
            channel = conn.channel()
            for entity in (self.dlx, dead_letter_queue(service, config), *self.retry_queues):
                entity.bind(channel).declare()

    def unpack_message_headers(self, message):
        # Only nameko's own context travels on; our retry headers stay on the message.
        prefix = f"{HEADER_PREFIX}."
        return {key[len(prefix):]: value for key, value in message.headers.items()
                if key.startswith(prefix)}

    def handle_message(self, body, message):
        delivery = self.accept(body, message)
        if delivery is not None:
            self.queue_consumer.budget.slots.acquire()  # this delivery's thread waits
            self.spawn([delivery], (delivery.event,), partial(
                self.handle_result, message, body, delivery.attempt))

    def accept(self, body, message) -> Delivery | None:
        """The delivery with its event parsed, or None: a message that does not parse
        is dead-lettered at once, since no retry can fix it."""
        attempt = int(message.headers.get(ATTEMPTS_HEADER, 0)) + 1
        try:
            event = events.parse(body)
            if self.event_type != event.TYPE:
                raise events.InvalidEvent(f"expected {self.event_type}, got {event.TYPE}")
        except events.InvalidEvent as exc:
            log.error("dead-lettering invalid %s message: %s", self.event_type, exc)
            self._settle(message, body, partial(self._dead_letter, attempt, exc))
            return None
        context_data = self.unpack_message_headers(message)
        if event.correlation_id:
            context_data.setdefault(CORRELATION_KEY, event.correlation_id)
        return Delivery(event, body, message, attempt, context_data)

    def spawn(self, deliveries: list[Delivery], args: tuple, handle_result) -> None:
        """Run the method on `args` in a worker, a slot of the budget held by the
        caller (so the calling thread waited for it, not the worker pool); the slot is
        released when the worker ends. If the container is being killed, the
        deliveries go back to the queue."""
        slots = self.queue_consumer.budget.slots
        try:
            worker_ctx = self.container.spawn_worker(
                self, args, {}, context_data=deliveries[0].context_data,
                handle_result=handle_result)
        except ContainerBeingKilled:
            slots.release()
            for delivery in deliveries:
                self._requeue(delivery.message)
            return
        except BaseException:
            slots.release()
            raise
        # The slot is free once the worker has ended, its teardown included (nameko
        # keeps each worker's green thread by its context until then).
        thread = self.container._worker_threads.get(worker_ctx)
        if thread is None:
            slots.release()
        else:
            thread.link(lambda _thread: slots.release())

    def handle_result(self, message, body, attempt, worker_ctx, result=None, exc_info=None):
        if exc_info is None:
            self._ack(message)
            return result, exc_info
        exc = exc_info[1]
        if isinstance(exc, self.non_retryable) or attempt >= self.max_attempts:
            log.error("dead-lettering %s after %d attempt(s): %s",
                      self.event_type, attempt, describe_error(exc))
            self._settle(message, body, partial(self._dead_letter, attempt, exc))
        else:
            self._settle(message, body, partial(self._schedule_retry, attempt, exc))
        return result, exc_info

    def _ack(self, message):
        # The broker may be gone (restarting): the message comes back after the
        # reconnect, and the handler's inbox makes the second delivery a no-op. An error
        # here must not escape: nameko would kill the whole service for it.
        try:
            self.queue_consumer.ack_message(message)
        except BROKER_ERRORS as exc:
            log.warning("could not ack a %s message, it will come again: %s",
                        self.event_type, exc)

    def _requeue(self, message):
        try:
            self.queue_consumer.requeue_message(message)
        except BROKER_ERRORS as exc:
            log.warning("could not requeue a %s message, it will come again: %s",
                        self.event_type, exc)

    def _settle(self, message, body, republish):
        """Republish a copy (confirmed), then ack; if that fails, requeue the original."""
        try:
            republish(message, body)
        except Exception as exc:
            log.warning("could not republish %s message, requeueing: %s",
                        self.event_type, exc)
            self._requeue(message)
        else:
            self._ack(message)

    def stop(self):
        super().stop()
        self.publisher.close()

    def _schedule_retry(self, attempt, exc, message, body):
        delay = self.retry_delays_ms[min(attempt - 1, len(self.retry_delays_ms) - 1)]
        headers = {**message.headers, ATTEMPTS_HEADER: attempt,
                   ERROR_HEADER: describe_error(exc)}
        self._publish(body, DEFAULT_EXCHANGE, f"{self.queue.name}.retry.{delay}ms", headers,
                      message)

    def _dead_letter(self, attempt, exc, message, body):
        headers = {**message.headers, ATTEMPTS_HEADER: attempt,
                   ERROR_HEADER: describe_error(exc),
                   ORIGINAL_QUEUE_HEADER: self.queue.name,
                   FAILED_AT_HEADER: datetime.now(UTC).isoformat()}
        self._publish(body, self.dlx, self.queue.name, headers, message)

    def _publish(self, body, exchange: Exchange, routing_key: str, headers: dict, message):
        """Publish one message, mandatory and confirmed; raise if no queue took it."""
        # Every event of ours has an id; one without gets one, which the confirms and
        # returns are matched by.
        message_id = message.properties.get("message_id") or str(uuid.uuid4())
        with self._publishing:
            refused = self.publisher.publish_batch([OutgoingEvent(
                body, exchange, routing_key, headers, message_id)])
        if refused:
            raise Undeliverable(f"the broker took no {self.event_type} message for "
                                f"{routing_key}")


event_handler = ReliableEventHandler.decorator
