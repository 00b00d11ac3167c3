"""Batched consumption: one worker, one transaction, for what a queue has waiting.

    @batch_event_handler("payment_svc", "payment.succeeded")
    def on_payment_succeeded(self, batch: list[events.PaymentSucceeded]):
        for event in sorted(batch, key=lambda e: e.order_id):   # locks in key order
            ...
        self.db.commit()

Handled one by one, each event costs a worker (its dependencies set up and torn
down), a transaction (BEGIN, COMMIT) and a wake-up of the outbox relay. Under load a
saga's events wait in their queue anyway; a batch handler takes the ones waiting
together:

* deliveries come on the batch handlers' own AMQP connection and channel
  (`BatchConsumer`), with a prefetch of EVENT_BATCH_MAX per queue; each is parsed as
  `common.messaging.event_handler` does (a message that does not parse is
  dead-lettered at once) and buffered;
* a loop per handler takes a slot of the service's event budget (the one every
  event handler shares, so RPC keeps its reserved workers), then everything buffered,
  up to EVENT_BATCH_MAX, and runs one worker with the list. Nothing waits on purpose:
  a lone event is a batch of one at once; batches grow only while every slot is busy,
  which is when they pay;
* the worker's success acks each message (after the handler's commit: a crash in
  between redelivers them, and the inbox makes that a no-op). Acks carry no reply,
  so one per message costs a frame, not a round trip; `multiple=True` would also ack
  the other queues' messages on the shared channel;
* a failed batch of more than one is re-run message by message, each a batch of one
  in a worker of its own, whose failure is retried or dead-lettered exactly as
  `event_handler` does: one bad event never holds back or dead-letters its neighbours.
"""

from __future__ import annotations

import logging
from functools import partial
from queue import Empty

from eventlet.queue import LightQueue
from nameko.messaging import QueueConsumer

from common.messaging import Delivery, EventBudget, ReliableEventHandler, describe_error

log = logging.getLogger(__name__)

DEFAULT_BATCH_MAX = 32


def batch_max(config) -> int:
    """EVENT_BATCH_MAX: the most deliveries one batch takes (and each queue's prefetch)."""
    size = int(config.get("EVENT_BATCH_MAX", DEFAULT_BATCH_MAX))
    if size < 1:
        raise ValueError("EVENT_BATCH_MAX must be at least 1")
    return size


def take_batch(buffer: LightQueue, first: Delivery, most: int) -> list[Delivery]:
    """`first` and what else `buffer` holds right now, `most` in all."""
    batch = [first]
    while len(batch) < most:
        try:
            batch.append(buffer.get_nowait())
        except Empty:
            break
    return batch


class BatchConsumer(QueueConsumer):
    """The batch handlers' connection and channel: prefetch EVENT_BATCH_MAX per queue,
    so a batch can be as large as that; the worker budget is the service's one."""

    budget = EventBudget()

    @property
    def prefetch_count(self):
        return batch_max(self.container.config)


class BatchEventHandler(ReliableEventHandler):
    """`event_handler` whose method gets a list of events (see module doc)."""

    queue_consumer = BatchConsumer()

    def setup(self):
        super().setup()
        self.most = batch_max(self.container.config)
        self.buffer = LightQueue()

    def start(self):
        super().start()
        self.container.spawn_managed_thread(
            self._take_batches, identifier=f"{type(self).__name__}.take_batches")

    def handle_message(self, body, message):
        delivery = self.accept(body, message)
        if delivery is not None:
            self.buffer.put(delivery)

    def _take_batches(self):
        slots = self.queue_consumer.budget.slots
        while True:
            first = self.buffer.get()
            slots.acquire()  # while every slot is busy, the buffer fills
            self._run(take_batch(self.buffer, first, self.most), self._settle_batch)

    def _run(self, batch: list[Delivery], settle) -> None:
        """Run the method on the batch's events (a slot held: `spawn` releases it)."""
        self.spawn(batch, ([d.event for d in batch],), partial(settle, batch))

    def _settle_batch(self, batch, worker_ctx, result=None, exc_info=None):
        if exc_info is None:
            for delivery in batch:
                self._ack(delivery.message)
        elif len(batch) == 1:
            self._settle_one(batch, worker_ctx, result, exc_info)
        else:
            log.warning("a batch of %d %s failed (%s): handling them one by one",
                        len(batch), self.event_type, describe_error(exc_info[1]))
            self.container.spawn_managed_thread(partial(self._one_by_one, batch))
        return result, exc_info

    def _one_by_one(self, batch: list[Delivery]) -> None:
        for delivery in batch:
            self.queue_consumer.budget.slots.acquire()
            self._run([delivery], self._settle_one)

    def _settle_one(self, batch, worker_ctx, result=None, exc_info=None):
        (delivery,) = batch
        return self.handle_result(delivery.message, delivery.body, delivery.attempt,
                                  worker_ctx, result, exc_info)


batch_event_handler = BatchEventHandler.decorator
