"""Entrypoints nameko 2.14 lacks, or gets wrong for us."""

from __future__ import annotations

import logging

import eventlet
import nameko.rpc
from kombu import Queue
from nameko.extensions import Entrypoint

from common.broker import connection_queue_arguments, queue_arguments
from common.messaging import BROKER_ERRORS

log = logging.getLogger(__name__)


class OnStart(Entrypoint):
    """Run the decorated method once when the service starts.

    Start-up work (bootstrapping the admin, seeding) must not depend on the database
    being up the very instant the service is: a failure is logged and retried with a
    growing delay until it succeeds or the service stops.
    """

    def __init__(self, max_delay_s: float = 30.0, **kwargs):
        self.max_delay_s = max_delay_s
        self._delay = 0.5
        self._stopped = False
        super().__init__(**kwargs)

    def start(self):
        self._spawn()

    def stop(self):
        self._stopped = True

    def _spawn(self):
        if not self._stopped:
            self.container.spawn_worker(self, (), {}, handle_result=self._handle_result)

    def _handle_result(self, worker_ctx, result=None, exc_info=None):
        if exc_info is not None and not self._stopped:
            log.warning("%s failed at start, retrying in %.1fs: %s",
                        self.method_name, self._delay, exc_info[1])
            self.container.spawn_managed_thread(self._retry_later)
        return result, exc_info

    def _retry_later(self):
        eventlet.sleep(self._delay)
        self._delay = min(self._delay * 2, self.max_delay_s)
        self._spawn()


on_start = OnStart.decorator


class RpcConsumer(nameko.rpc.RpcConsumer):
    """nameko's consumer of `rpc-<service>`, the queue declared as AMQP_QUEUE_TYPE says
    (nameko declares a classic queue, which a cluster loses with its node)."""

    def setup(self):
        if self.queue is None:
            super().setup()
            queue = self.queue
            self.queue = Queue(queue.name, exchange=queue.exchange,
                               routing_key=queue.routing_key, durable=True,
                               queue_arguments=queue_arguments(self.container.config))


class Rpc(nameko.rpc.Rpc):
    """nameko's @rpc, but a reply the broker cannot take does not kill the service.

    nameko 2.x lets an error while sending an RPC reply (the broker is restarting)
    escape the worker, and the container, then the whole process, dies with it. Here
    it is logged and dropped: the caller's RPC times out, and the request message, not
    acked, comes back after the reconnect; the methods that change state are
    idempotent for exactly that (create_order always carries an idempotency key).
    Its queue has the configured type (RpcConsumer).
    """

    rpc_consumer = RpcConsumer()

    def handle_result(self, message, worker_ctx, result, exc_info):
        try:
            return super().handle_result(message, worker_ctx, result, exc_info)
        except BROKER_ERRORS as exc:
            log.warning("reply to %s lost, the broker is away: %s",
                        worker_ctx.entrypoint.method_name, exc)
            return result, exc_info


rpc = Rpc.decorator


def connection_reply_queue(queue: Queue) -> Queue:
    """nameko's reply queue, made to follow its connection: exclusive, auto-deleted,
    classic. nameko declares a durable one; in a cluster it stays on the node that was
    first connected to, and while that node is down the caller cannot declare it again
    and stalls. An exclusive queue is declared anew on whatever node a reconnect
    reaches (a reply in flight at that moment is lost: the call times out)."""
    return Queue(queue.name, exchange=queue.exchange, routing_key=queue.routing_key,
                 durable=False, exclusive=True, auto_delete=True,
                 queue_arguments=connection_queue_arguments())


class ReplyListener(nameko.rpc.ReplyListener):
    """A service's RPC reply queue, following its connection (connection_reply_queue)."""

    def setup(self):
        super().setup()
        self.queue = connection_reply_queue(self.queue)


class RpcProxy(nameko.rpc.RpcProxy):
    """nameko's RpcProxy, its replies on a queue that follows the connection."""

    rpc_reply_listener = ReplyListener()
